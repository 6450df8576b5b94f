#include "core/invocation.hpp"

#include <gtest/gtest.h>

namespace nebula {
namespace {

TEST(Outcome, NamesRoundTrip) {
  for (auto o : {Outcome::kOk, Outcome::kExit, Outcome::kTrap, Outcome::kTimeout, Outcome::kMemory,
                 Outcome::kRejected}) {
    EXPECT_EQ(parse_outcome(to_string(o)), o);
  }
  EXPECT_FALSE(parse_outcome("crashed"));
}

TEST(TailOf, KeepsShortTextWhole) {
  EXPECT_EQ(tail_of("abc", 10), "abc");
}

TEST(TailOf, KeepsTheEnd) {
  EXPECT_EQ(tail_of("abcdef", 3), "def");
}

TEST(TailOf, StartsOnACharacterBoundary) {
  // "é" is two bytes (C3 A9); a cut inside it must skip the continuation byte.
  EXPECT_EQ(tail_of("x\xC3\xA9yz", 3), "yz");
  EXPECT_EQ(tail_of("x\xC3\xA9yz", 4), "\xC3\xA9yz");
}

}  // namespace
}  // namespace nebula

namespace nebula {
namespace {

TEST(ValidUtf8, KeepsTextAndReplacesEverythingElse) {
  EXPECT_EQ(valid_utf8("plain ascii"), "plain ascii");
  EXPECT_EQ(valid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  // A stray byte, a character cut in half at the end, an overlong '/', a
  // surrogate and a code point past U+10FFFF.
  EXPECT_EQ(valid_utf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(valid_utf8("x\xF0\x9F\x98"), "x\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(valid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(valid_utf8(std::string_view("nul\0ok", 6)), std::string("nul\0ok", 6));
}

}  // namespace
}  // namespace nebula
