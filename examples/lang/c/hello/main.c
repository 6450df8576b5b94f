// A Nebula function: the request body arrives on stdin, the answer goes to
// stdout, logs to stderr. Exit 0 on success, 1 when the function cannot do
// its job, 2 for bad input (with what to send instead on stderr); any
// non-zero exit makes the invocation fail with the stderr tail in the
// error.
#include <stdio.h>

enum { kMaxName = 100 };

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int main(void) {
  char buf[kMaxName + 64];
  size_t len = fread(buf, 1, sizeof buf, stdin);
  if (ferror(stdin)) {
    fputs("hello: cannot read stdin\n", stderr);
    return 1;
  }
  size_t begin = 0;
  size_t end = len;
  while (begin < end && is_space(buf[begin])) ++begin;
  while (end > begin && is_space(buf[end - 1])) --end;
  if (end - begin > kMaxName || (len == sizeof buf && fgetc(stdin) != EOF)) {
    fprintf(stderr, "hello: the name is longer than %d bytes; send a short name, e.g. \"Ada\"\n",
            kMaxName);
    return 2;
  }
  for (size_t i = begin; i < end; ++i) {
    unsigned char c = (unsigned char)buf[i];
    if (c < 0x20 || c == 0x7f) {
      fputs("hello: the name contains a control character; send one line of text, e.g. \"Ada\"\n",
            stderr);
      return 2;
    }
  }
  const char* name = begin == end ? "World" : buf + begin;
  int name_len = begin == end ? 5 : (int)(end - begin);
  fprintf(stderr, "hello: greeting %.*s\n", name_len, name);
  printf("Hello, %.*s!\n", name_len, name);
  return fflush(stdout) == 0 ? 0 : 1;
}
