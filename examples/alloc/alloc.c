// alloc: allocates memory and touches every page of it; used to exercise
// the platform's memory limits.
//
// Input:  one whole number n, 0 <= n <= 4000: how many MiB to allocate.
// Output: "allocated <n> MiB, touched <pages> pages" (4 KiB pages).
// Failure: if the allocation is refused (a wasm memory limit), a message on
//          stderr and exit code 1. A container over its memory limit is
//          killed by the kernel instead, when the pages are touched.
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const char kName[] = "alloc";
static const char kUsage[] =
    "send one whole number n with 0 <= n <= 4000, the MiB to allocate, e.g. \"64\"";

// 4000 MiB still fits a 32-bit size_t (wasm32) and a 4 GiB linear memory.
enum { kMaxMiB = 4000 };

// ---- Input handling, repeated in every numeric example (one file each) ----

enum { kMaxInput = 1024, kMaxTokens = 4 };

// The request body split into whitespace-separated tokens. `count` keeps
// counting past kMaxTokens so that "too many numbers" can be reported.
struct Input {
  char bytes[kMaxInput + 1];
  size_t len;
  int count;
  const char* tok[kMaxTokens];
  size_t tok_len[kMaxTokens];
};

// Reports "<name>: <problem>; <usage>" on stderr and returns exit code 2.
static int bad_input(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", kName);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "; %s\n", kUsage);
  va_end(ap);
  return 2;
}

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// A token made safe to quote in an error message: at most 32 bytes, with
// unprintable bytes shown as '?'. Returns a static buffer (single-threaded).
static const char* shown(const char* tok, size_t len) {
  static char out[40];
  size_t n = len < 32 ? len : 32;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)tok[i];
    out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  if (len > n) {
    out[n++] = '.';
    out[n++] = '.';
    out[n++] = '.';
  }
  out[n] = '\0';
  return out;
}

// Reads the whole body, bounded so that a huge body cannot exhaust memory,
// and splits it into tokens. Returns 0, or the exit code after reporting.
static int read_input(struct Input* in) {
  in->len = fread(in->bytes, 1, sizeof in->bytes, stdin);
  if (ferror(stdin)) {
    fprintf(stderr, "%s: cannot read stdin\n", kName);
    return 1;
  }
  if (in->len > kMaxInput) return bad_input("the input is longer than %d bytes", kMaxInput);
  in->count = 0;
  size_t i = 0;
  for (;;) {
    while (i < in->len && is_space((unsigned char)in->bytes[i])) ++i;
    if (i == in->len) break;
    size_t start = i;
    while (i < in->len && !is_space((unsigned char)in->bytes[i])) ++i;
    if (in->count < kMaxTokens) {
      in->tok[in->count] = in->bytes + start;
      in->tok_len[in->count] = i - start;
    }
    ++in->count;
  }
  return 0;
}

// Checks that the body held between `min` and `max` tokens.
static int expect_tokens(const struct Input* in, int min, int max) {
  if (in->count == 0) return bad_input("no input");
  if (in->count < min) return bad_input("expected %d numbers, got %d", min, in->count);
  if (in->count > max) {
    if (min == max) {
      return bad_input("expected %d number%s, got %d", max, max == 1 ? "" : "s", in->count);
    }
    return bad_input("expected at most %d numbers, got %d", max, in->count);
  }
  return 0;
}

// Parses token `index` as a decimal integer ("42", "-7", "+3") in [min, max].
// Returns 0, or the exit code after reporting.
static int parse_int(const struct Input* in, int index, const char* what, int64_t min, int64_t max,
                     int64_t* out) {
  const char* s = in->tok[index];
  size_t len = in->tok_len[index];
  size_t i = 0;
  int negative = 0;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    i = 1;
  }
  if (i == len) return bad_input("\"%s\" is not a whole number", shown(s, len));
  uint64_t magnitude = 0;
  int overflow = 0;
  for (; i < len; ++i) {
    if (s[i] < '0' || s[i] > '9') return bad_input("\"%s\" is not a whole number", shown(s, len));
    unsigned digit = (unsigned)(s[i] - '0');
    if (magnitude > (UINT64_MAX - digit) / 10) {
      overflow = 1;
    } else {
      magnitude = magnitude * 10 + digit;
    }
  }
  // |INT64_MIN| does not fit int64_t, so compare magnitudes as uint64_t.
  uint64_t most_negative = min >= 0 ? 0 : (uint64_t)(-(min + 1)) + 1;
  int64_t value = 0;
  if (overflow) return bad_input("%s = %s is out of range", what, shown(s, len));
  if (negative) {
    if (magnitude > most_negative) return bad_input("%s = %s is out of range", what, shown(s, len));
    value = magnitude == 0 ? 0 : -(int64_t)(magnitude - 1) - 1;
  } else {
    if (magnitude > (uint64_t)INT64_MAX) {
      return bad_input("%s = %s is out of range", what, shown(s, len));
    }
    value = (int64_t)magnitude;
  }
  if (value < min || value > max) return bad_input("%s = %s is out of range", what, shown(s, len));
  *out = value;
  return 0;
}

// ---- The function ----

enum { kPageSize = 4096 };

int main(void) {
  static struct Input in;
  int rc = read_input(&in);
  if (rc == 0) rc = expect_tokens(&in, 1, 1);
  int64_t mib = 0;
  if (rc == 0) rc = parse_int(&in, 0, "n", 0, kMaxMiB, &mib);
  if (rc != 0) return rc;

  size_t size = (size_t)mib * 1024 * 1024;
  size_t pages = size / kPageSize;
  fprintf(stderr, "%s: allocating %lld MiB\n", kName, (long long)mib);
  // volatile: the writes must really reach memory, or the compiler could
  // drop the whole allocation as unused.
  volatile unsigned char* block = malloc(size == 0 ? 1 : size);
  if (block == NULL) {
    fprintf(stderr, "%s: out of memory: cannot allocate %lld MiB\n", kName, (long long)mib);
    return 1;
  }
  for (size_t p = 0; p < pages; ++p) block[p * kPageSize] = (unsigned char)(p | 1);
  // Read every page back so that a lost write would be noticed.
  size_t touched = 0;
  for (size_t p = 0; p < pages; ++p) touched += block[p * kPageSize] == (unsigned char)(p | 1);
  free((void*)block);
  if (touched != pages) {
    fprintf(stderr, "%s: memory check failed: %zu of %zu pages read back wrong\n", kName,
            pages - touched, pages);
    return 1;
  }
  printf("allocated %lld MiB, touched %zu pages\n", (long long)mib, touched);
  return fflush(stdout) == 0 ? 0 : 1;
}
