// The recorder's promise while the store cannot be reached: no record is
// lost, memory stays bounded (backlogged() turns new invocations away), and
// everything waiting is written, in order, once the store answers again.

#include "service/recorder.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace nebula::service {
namespace {

using namespace std::chrono_literals;

// A store that only keeps records and can be switched off. The recorder is
// what is under test; the stores themselves are tested against SQLite and a
// real PostgreSQL.
class SwitchableStore final : public store::Store {
 public:
  std::atomic<bool> up{true};

  std::vector<std::string> ids() {
    std::lock_guard lock(mutex_);
    return ids_;
  }

  std::vector<Status> add_invocations(const std::vector<InvocationRecord>& records) override {
    std::vector<Status> out;
    std::lock_guard lock(mutex_);
    for (const auto& r : records) {
      if (!up) {
        out.emplace_back(make_error(ErrorKind::kUnavailable, "store down"));
        continue;
      }
      ids_.push_back(r.id);
      nodes_.push_back(r.node);
      out.emplace_back();
    }
    return out;
  }
  std::vector<std::string> nodes() {
    std::lock_guard lock(mutex_);
    return nodes_;
  }

  Result<store::PutResult> put_function(const Function&) override { return unused(); }
  Result<Function> get_function(std::string_view) override { return unused(); }
  Result<std::vector<Function>> list_functions() override { return unused(); }
  Result<bool> delete_function(std::string_view) override { return unused(); }
  Result<std::vector<store::FunctionVersion>> list_versions(std::string_view) override {
    return unused();
  }
  Result<store::FunctionVersion> get_version(std::string_view, std::uint64_t) override {
    return unused();
  }
  Result<Function> activate_version(std::string_view, std::uint64_t) override { return unused(); }
  Result<bool> put_secret(std::string_view, std::string_view) override { return unused(); }
  Result<std::string> get_secret(std::string_view) override { return unused(); }
  Result<std::vector<store::SecretInfo>> list_secrets() override { return unused(); }
  Result<bool> delete_secret(std::string_view) override { return unused(); }
  Status enqueue_task(const store::AsyncTask&, std::size_t) override { return unused(); }
  // Nothing is ever due: a store with no tasks and no schedule state.
  Result<std::optional<store::AsyncTask>> claim_task(std::string_view, std::int64_t,
                                                     std::int64_t) override {
    return std::optional<store::AsyncTask>();
  }
  Status finish_task(const store::AsyncTask&) override { return unused(); }
  Result<store::AsyncTask> get_task(std::string_view) override { return unused(); }
  Result<std::optional<std::int64_t>> next_task_due() override {
    return std::optional<std::int64_t>();
  }
  Status release_tasks(std::string_view) override { return {}; }
  Result<bool> claim_firing(std::string_view, std::string_view, std::int64_t) override {
    return unused();
  }
  Result<bool> fire_task(const store::AsyncTask&, std::size_t, std::string_view,
                         std::int64_t) override {
    return unused();
  }
  Result<std::optional<std::int64_t>> last_firing(std::string_view, std::string_view) override {
    return std::optional<std::int64_t>();
  }
  Result<std::string> put_blob(std::string_view) override { return unused(); }
  Result<std::string> get_blob(std::string_view) override { return unused(); }
  Result<bool> has_blob(std::string_view) override { return unused(); }
  Result<std::vector<InvocationRecord>> list_invocations(const store::InvocationQuery&) override {
    return unused();
  }
  Result<InvocationRecord> get_invocation(std::string_view) override { return unused(); }
  Result<store::FunctionStats> function_stats(std::string_view) override { return unused(); }
  Status ping() override { return {}; }
  std::string describe() const override { return "switchable"; }

 private:
  // Whatever the recorder does not use fails like a store that is down.
  static Error unused() { return make_error(ErrorKind::kUnavailable, "not used by the recorder"); }

  std::mutex mutex_;
  std::vector<std::string> ids_;
  std::vector<std::string> nodes_;
};

Invocation invocation(int i) {
  Invocation inv;
  inv.record.id = "id-" + std::to_string(i);
  inv.record.function = "f";
  return inv;
}

TEST(RecorderTest, KeepsRecordsWhileTheStoreIsDownAndWritesThemInOrderLater) {
  SwitchableStore store;
  metrics::Registry metrics;
  Recorder recorder(store, metrics,
                    RecorderOptions{.max_delay = 1ms,
                                    .batch = 4,
                                    .max_waiting = 10,
                                    .max_flush_wait = 200ms,
                                    .node = "node-x"});
  recorder.record(invocation(0));
  EXPECT_TRUE(recorder.flush());
  store.up = false;
  for (int i = 1; i <= 12; ++i) recorder.record(invocation(i));
  // Readers do not hang on a store that is down.
  EXPECT_FALSE(recorder.flush());
  EXPECT_TRUE(recorder.backlogged());
  EXPECT_EQ(recorder.waiting(), 12U);
  EXPECT_EQ(store.ids().size(), 1U);

  store.up = true;
  for (int i = 0; i < 100 && recorder.waiting() > 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(recorder.flush());
  EXPECT_FALSE(recorder.backlogged());
  const auto ids = store.ids();
  ASSERT_EQ(ids.size(), 13U);
  for (int i = 0; i <= 12; ++i)
    EXPECT_EQ(ids[static_cast<std::size_t>(i)], "id-" + std::to_string(i));
  for (const auto& node : store.nodes()) EXPECT_EQ(node, "node-x");
  EXPECT_EQ(recorder.committed(), 13U);
}

}  // namespace
}  // namespace nebula::service
