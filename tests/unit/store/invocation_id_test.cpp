#include "store/invocation_id.hpp"

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace nebula::store {
namespace {

// Decodes the 48-bit millisecond prefix (the first 10 base32 digits).
std::int64_t time_of(const std::string& id) {
  constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 10; ++i) v = (v << 5U) | kAlphabet.find(id[i]);
  // 10 digits are the id's top 50 bits: two zero bits, then the 48-bit time.
  return static_cast<std::int64_t>(v);
}

TEST(StoreInvocationId, HasTheDocumentedShape) {
  const std::string id = new_invocation_id();
  EXPECT_EQ(id.size(), kInvocationIdLength);
  EXPECT_TRUE(is_valid_invocation_id(id)) << id;
}

TEST(StoreInvocationId, EncodesItsTimeAndSortsByIt) {
  const std::int64_t t = 1'700'000'000'123;
  const std::string a = new_invocation_id(t);
  const std::string b = new_invocation_id(t + 1);
  EXPECT_EQ(time_of(a), t);
  EXPECT_EQ(time_of(b), t + 1);
  EXPECT_LT(a, b);
  // The largest 48-bit time still yields a valid id (first digit 7).
  const std::string max = new_invocation_id((std::int64_t{1} << 48) - 1);
  EXPECT_EQ(max.substr(0, 10), "7ZZZZZZZZZ");
  EXPECT_TRUE(is_valid_invocation_id(max));
}

TEST(StoreInvocationId, RandomPartDiffersWithinAMillisecond) {
  std::set<std::string> ids;
  for (int i = 0; i < 10'000; ++i) ids.insert(new_invocation_id(42));
  EXPECT_EQ(ids.size(), 10'000U);
}

TEST(StoreInvocationId, UniqueAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5'000;
  std::mutex mutex;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&mutex, &ids] {
      std::vector<std::string> mine;
      for (int i = 0; i < kPerThread; ++i) mine.push_back(new_invocation_id());
      std::lock_guard lock(mutex);
      ids.insert(mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(StoreInvocationId, ValidationRejectsOtherShapes) {
  EXPECT_FALSE(is_valid_invocation_id(""));
  EXPECT_FALSE(is_valid_invocation_id("01HV5C3M8ZK4T2Q9W7XG6R1B0"));    // 25
  EXPECT_FALSE(is_valid_invocation_id("01HV5C3M8ZK4T2Q9W7XG6R1B0DD"));  // 27
  EXPECT_FALSE(is_valid_invocation_id("01hv5c3m8zk4t2q9w7xg6r1b0d"));   // lower case
  EXPECT_FALSE(is_valid_invocation_id("01HV5C3M8ZK4T2Q9W7XG6R1B0U"));   // U is not Crockford
  EXPECT_FALSE(is_valid_invocation_id("81HV5C3M8ZK4T2Q9W7XG6R1B0D"));   // over 128 bits
  EXPECT_FALSE(is_valid_invocation_id("../../../../etc/passwd/xxxx"));
  EXPECT_TRUE(is_valid_invocation_id("01HV5C3M8ZK4T2Q9W7XG6R1B0D"));
}

}  // namespace
}  // namespace nebula::store
