// hello: the smallest Nebula function.
//
// Input:  an optional name (surrounding whitespace is ignored, at most 100
//         bytes, no control characters).
// Output: "Hello, <name>!" or, for an empty body, "Hello, World!".
// Logs one line on stderr so that log capture can be seen end to end.
#include <stdio.h>
#include <string.h>

enum { kMaxName = 100 };

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int main(void) {
  // One byte more than allowed, so that "too long" can be told apart.
  char buf[kMaxName + 64];
  size_t len = fread(buf, 1, sizeof buf, stdin);
  if (ferror(stdin)) {
    fputs("hello: cannot read stdin\n", stderr);
    return 1;
  }
  if (len == sizeof buf && fgetc(stdin) != EOF) {
    fprintf(stderr, "hello: the name is longer than %d bytes; send a short name, e.g. \"Ada\"\n",
            kMaxName);
    return 2;
  }

  size_t begin = 0;
  size_t end = len;
  while (begin < end && is_space((unsigned char)buf[begin])) ++begin;
  while (end > begin && is_space((unsigned char)buf[end - 1])) --end;
  const char* name = buf + begin;
  size_t name_len = end - begin;

  if (name_len > kMaxName) {
    fprintf(stderr, "hello: the name is longer than %d bytes; send a short name, e.g. \"Ada\"\n",
            kMaxName);
    return 2;
  }
  for (size_t i = 0; i < name_len; ++i) {
    unsigned char c = (unsigned char)name[i];
    if (c < 0x20 || c == 0x7f) {
      fputs("hello: the name contains a control character; send one line of text, e.g. \"Ada\"\n",
            stderr);
      return 2;
    }
  }
  if (name_len == 0) {
    name = "World";
    name_len = 5;
  }

  fprintf(stderr, "hello: greeting %.*s\n", (int)name_len, name);
  printf("Hello, %.*s!\n", (int)name_len, name);
  return fflush(stdout) == 0 ? 0 : 1;
}
