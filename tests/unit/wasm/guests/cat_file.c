// Test guest: prints the file named by its first argument (reachable only
// through a preopened directory), or why it cannot.
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cat_file PATH\n");
    return 2;
  }
  FILE* f = fopen(argv[1], "r");
  if (f == NULL) {
    printf("cannot open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  fclose(f);
  return 0;
}
