// hello: the smallest Nebula function.
//
// Input:  an optional name (surrounding whitespace is ignored, at most 100
//         bytes, no control characters).
// Output: "Hello, <name>!" or, for an empty body, "Hello, World!".
// Logs one line on stderr so that log capture can be seen end to end.
#include <stdio.h>

#include "nebula_fn.h"

static const char kName[] = "hello";
static const char kTooLong[] = "send a short name, e.g. \"Ada\"";

enum { kMaxName = 100 };

int main(void) {
  // More than allowed even with some whitespace around, so that "too long"
  // can be told apart. The name is text, not numbers: nebula_fn_read_input
  // does not fit.
  char buf[kMaxName + 64];
  size_t len = fread(buf, 1, sizeof buf, stdin);
  if (ferror(stdin)) return nebula_fn_fail(kName, "cannot read stdin");
  if (len == sizeof buf && fgetc(stdin) != EOF) {
    return nebula_fn_bad_input(kName, kTooLong, "the name is longer than %d bytes", kMaxName);
  }

  size_t begin = 0;
  size_t end = len;
  while (begin < end && nebula_fn_is_space(buf[begin])) ++begin;
  while (end > begin && nebula_fn_is_space(buf[end - 1])) --end;
  const char* name = buf + begin;
  size_t name_len = end - begin;

  if (name_len > kMaxName) {
    return nebula_fn_bad_input(kName, kTooLong, "the name is longer than %d bytes", kMaxName);
  }
  for (size_t i = 0; i < name_len; ++i) {
    unsigned char c = (unsigned char)name[i];
    if (c < 0x20 || c == 0x7f) {
      return nebula_fn_bad_input(kName, "send one line of text, e.g. \"Ada\"",
                                 "the name contains a control character");
    }
  }
  if (name_len == 0) {
    name = "World";
    name_len = 5;
  }

  fprintf(stderr, "%s: greeting %.*s\n", kName, (int)name_len, name);
  printf("Hello, %.*s!\n", (int)name_len, name);
  return nebula_fn_flush_stdout();
}
