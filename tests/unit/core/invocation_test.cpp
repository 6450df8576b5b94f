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
