// Test guest: allocates and touches 1 MiB blocks until malloc fails. Under
// Nebula's memory limit the refused growth stops the guest (outcome memory)
// before malloc can return NULL; without a limit it reports the total.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Each block links to the previous one, so the compiler cannot drop the
// allocations as unused.
static void* volatile newest = NULL;

int main(void) {
  size_t total = 0;
  for (;;) {
    char* block = malloc(1 << 20);
    if (block == NULL) break;
    memset(block, 1, 1 << 20);
    *(void**)block = newest;
    newest = block;
    total += 1;
  }
  printf("allocated %zu MiB before malloc failed\n", total);
  return 1;
}
