// echo: returns the request body unchanged, byte for byte.
//
// Input:  any bytes, including none and including binary data.
// Output: the same bytes.
// The body is streamed through a fixed buffer, so memory use does not grow
// with the body's size; the platform's max_input_bytes bounds the work.
#include <stdio.h>

#include "nebula_fn.h"

static const char kName[] = "echo";

int main(void) {
  static char buf[64 * 1024];
  for (;;) {
    size_t n = fread(buf, 1, sizeof buf, stdin);
    if (n > 0 && fwrite(buf, 1, n, stdout) != n) {
      return nebula_fn_fail(kName, "cannot write stdout");
    }
    if (n < sizeof buf) break;
  }
  if (ferror(stdin)) return nebula_fn_fail(kName, "cannot read stdin");
  if (fflush(stdout) != 0) return nebula_fn_fail(kName, "cannot write stdout");
  return 0;
}
