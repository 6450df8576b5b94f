// nebula_fn.h: what the example functions share.
//
// A function reads its request body from stdin, answers on stdout and logs
// on stderr; its exit code is 0 on success, 1 when it cannot do its job and
// 2 for bad input, with "<name>: <problem>; <usage>" on stderr. The numeric
// examples take whitespace-separated decimal numbers with bounds; this header
// reads, splits and parses them, and holds the seeded generator that makes
// the Monte Carlo answers the same on every target.
//
// Header-only, in the common subset of C17 and C++20, so that each example
// stays one source file built alike for wasm32-wasi and native. Everything is
// `static inline`, nothing allocates and nothing uses iostream: a wasm module
// carries its own copy of whatever it calls, and only that. The functions
// are single-threaded, like the examples (nebula_fn_shown returns a static
// buffer).
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- Messages ----

// Reports "<name>: <problem>" on stderr and returns 1, the exit code of a
// function that could not do its job. fputs rather than fprintf: `echo` and
// the like then link no printf at all.
static inline int nebula_fn_fail(const char* name, const char* problem) {
  fputs(name, stderr);
  fputs(": ", stderr);
  fputs(problem, stderr);
  fputs("\n", stderr);
  return 1;
}

// Reports "<name>: <problem>; <usage>" on stderr, the problem formatted by
// printf from `fmt`, and returns 2, the exit code for bad input. `usage` says
// what to send instead. Declared apart from its definition, which cannot
// carry the attribute: the compiler checks every call's arguments against
// `fmt`, as for printf.
static inline int nebula_fn_bad_input(const char* name, const char* usage, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int nebula_fn_bad_input(const char* name, const char* usage, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", name);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "; %s\n", usage);
  va_end(ap);
  return 2;
}

// A token made safe to quote in a message: at most 32 bytes, unprintable
// bytes shown as '?', and "..." after a cut. The result lives in a static
// buffer until the next call, so quote one token per message.
static inline const char* nebula_fn_shown(const char* tok, size_t len) {
  static char out[32 + 3 + 1];
  size_t n = len < 32 ? len : 32;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = tok[i];
    out[i] = c >= 0x20 && c < 0x7f ? tok[i] : '?';
  }
  if (len > n) {
    out[n++] = '.';
    out[n++] = '.';
    out[n++] = '.';
  }
  out[n] = '\0';
  return out;
}

// Whitespace as isspace sees it in the C locale: what separates tokens and
// what is trimmed around text.
static inline int nebula_fn_is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Returns the exit code for an answer already printed: 0, or 1 when stdout
// cannot be written (a closed pipe, a full disk).
static inline int nebula_fn_flush_stdout(void) {
  return fflush(stdout) == 0 ? 0 : 1;
}

// ---- The request body as numbers ----

// A body longer than kNebulaFnMaxInput bytes is bad input: a numeric request
// is a few numbers, and the bound keeps a huge body from costing anything.
// Only the first kNebulaFnMaxTokens tokens are kept, but all are counted.
enum { kNebulaFnMaxInput = 1024, kNebulaFnMaxTokens = 4 };

// The request body split into whitespace-separated tokens, each ended by a
// NUL written over the whitespace after it (so strtod can read it), and the
// function's name and usage for the messages. About 1 KiB: keep it static
// rather than on the 64 KiB wasm stack.
typedef struct NebulaFnInput {
  const char* name;
  const char* usage;
  char bytes[kNebulaFnMaxInput + 1];
  size_t len;
  // Every token, also those past kNebulaFnMaxTokens, so that "too many
  // numbers" can say how many there were.
  int count;
  const char* tok[kNebulaFnMaxTokens];
  size_t tok_len[kNebulaFnMaxTokens];
} NebulaFnInput;

// Reads the whole body, one byte more than allowed so that "too long" can be
// told apart, and splits it into tokens. Returns 0, or the exit code after
// reporting.
static inline int nebula_fn_read_input(NebulaFnInput* in, const char* name, const char* usage) {
  in->name = name;
  in->usage = usage;
  in->len = fread(in->bytes, 1, sizeof in->bytes, stdin);
  if (ferror(stdin)) return nebula_fn_fail(name, "cannot read stdin");
  if (in->len > kNebulaFnMaxInput) {
    return nebula_fn_bad_input(name, usage, "the input is longer than %d bytes", kNebulaFnMaxInput);
  }
  in->count = 0;
  size_t i = 0;
  for (;;) {
    while (i < in->len && nebula_fn_is_space(in->bytes[i])) ++i;
    if (i == in->len) break;
    size_t start = i;
    while (i < in->len && !nebula_fn_is_space(in->bytes[i])) ++i;
    if (in->count < kNebulaFnMaxTokens) {
      in->tok[in->count] = in->bytes + start;
      in->tok_len[in->count] = i - start;
    }
    ++in->count;
    // bytes[len] exists: the body is at most kNebulaFnMaxInput bytes.
    in->bytes[i] = '\0';
    if (i < in->len) ++i;
  }
  return 0;
}

// Checks that the body held between `min` and `max` numbers. Returns 0, or
// the exit code after reporting.
static inline int nebula_fn_expect_tokens(const NebulaFnInput* in, int min, int max) {
  const char* name = in->name;
  const char* usage = in->usage;
  if (in->count == 0) return nebula_fn_bad_input(name, usage, "no input");
  if (in->count < min) {
    return nebula_fn_bad_input(name, usage, "expected %d numbers, got %d", min, in->count);
  }
  if (in->count > max && min == max) {
    return nebula_fn_bad_input(name, usage, "expected %d number%s, got %d", max,
                               max == 1 ? "" : "s", in->count);
  }
  if (in->count > max) {
    return nebula_fn_bad_input(name, usage, "expected at most %d numbers, got %d", max, in->count);
  }
  return 0;
}

// Parses token `index` as a whole decimal number ("42", "-7", "+3") with
// min <= value <= max; `what` names it when it is out of range. Returns 0,
// or the exit code after reporting.
static inline int nebula_fn_parse_int(const NebulaFnInput* in, int index, const char* what,
                                      int64_t min, int64_t max, int64_t* out) {
  const char* s = in->tok[index];
  size_t len = in->tok_len[index];
  int negative = s[0] == '-';
  size_t i = s[0] == '+' || s[0] == '-' ? 1 : 0;
  if (i == len) {
    return nebula_fn_bad_input(in->name, in->usage, "\"%s\" is not a whole number",
                               nebula_fn_shown(s, len));
  }
  // |INT64_MIN| = 2^63. The magnitude saturates just past it: beyond that
  // only "out of range" matters, and the digits must still be checked.
  const uint64_t kSaturated = UINT64_C(1) << 63;
  uint64_t magnitude = 0;
  for (; i < len; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return nebula_fn_bad_input(in->name, in->usage, "\"%s\" is not a whole number",
                                 nebula_fn_shown(s, len));
    }
    unsigned digit = s[i] - '0';
    magnitude = magnitude > (kSaturated - digit) / 10 ? kSaturated + 1 : magnitude * 10 + digit;
  }
  int in_range = 0;
  int64_t value = 0;
  if (!negative && magnitude < kSaturated) {
    value = magnitude;
    in_range = 1;
  } else if (negative && magnitude <= kSaturated) {
    if (magnitude > 0) {
      // -(m - 1) - 1 rather than -m: -2^63 has no positive counterpart.
      int64_t below = magnitude - 1;
      value = -below - 1;
    }
    in_range = 1;
  }
  if (!in_range || value < min || value > max) {
    return nebula_fn_bad_input(in->name, in->usage, "%s = %s is out of range", what,
                               nebula_fn_shown(s, len));
  }
  *out = value;
  return 0;
}

// Reads a body of exactly one whole number with min <= value <= max, the
// input of most examples; `what` names it. Returns 0, or the exit code after
// reporting.
static inline int nebula_fn_read_int(const char* name, const char* usage, const char* what,
                                     int64_t min, int64_t max, int64_t* out) {
  static NebulaFnInput in;
  int rc = nebula_fn_read_input(&in, name, usage);
  if (rc == 0) rc = nebula_fn_expect_tokens(&in, 1, 1);
  if (rc == 0) rc = nebula_fn_parse_int(&in, 0, what, min, max, out);
  return rc;
}

// Parses token `index` as a seed: a whole number without a sign, up to
// 2^64 - 1. Returns 0, or the exit code after reporting.
static inline int nebula_fn_parse_seed(const NebulaFnInput* in, int index, uint64_t* out) {
  const char* s = in->tok[index];
  size_t len = in->tok_len[index];
  uint64_t value = 0;
  for (size_t i = 0; i < len; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return nebula_fn_bad_input(in->name, in->usage, "seed \"%s\" is not a whole number",
                                 nebula_fn_shown(s, len));
    }
    unsigned digit = s[i] - '0';
    if (value > (UINT64_MAX - digit) / 10) {
      return nebula_fn_bad_input(in->name, in->usage, "seed = %s is out of range",
                                 nebula_fn_shown(s, len));
    }
    value = value * 10 + digit;
  }
  *out = value;
  return 0;
}

// Advances `*i` over the decimal digits of s[*i..len) and returns how many
// there were.
static inline size_t nebula_fn_skip_digits(const char* s, size_t len, size_t* i) {
  size_t start = *i;
  while (*i < len && s[*i] >= '0' && s[*i] <= '9') ++*i;
  return *i - start;
}

// Parses token `index` as a plain decimal number, [sign] digits [. digits]
// [e|E [sign] digits], with min <= value <= max; `what` names it when it is
// out of range. The grammar is checked here, so that strtod never sees
// "nan", "inf" or hexadecimal. Returns 0, or the exit code after reporting.
static inline int nebula_fn_parse_real(const NebulaFnInput* in, int index, const char* what,
                                       double min, double max, double* out) {
  const char* s = in->tok[index];
  size_t len = in->tok_len[index];
  size_t i = 0;
  if (i < len && (s[i] == '+' || s[i] == '-')) ++i;
  size_t mantissa = nebula_fn_skip_digits(s, len, &i);
  if (i < len && s[i] == '.') {
    ++i;
    mantissa += nebula_fn_skip_digits(s, len, &i);
  }
  int ok = mantissa > 0;
  if (ok && i < len && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < len && (s[i] == '+' || s[i] == '-')) ++i;
    ok = nebula_fn_skip_digits(s, len, &i) > 0;
  }
  if (!ok || i != len) {
    return nebula_fn_bad_input(in->name, in->usage, "\"%s\" is not a decimal number",
                               nebula_fn_shown(s, len));
  }
  double value = strtod(s, NULL);
  if (!(value >= min && value <= max)) {
    return nebula_fn_bad_input(in->name, in->usage, "%s = %s is out of range", what,
                               nebula_fn_shown(s, len));
  }
  *out = value;
  return 0;
}

// ---- Reproducible random numbers ----

// SplitMix64 (Steele, Lea and Flood): a 64-bit counter scrambled by two
// multiply-xorshift rounds. Small, fast, and written out here rather than
// taken from a C library, so that a seed gives the same numbers, and the
// Monte Carlo examples the same digits, on every target.
static inline uint64_t nebula_fn_random(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1), from the top 53 bits: exact in IEEE arithmetic.
static inline double nebula_fn_random_unit(uint64_t* state) {
  double top = nebula_fn_random(state) >> 11;
  return top * 0x1.0p-53;
}

#ifdef __cplusplus
}  // extern "C"
#endif
