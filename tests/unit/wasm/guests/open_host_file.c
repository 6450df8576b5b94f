// Test guest: tries to read a host file. Without a preopened directory the
// guest has no filesystem at all, so fopen must fail; prints what happened.
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  FILE* f = fopen("/etc/passwd", "r");
  if (f != NULL) {
    printf("opened /etc/passwd\n");
    fclose(f);
    return 1;
  }
  printf("denied: %s\n", strerror(errno));
  return 0;
}
