// mc-estimate-pi: estimates pi by Monte Carlo sampling.
//
// Input:  "samples [seed]": 1 <= samples <= 100000000 points, and an optional
//         seed 0 <= seed <= 18446744073709551615 (default 42).
// Output: 4 * (points inside the quarter circle) / samples, with 6 decimals,
//         e.g. "3.140756" for "1000000".
// The generator is SplitMix64, written out here, so the same input gives
// the same answer on every target (wasm and native alike).
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static const char kName[] = "mc-estimate-pi";
static const char kUsage[] =
    "send \"samples [seed]\" with 1 <= samples <= 100000000 and an optional whole-number seed, "
    "e.g. \"1000000\"";

enum { kMaxSamples = 100000000 };
static const uint64_t kDefaultSeed = 42;

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

// Parses token `index` as an unsigned 64-bit seed. Returns 0, or the exit
// code after reporting.
static int parse_seed(const struct Input* in, int index, uint64_t* out) {
  const char* s = in->tok[index];
  size_t len = in->tok_len[index];
  uint64_t value = 0;
  for (size_t i = 0; i < len; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return bad_input("seed \"%s\" is not a whole number", shown(s, len));
    }
    unsigned digit = (unsigned)(s[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return bad_input("seed = %s is out of range", shown(s, len));
    }
    value = value * 10 + digit;
  }
  *out = value;
  return 0;
}

// ---- The function ----

// SplitMix64 (Steele, Lea and Flood): a 64-bit counter scrambled by two
// multiply-xorshift rounds. Small, fast, and identical everywhere.
static uint64_t next_random(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A uniform double in [0, 1) from the top 53 bits: exact in IEEE arithmetic.
static double next_unit(uint64_t* state) {
  return (double)(next_random(state) >> 11) * 0x1.0p-53;
}

int main(void) {
  static struct Input in;
  int rc = read_input(&in);
  if (rc == 0) rc = expect_tokens(&in, 1, 2);
  int64_t samples = 0;
  uint64_t seed = kDefaultSeed;
  if (rc == 0) rc = parse_int(&in, 0, "samples", 1, kMaxSamples, &samples);
  if (rc == 0 && in.count == 2) rc = parse_seed(&in, 1, &seed);
  if (rc != 0) return rc;

  uint64_t state = seed;
  int64_t inside = 0;
  for (int64_t i = 0; i < samples; ++i) {
    double x = next_unit(&state);
    double y = next_unit(&state);
    if (x * x + y * y < 1.0) ++inside;
  }
  printf("%.6f\n", 4.0 * (double)inside / (double)samples);
  return fflush(stdout) == 0 ? 0 : 1;
}
