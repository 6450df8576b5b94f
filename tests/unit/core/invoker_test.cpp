// The invoker with a small fake runtime: admission, the composition of its
// timings, and the record it assembles.
#include "core/invoker.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace nebula {
namespace {

using namespace std::chrono_literals;
using Clock = Invoker::Clock;

// A runtime whose invocation takes `exec` and reports `own_queue_us` as its
// own wait (what the docker runtime reports for a warm-container wait).
class FakeRuntime final : public Runtime {
 public:
  struct Variant final : PreparedVariant {};

  Result<std::shared_ptr<PreparedVariant>> prepare(const Function& /*function*/) override {
    return std::shared_ptr<PreparedVariant>(std::make_shared<Variant>());
  }
  void retire(PreparedVariant& /*variant*/) override {}

  Result<InvocationResult> invoke(PreparedVariant& variant,
                                  const InvocationRequest& request) override {
    (void)variant_cast<Variant>(variant);
    ++calls;
    if (fail) return make_error(ErrorKind::kUnavailable, "engine gone");
    std::this_thread::sleep_for(exec);
    InvocationResult r;
    r.outcome = outcome;
    r.exit_code = outcome == Outcome::kOk ? 0 : 7;
    r.stdout_data = "out:" + request.body;
    r.stderr_data = stderr_data;
    r.cold = cold;
    r.output_truncated = truncated;
    r.timings.queue_us = own_queue_us;
    r.timings.startup_us = 11;
    r.timings.exec_us = std::chrono::duration_cast<std::chrono::microseconds>(exec).count();
    r.timings.teardown_us = 5;
    r.timings.total_us = 999'999'999;  // the runtime's own idea; never kept
    r.cpu_us = cpu_us;
    r.max_memory_bytes = memory;
    return r;
  }

  std::chrono::milliseconds exec{0};
  std::int64_t own_queue_us = 0;
  Outcome outcome = Outcome::kOk;
  std::string stderr_data;
  bool cold = true;
  bool truncated = false;
  bool fail = false;
  std::optional<std::uint64_t> cpu_us = 123;
  std::optional<std::uint64_t> memory = 4096;
  std::atomic<int> calls{0};
};

class InvokerTest : public ::testing::Test {
 protected:
  Invoker make(std::size_t max_pending = 8) {
    return Invoker(
        Invoker::Options{.max_pending = max_pending},
        [this] { return "id-" + std::to_string(++ids_); },
        [this](const Invocation& inv) {
          const std::lock_guard lock(recorded_mutex_);
          recorded_.push_back(inv.record);
        });
  }

  Invoker::Target target(RuntimeKind kind = RuntimeKind::kWasm) {
    return Invoker::Target{runtime_, variant_, function_, kind};
  }

  FakeRuntime runtime_;
  FakeRuntime::Variant variant_;
  Function function_{.name = "fn", .manifest = {}, .created_at_us = 0, .updated_at_us = 0};
  // Both are called from every thread that runs an invocation: a plain
  // vector pushed to by three threads at once corrupted itself (seen as a
  // leak under LeakSanitizer in RunningCountsConcurrentInvocations).
  std::atomic<int> ids_{0};
  std::mutex recorded_mutex_;
  std::vector<InvocationRecord> recorded_;
};

TEST_F(InvokerTest, AdmitsUpToTheLimitThenRefuses) {
  Invoker invoker = make(2);
  auto a = invoker.admit();
  auto b = invoker.admit();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(invoker.pending(), 2U);
  auto c = invoker.admit();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kOverloaded);
  EXPECT_NE(c.error().message.find("2 invocations"), std::string::npos);
  { Invoker::Ticket released = std::move(*a); }
  EXPECT_EQ(invoker.pending(), 1U);
  EXPECT_TRUE(invoker.admit());
}

TEST_F(InvokerTest, ATicketIsReleasedWhenTheRunEnds) {
  Invoker invoker = make(1);
  auto ticket = invoker.admit();
  ASSERT_TRUE(ticket);
  InvocationRequest request;
  auto inv = invoker.run(std::move(*ticket), target(), request, Clock::now());
  ASSERT_TRUE(inv);
  EXPECT_EQ(invoker.pending(), 0U);
  EXPECT_EQ(invoker.running(), 0U);
  EXPECT_TRUE(invoker.admit());
}

// Regression: the docker runtime measured how long a request waited for a
// free warm container and reported it as its queue time; the invoker then
// overwrote queue_us with its own worker-queue wait, so the warm-pool wait
// vanished from every record. Both waits are the invocation's queue.
TEST_F(InvokerTest, QueueAddsTheRuntimesOwnWaitToTheWorkerWait) {
  Invoker invoker = make();
  runtime_.own_queue_us = 250'000;
  auto ticket = invoker.admit();
  ASSERT_TRUE(ticket);
  // Admitted, then 30 ms until a worker picks it up.
  std::this_thread::sleep_for(30ms);
  InvocationRequest request;
  auto inv = invoker.run(std::move(*ticket), target(RuntimeKind::kDocker), request, Clock::now());
  ASSERT_TRUE(inv);
  const auto& t = inv->record.timings;
  EXPECT_GE(t.queue_us, 250'000 + 30'000);
  EXPECT_LT(t.queue_us, 250'000 + 30'000 + 1'000'000);
  EXPECT_EQ(inv->result.timings.queue_us, t.queue_us);
}

TEST_F(InvokerTest, TotalRunsFromTheBodyReadToTheEnd) {
  Invoker invoker = make();
  runtime_.exec = 20ms;
  const auto received = Clock::now();
  std::this_thread::sleep_for(10ms);  // admission and routing after the body was read
  auto ticket = invoker.admit();
  ASSERT_TRUE(ticket);
  InvocationRequest request;
  auto inv = invoker.run(std::move(*ticket), target(), request, received);
  ASSERT_TRUE(inv);
  const auto& t = inv->record.timings;
  EXPECT_GE(t.total_us, 30'000);
  EXPECT_LT(t.total_us, 999'999'999);  // the runtime's own figure is not kept
  EXPECT_GE(t.total_us, t.exec_us);
  EXPECT_EQ(t.startup_us, 11);
  EXPECT_EQ(t.teardown_us, 5);
}

TEST_F(InvokerTest, TheRecordCarriesEveryFieldOfTheResult) {
  Invoker invoker = make();
  runtime_.outcome = Outcome::kTrap;
  runtime_.cold = false;
  runtime_.truncated = true;
  runtime_.stderr_data = std::string(10'000, 'e') + "last words";
  runtime_.cpu_us = std::nullopt;  // not measured: stays unset
  runtime_.memory = 1 << 20;
  auto ticket = invoker.admit();
  ASSERT_TRUE(ticket);
  InvocationRequest request;
  request.function = "fn";
  request.body = "12345";
  auto inv = invoker.run(std::move(*ticket), target(RuntimeKind::kDocker), request, Clock::now());
  ASSERT_TRUE(inv);
  const InvocationRecord& r = inv->record;
  EXPECT_EQ(r.id, "id-1");
  EXPECT_EQ(r.function, "fn");
  EXPECT_EQ(r.runtime, RuntimeKind::kDocker);
  EXPECT_EQ(r.outcome, Outcome::kTrap);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_FALSE(r.cold);
  EXPECT_TRUE(r.output_truncated);
  EXPECT_FALSE(r.cpu_us.has_value());
  EXPECT_EQ(r.max_memory_bytes, std::optional<std::uint64_t>(1 << 20));
  EXPECT_EQ(r.input_bytes, 5U);
  EXPECT_EQ(r.output_bytes, std::string("out:12345").size());
  EXPECT_EQ(r.stderr_tail.size(), kStderrTailBytes);
  EXPECT_TRUE(r.stderr_tail.ends_with("last words"));
  EXPECT_GT(r.started_at_us, 1'600'000'000'000'000);
  ASSERT_EQ(recorded_.size(), 1U);
  EXPECT_EQ(recorded_.front().id, r.id);
}

TEST_F(InvokerTest, APlatformErrorIsReturnedAndNotRecorded) {
  Invoker invoker = make();
  runtime_.fail = true;
  auto ticket = invoker.admit();
  ASSERT_TRUE(ticket);
  InvocationRequest request;
  auto inv = invoker.run(std::move(*ticket), target(), request, Clock::now());
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().kind, ErrorKind::kUnavailable);
  EXPECT_TRUE(recorded_.empty());
  EXPECT_EQ(invoker.pending(), 0U);
  EXPECT_EQ(invoker.running(), 0U);
}

TEST_F(InvokerTest, RunningCountsConcurrentInvocations) {
  Invoker invoker = make();
  runtime_.exec = 100ms;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([this, &invoker] {
      auto ticket = invoker.admit();
      ASSERT_TRUE(ticket);
      InvocationRequest request;
      EXPECT_TRUE(invoker.run(std::move(*ticket), target(), request, Clock::now()));
    });
  }
  std::size_t seen = 0;
  const auto deadline = Clock::now() + 2s;
  while (Clock::now() < deadline && seen < 3) {
    seen = std::max(seen, invoker.running());
    std::this_thread::sleep_for(1ms);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen, 3U);
  EXPECT_EQ(invoker.running(), 0U);
  EXPECT_EQ(runtime_.calls.load(), 3);
}

}  // namespace
}  // namespace nebula
