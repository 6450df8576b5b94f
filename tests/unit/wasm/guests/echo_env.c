// Test guest: echoes stdin, then its arguments and the environment variables
// whose names start with "NEBULA_" or "REQUEST_", one per line.
#include <stdio.h>
#include <string.h>

extern char** environ;

int main(int argc, char** argv) {
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
  for (int i = 1; i < argc; ++i) printf("\narg:%s", argv[i]);
  for (char** e = environ; *e != NULL; ++e) {
    if (strncmp(*e, "NEBULA_", 7) == 0 || strncmp(*e, "REQUEST_", 8) == 0) printf("\nenv:%s", *e);
  }
  fprintf(stderr, "echo_env done\n");
  return 0;
}
