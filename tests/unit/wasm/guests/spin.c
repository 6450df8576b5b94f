// Test guest: runs until it is stopped (its timeout, or a killed server).
// The volatile counter keeps the loop from being optimised away.
int main(void) {
  volatile unsigned long spins = 0;
  for (;;) spins = spins + 1;
}
