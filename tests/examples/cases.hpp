#pragma once

// The example functions' known answers, shared by the native, wasm and
// Docker tests: the very same table runs against every target, so that a
// difference between runtimes shows up as one failing row.

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "examples/run_process.hpp"

namespace nebula::test {

struct ExampleCase {
  // Names the test: letters, digits and '_' only, unique in the table.
  std::string id;
  // The function, as listed in examples.txt.
  std::string example;
  std::string input;
  int exit_code = 0;
  // Compared byte for byte when the function succeeds (exit code 0).
  std::string output;
  // When it fails: a part of the message expected on stderr (stdout must be
  // empty then).
  std::string error;
};

inline ExampleCase ok(std::string id, std::string example, std::string input, std::string output) {
  return {std::move(id), std::move(example), std::move(input), 0, std::move(output), {}};
}

// Bad input: exit code 2 and a message on stderr.
inline ExampleCase bad(std::string id, std::string example, std::string input, std::string error) {
  return {std::move(id), std::move(example), std::move(input), 2, {}, std::move(error)};
}

// A body of `size` bytes holding every byte value, for the byte-transparent
// functions.
inline std::string byte_pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return s;
}

inline std::vector<ExampleCase> example_cases() {
  using namespace std::string_literals;
  const std::string kFactorial130 =
      "6466855489220473672507304395536485253155359447828049608975952322944781961185526165512707"
      "0472292684529256839692403980271491207400740421058447377477994593100296357809917746129838"
      "03150965145600000000000000000000000000000000\n";
  return {
      ok("hello_empty", "hello", "", "Hello, World!\n"),
      ok("hello_name", "hello", "  Ada\n", "Hello, Ada!\n"),
      ok("hello_utf8", "hello", "Zoë", "Hello, Zoë!\n"),
      bad("hello_control_char", "hello", "A\001da", "control character"),
      bad("hello_too_long", "hello", std::string(300, 'x'), "longer than 100 bytes"),

      ok("echo_empty", "echo", "", ""),
      ok("echo_text", "echo", "hello, world\n", "hello, world\n"),
      ok("echo_binary", "echo", "\0\xff\x01\r\n\0"s, "\0\xff\x01\r\n\0"s),
      // Larger than any pipe buffer in both directions: the runner must
      // read while it writes.
      ok("echo_1mib", "echo", byte_pattern(1 << 20), byte_pattern(1 << 20)),

      ok("add_small", "add", "3 4", "7\n"),
      ok("add_signs", "add", " -5\t+8\n", "3\n"),
      ok("add_int64_edges", "add", "9223372036854775807 -9223372036854775808", "-1\n"),
      bad("add_empty", "add", "", "no input"),
      bad("add_one_number", "add", "3", "expected 2 numbers, got 1"),
      bad("add_not_a_number", "add", "3 four", "\"four\" is not a whole number"),
      bad("add_fraction", "add", "1.5 2", "\"1.5\" is not a whole number"),
      bad("add_overflow", "add", "9223372036854775807 1", "does not fit a signed 64-bit integer"),
      bad("add_too_large", "add", "99999999999999999999 1", "out of range"),

      ok("fibonacci_0", "fibonacci", "0", "0\n"),
      ok("fibonacci_1", "fibonacci", "1\n", "1\n"),
      ok("fibonacci_90", "fibonacci", "90", "2880067194370816120\n"),
      ok("fibonacci_94_beyond_uint64", "fibonacci", "94", "19740274219868223167\n"),
      ok("fibonacci_300", "fibonacci", "300",
         "222232244629420445529739893461909967206666939096499764990979600\n"),
      bad("fibonacci_empty", "fibonacci", "", "no input"),
      bad("fibonacci_blank", "fibonacci", " \n\t", "no input"),
      bad("fibonacci_not_a_number", "fibonacci", "ninety", "\"ninety\" is not a whole number"),
      bad("fibonacci_negative", "fibonacci", "-1", "out of range"),
      bad("fibonacci_over_bound", "fibonacci", "10001", "0 <= n <= 10000"),
      bad("fibonacci_two_numbers", "fibonacci", "1 2", "expected 1 number, got 2"),

      ok("fibonacci_recursive_0", "fibonacci-recursive", "0", "0\n"),
      ok("fibonacci_recursive_25", "fibonacci-recursive", "25", "75025\n"),
      bad("fibonacci_recursive_over_bound", "fibonacci-recursive", "41", "0 <= n <= 40"),
      bad("fibonacci_recursive_empty", "fibonacci-recursive", "", "no input"),

      ok("factorial_0", "factorial", "0", "1\n"),
      ok("factorial_20", "factorial", "20", "2432902008176640000\n"),
      ok("factorial_30", "factorial", "30", "265252859812191058636308480000000\n"),
      ok("factorial_130", "factorial", "130", kFactorial130),
      bad("factorial_over_bound", "factorial", "10001", "0 <= n <= 10000"),
      bad("factorial_empty", "factorial", "", "no input"),
      bad("factorial_not_a_number", "factorial", "5!", "\"5!\" is not a whole number"),

      ok("exponential_0", "exponential", "0", "1\n"),
      ok("exponential_1", "exponential", "1", "2.71828182845905\n"),
      ok("exponential_minus_1", "exponential", "-1", "0.367879441171442\n"),
      ok("exponential_10", "exponential", "10", "22026.4657948067\n"),
      ok("exponential_fraction", "exponential", "2.5e-1", "1.28402541668774\n"),
      bad("exponential_over_bound", "exponential", "701", "-700 <= x <= 700"),
      bad("exponential_nan", "exponential", "nan", "\"nan\" is not a decimal number"),
      bad("exponential_empty", "exponential", "", "no input"),

      ok("prime_number_1", "prime-number", "1", "2\n"),
      ok("prime_number_100", "prime-number", "100", "541\n"),
      ok("prime_number_bound", "prime-number", "1000000", "15485863\n"),
      bad("prime_number_0", "prime-number", "0", "1 <= n <= 1000000"),
      bad("prime_number_over_bound", "prime-number", "1000001", "1 <= n <= 1000000"),
      bad("prime_number_empty", "prime-number", "", "no input"),

      // The Monte Carlo answers depend only on the seeded generator: the
      // same digits on every target.
      ok("mc_estimate_pi_default_seed", "mc-estimate-pi", "1000000", "3.140756\n"),
      ok("mc_estimate_pi_seed", "mc-estimate-pi", "100000 12345", "3.145760\n"),
      bad("mc_estimate_pi_zero", "mc-estimate-pi", "0", "1 <= samples <= 100000000"),
      bad("mc_estimate_pi_over_bound", "mc-estimate-pi", "100000001", "1 <= samples <= 100000000"),
      bad("mc_estimate_pi_bad_seed", "mc-estimate-pi", "1000 -1", "seed \"-1\" is not a whole"),
      bad("mc_estimate_pi_empty", "mc-estimate-pi", "", "no input"),

      ok("mc_estimate_euler_default_seed", "mc-estimate-euler", "1000000", "2.717642\n"),
      ok("mc_estimate_euler_seed", "mc-estimate-euler", "100000 7", "2.716420\n"),
      bad("mc_estimate_euler_over_bound", "mc-estimate-euler", "50000001",
          "1 <= trials <= 50000000"),
      bad("mc_estimate_euler_empty", "mc-estimate-euler", "", "no input"),

      ok("birthday_paradox_23", "birthday-paradox", "23", "0.506370\n"),
      ok("birthday_paradox_seed", "birthday-paradox", "50 10000 99", "0.971100\n"),
      ok("birthday_paradox_alone", "birthday-paradox", "1", "0.000000\n"),
      bad("birthday_paradox_over_bound", "birthday-paradox", "366", "1 <= people <= 365"),
      bad("birthday_paradox_trials", "birthday-paradox", "23 0", "1 <= trials <= 10000000"),
      bad("birthday_paradox_empty", "birthday-paradox", "", "no input"),

      ok("alloc_0", "alloc", "0", "allocated 0 MiB, touched 0 pages\n"),
      ok("alloc_16", "alloc", "16", "allocated 16 MiB, touched 4096 pages\n"),
      bad("alloc_over_bound", "alloc", "4001", "0 <= n <= 4000"),
      bad("alloc_not_a_number", "alloc", "lots", "\"lots\" is not a whole number"),
      bad("alloc_empty", "alloc", "", "no input"),

      ok("text_transform_upper", "text-transform", "upper\nhello, wörld\n", "HELLO, WöRLD\n"),
      ok("text_transform_lower", "text-transform", "lower\r\nHeLLo\n", "hello\n"),
      ok("text_transform_reverse", "text-transform", "reverse\nnébula\nab\n", "alubén\nba\n"),
      ok("text_transform_wc", "text-transform", "wc\nthe quick\nbrown fox\n", "2 4 20\n"),
      ok("text_transform_no_text", "text-transform", "upper", ""),
      bad("text_transform_empty", "text-transform", "", "no input"),
      bad("text_transform_unknown", "text-transform", "shout\nhi", "unknown operation \"shout\""),
  };
}

// How gtest prints a row in its log: the row's name, not its bytes.
inline void PrintTo(const ExampleCase& c, std::ostream* os) {
  *os << c.example << " (" << c.id << ")";
}

// Test names for INSTANTIATE_TEST_SUITE_P.
inline std::string case_name(const testing::TestParamInfo<ExampleCase>& info) {
  return info.param.id;
}

// Checks one run of a function against its row of the table.
inline void expect_answer(const ExampleCase& c, const ProcessResult& r) {
  ASSERT_EQ(r.spawn_error, "");
  ASSERT_FALSE(r.timed_out) << c.example << " did not finish; stderr: " << r.err;
  EXPECT_EQ(r.exit_code, c.exit_code) << "stderr: " << r.err;
  if (c.exit_code == 0) {
    // Shown in full only when short: some answers are a mebibyte long.
    if (c.output.size() <= 4096 && r.out.size() <= 4096) {
      EXPECT_EQ(r.out, c.output);
    } else {
      EXPECT_EQ(r.out.size(), c.output.size());
      EXPECT_TRUE(r.out == c.output) << "stdout differs from the expected bytes";
    }
  } else {
    EXPECT_EQ(r.out, "") << "a failed call must not answer on stdout";
    EXPECT_NE(r.err.find(c.error), std::string::npos)
        << "stderr should mention \"" << c.error << "\" but is: " << r.err;
  }
}

}  // namespace nebula::test
