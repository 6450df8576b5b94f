// Test guest: a global counter incremented once per run. If any state
// leaked between invocations, a later run would print more than 1.
#include <stdio.h>

static int runs = 0;
static char scratch[1 << 16];

int main(void) {
  runs += 1;
  scratch[runs] += 1;
  printf("%d %d\n", runs, scratch[runs]);
  return 0;
}
