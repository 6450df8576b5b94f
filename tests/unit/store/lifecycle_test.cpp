// The registry's function lifecycle beyond a single manifest: versions and
// rollbacks, secrets, the async task queue and schedule firings, against a
// real SQLite database in a temporary directory.

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "store/invocation_id.hpp"
#include "store/registry.hpp"
#include "store/sqlite.hpp"
#include "unit/store/temp_dir.hpp"

namespace nebula::store {
namespace {

// A module digest per deploy, so that versions are told apart by manifest.
std::string module(char c) {
  return "sha256:" + std::string(64, c);
}

Function function_with(const std::string& name, char c) {
  Function f;
  f.name = name;
  f.manifest.wasm_module = module(c);
  return f;
}

AsyncTask task_for(const std::string& function, std::int64_t run_at_us = 1000) {
  AsyncTask t;
  t.id = new_invocation_id();
  t.function = function;
  t.next_run_at_us = run_at_us;
  return t;
}

std::vector<std::uint64_t> numbers(const std::vector<FunctionVersion>& versions) {
  std::vector<std::uint64_t> out;
  for (const auto& v : versions) out.push_back(v.version);
  return out;
}

class StoreLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen(RegistryOptions options = {}) {
    registry_.reset();
    auto registry = Registry::open(dir_.path(), options);
    ASSERT_TRUE(registry) << registry.error().message;
    registry_ = std::move(registry).value();
  }

  // Deploys a version whose module is made of `c`; returns its number.
  std::uint64_t deploy(const std::string& name, char c) {
    auto put = registry_->put_function(function_with(name, c));
    EXPECT_TRUE(put) << put.error().message;
    return put ? put->version : 0;
  }

  std::vector<std::uint64_t> kept(const std::string& name) {
    auto versions = registry_->list_versions(name);
    EXPECT_TRUE(versions) << versions.error().message;
    return versions ? numbers(*versions) : std::vector<std::uint64_t>{};
  }

  // Queues a task due at `run_at_us` and returns its id.
  std::string enqueue(const std::string& function, std::int64_t run_at_us = 1000) {
    AsyncTask t = task_for(function, run_at_us);
    auto st = registry_->enqueue_task(t, 1000);
    EXPECT_TRUE(st) << st.error().message;
    return t.id;
  }

  AsyncTask claim(const std::string& node, std::int64_t now_us, std::int64_t lease_us = 30'000) {
    auto claimed = registry_->claim_task(node, now_us, lease_us);
    EXPECT_TRUE(claimed) << claimed.error().message;
    EXPECT_TRUE(claimed && claimed->has_value()) << "nothing was due at " << now_us;
    return claimed && claimed->has_value() ? **claimed : AsyncTask{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

// --- versions ---------------------------------------------------------------

TEST_F(StoreLifecycleTest, DeploysAreNumberedFromOneAndListedNewestFirst) {
  auto first = registry_->put_function(function_with("fn", 'a'));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->version, 1U);
  auto second = registry_->put_function(function_with("fn", 'b'));
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->version, 2U);
  EXPECT_EQ(deploy("fn", 'c'), 3U);
  // Another function counts on its own.
  EXPECT_EQ(deploy("other", '9'), 1U);

  auto fn = registry_->get_function("fn");
  ASSERT_TRUE(fn);
  EXPECT_EQ(fn->version, 3U);
  EXPECT_EQ(fn->manifest.wasm_module, module('c'));
  auto all = registry_->list_functions();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].version, 3U);
  EXPECT_EQ((*all)[1].version, 1U);

  auto versions = registry_->list_versions("fn");
  ASSERT_TRUE(versions) << versions.error().message;
  ASSERT_EQ(numbers(*versions), (std::vector<std::uint64_t>{3, 2, 1}));
  EXPECT_EQ((*versions)[0].manifest.wasm_module, module('c'));
  EXPECT_EQ((*versions)[2].manifest.wasm_module, module('a'));
  EXPECT_GE((*versions)[0].created_at_us, (*versions)[1].created_at_us);
  EXPECT_EQ((*versions)[0].created_at_us, fn->updated_at_us);

  auto v2 = registry_->get_version("fn", 2);
  ASSERT_TRUE(v2) << v2.error().message;
  EXPECT_EQ(v2->version, 2U);
  EXPECT_EQ(v2->manifest.wasm_module, module('b'));

  auto missing = registry_->get_version("fn", 9);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(missing.error().message,
            "function 'fn' has no version 9 (kept versions: 1-3; see GET "
            "/v1/functions/fn/versions)");

  auto ghost = registry_->list_versions("ghost");
  ASSERT_FALSE(ghost);
  EXPECT_EQ(ghost.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(ghost.error().message, function_not_found("ghost").message);
  auto ghost_version = registry_->get_version("ghost", 1);
  ASSERT_FALSE(ghost_version);
  EXPECT_EQ(ghost_version.error().message, function_not_found("ghost").message);
  EXPECT_EQ(registry_->list_versions("Bad Name").error().kind, ErrorKind::kInvalidArgument);
}

TEST_F(StoreLifecycleTest, UpdatedAtGrowsWithEveryChange) {
  std::int64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    // No sleeping: many changes within one clock tick still order.
    if (i % 3 == 2) {
      ASSERT_TRUE(registry_->activate_version("fn", 1));
    } else {
      deploy("fn", 'a');
    }
    auto fn = registry_->get_function("fn");
    ASSERT_TRUE(fn);
    EXPECT_GT(fn->updated_at_us, last) << "change " << i;
    last = fn->updated_at_us;
  }
}

TEST_F(StoreLifecycleTest, PruningKeepsTheNewestVersionsAndNumberingGoesOn) {
  RegistryOptions options;
  options.max_versions_per_function = 3;
  reopen(options);
  for (char c : {'a', 'b', 'c', 'd', 'e'}) deploy("fn", c);
  EXPECT_EQ(kept("fn"), (std::vector<std::uint64_t>{5, 4, 3}));
  auto pruned = registry_->get_version("fn", 1);
  ASSERT_FALSE(pruned);
  EXPECT_EQ(pruned.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(pruned.error().message.find("kept versions: 3-5"), std::string::npos)
      << pruned.error().message;
  // A pruned number is never handed out again.
  EXPECT_EQ(deploy("fn", 'f'), 6U);
  EXPECT_EQ(kept("fn"), (std::vector<std::uint64_t>{6, 5, 4}));

  // The maximum is at least 1.
  options.max_versions_per_function = 0;
  auto refused = Registry::open(dir_.path() / "other", options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidArgument);
}

TEST_F(StoreLifecycleTest, AVersionNamedByAPendingTaskIsNeverPruned) {
  RegistryOptions options;
  options.max_versions_per_function = 2;
  reopen(options);
  deploy("fn", 'a');
  // Version 0 pins the task to the version serving now.
  const std::string id = enqueue("fn");
  auto queued = registry_->get_task(id);
  ASSERT_TRUE(queued) << queued.error().message;
  EXPECT_EQ(queued->version, 1U);

  for (char c : {'b', 'c', 'd'}) deploy("fn", c);
  EXPECT_EQ(kept("fn"), (std::vector<std::uint64_t>{4, 3, 1}));
  auto v2 = registry_->get_version("fn", 2);
  ASSERT_FALSE(v2);
  EXPECT_NE(v2.error().message.find("kept versions: 1, 3-4"), std::string::npos)
      << v2.error().message;

  // Running protects it as much as queued.
  AsyncTask running = claim("node-a", 1000);
  EXPECT_EQ(running.id, id);
  deploy("fn", 'e');
  EXPECT_EQ(kept("fn"), (std::vector<std::uint64_t>{5, 4, 1}));
  auto v1 = registry_->get_version("fn", 1);
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->manifest.wasm_module, module('a'));

  // Once the task is done, the next deploy prunes it like any other.
  running.state = TaskState::kDone;
  ASSERT_TRUE(registry_->finish_task(running));
  deploy("fn", 'f');
  EXPECT_EQ(kept("fn"), (std::vector<std::uint64_t>{6, 5}));
}

TEST_F(StoreLifecycleTest, ActivateVersionServesAnOlderManifest) {
  for (char c : {'a', 'b', 'c'}) deploy("fn", c);
  auto before = registry_->get_function("fn");
  ASSERT_TRUE(before);

  auto active = registry_->activate_version("fn", 1);
  ASSERT_TRUE(active) << active.error().message;
  EXPECT_EQ(active->name, "fn");
  EXPECT_EQ(active->version, 1U);
  EXPECT_EQ(active->manifest.wasm_module, module('a'));
  EXPECT_EQ(active->created_at_us, before->created_at_us);
  EXPECT_GT(active->updated_at_us, before->updated_at_us);

  auto stored = registry_->get_function("fn");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->version, 1U);
  EXPECT_EQ(manifest_to_json(stored->manifest), manifest_to_json(active->manifest));
  EXPECT_EQ(stored->updated_at_us, active->updated_at_us);
  // A rollback creates no version, and the next deploy follows the newest.
  EXPECT_EQ(kept("fn"), (std::vector<std::uint64_t>{3, 2, 1}));
  EXPECT_EQ(deploy("fn", 'd'), 4U);
  EXPECT_EQ(registry_->get_function("fn")->version, 4U);

  auto missing = registry_->activate_version("fn", 7);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(missing.error().message,
            "function 'fn' has no version 7 (kept versions: 1-4; see GET "
            "/v1/functions/fn/versions)");
  // A failed activation changes nothing.
  EXPECT_EQ(registry_->get_function("fn")->version, 4U);

  auto ghost = registry_->activate_version("ghost", 1);
  ASSERT_FALSE(ghost);
  EXPECT_EQ(ghost.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(ghost.error().message, function_not_found("ghost").message);
}

TEST_F(StoreLifecycleTest, TheServingVersionAfterARollbackIsNeverPruned) {
  RegistryOptions options;
  options.max_versions_per_function = 5;
  reopen(options);
  for (char c : {'a', 'b', 'c', 'd', 'e'}) deploy("fn", c);
  // The maximum is lowered across a restart; the rollback applies it but
  // keeps the version it makes serving, however old.
  options.max_versions_per_function = 2;
  reopen(options);
  auto active = registry_->activate_version("fn", 1);
  ASSERT_TRUE(active) << active.error().message;
  EXPECT_EQ(kept("fn"), (std::vector<std::uint64_t>{5, 4, 1}));
  auto fn = registry_->get_function("fn");
  ASSERT_TRUE(fn);
  EXPECT_EQ(fn->version, 1U);
  EXPECT_EQ(fn->manifest.wasm_module, module('a'));
  // Rolling back again to a kept version works after the pruning.
  ASSERT_TRUE(registry_->activate_version("fn", 4));
  EXPECT_EQ(kept("fn"), (std::vector<std::uint64_t>{5, 4}));
  EXPECT_EQ(registry_->get_function("fn")->manifest.wasm_module, module('d'));
}

TEST_F(StoreLifecycleTest, RecordsCarryTheirVersionAndTrigger) {
  deploy("fn", 'a');
  deploy("fn", 'b');
  std::vector<InvocationRecord> records;
  using Start = std::pair<std::uint64_t, TriggerKind>;
  for (auto [version, trigger] : {Start{1, TriggerKind::kCron}, Start{2, TriggerKind::kAsync},
                                  Start{2, TriggerKind::kHttp}}) {
    InvocationRecord r;
    r.id = new_invocation_id();
    r.function = "fn";
    r.version = version;
    r.trigger = trigger;
    records.push_back(r);
  }
  for (const auto& st : registry_->add_invocations(records)) {
    ASSERT_TRUE(st) << st.error().message;
  }
  for (const auto& r : records) {
    auto back = registry_->get_invocation(r.id);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->version, r.version);
    EXPECT_EQ(back->trigger, r.trigger);
  }
  InvocationQuery q;
  q.function = "fn";
  auto listed = registry_->list_invocations(q);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 3U);
  // Newest first.
  EXPECT_EQ((*listed)[0].trigger, TriggerKind::kHttp);
  EXPECT_EQ((*listed)[1].trigger, TriggerKind::kAsync);
  EXPECT_EQ((*listed)[2].trigger, TriggerKind::kCron);
  EXPECT_EQ((*listed)[2].version, 1U);
}

// --- migration ---------------------------------------------------------------

TEST_F(StoreLifecycleTest, MigratesASchemaVersion3Database) {
  registry_.reset();
  std::filesystem::remove_all(dir_.path());
  std::filesystem::create_directories(dir_.path());
  const std::string old_id = new_invocation_id();
  const std::string manifest = R"({"wasm":{"module":")" + module('a') + R"("}})";
  {
    // The schema as version 3 left it (steps 0-2), with a function and a
    // record in it.
    auto db = Database::open(dir_.path() / "nebula.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec(R"sql(
CREATE TABLE functions (name TEXT PRIMARY KEY NOT NULL, manifest TEXT NOT NULL,
  created_at_us INTEGER NOT NULL, updated_at_us INTEGER NOT NULL);
CREATE TABLE invocations (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE, runtime TEXT NOT NULL,
  outcome TEXT NOT NULL, exit_code INTEGER NOT NULL, cold INTEGER NOT NULL,
  queue_us INTEGER NOT NULL, startup_us INTEGER NOT NULL, exec_us INTEGER NOT NULL,
  teardown_us INTEGER NOT NULL, total_us INTEGER NOT NULL, cpu_us INTEGER,
  max_memory_bytes INTEGER, input_bytes INTEGER NOT NULL, output_bytes INTEGER NOT NULL,
  started_at_us INTEGER NOT NULL, message TEXT NOT NULL, stderr_tail TEXT NOT NULL,
  output_truncated INTEGER NOT NULL DEFAULT 0, node TEXT NOT NULL DEFAULT '');
CREATE INDEX invocations_by_function ON invocations (function, seq);
INSERT INTO functions VALUES ('old', ')sql" +
                         manifest + R"sql(', 100, 200);
INSERT INTO invocations VALUES (1, ')sql" +
                         old_id + R"sql(', 'old', 'wasm', 'ok', 0, 1,
  1, 2, 3, 4, 10, 77, 65536, 5, 6, 1700000000000000, '', 'tail', 0, 'node-1');
PRAGMA user_version = 3;
)sql"));
  }
  reopen();

  // The function serves as its version 1, holding the manifest it had.
  auto fn = registry_->get_function("old");
  ASSERT_TRUE(fn) << fn.error().message;
  EXPECT_EQ(fn->version, 1U);
  EXPECT_EQ(fn->created_at_us, 100);
  EXPECT_EQ(fn->updated_at_us, 200);
  auto versions = registry_->list_versions("old");
  ASSERT_TRUE(versions) << versions.error().message;
  ASSERT_EQ(versions->size(), 1U);
  EXPECT_EQ(versions->front().version, 1U);
  EXPECT_EQ(versions->front().manifest.wasm_module, module('a'));
  EXPECT_EQ(versions->front().created_at_us, 200);

  auto record = registry_->get_invocation(old_id);
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_EQ(record->version, 0U);
  EXPECT_EQ(record->trigger, TriggerKind::kHttp);
  EXPECT_EQ(record->node, "node-1");
  EXPECT_EQ(record->cpu_us, std::optional<std::uint64_t>(77));

  // The next deploy is version 2; the new tables work.
  auto put = registry_->put_function(function_with("old", 'b'));
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_FALSE(put->created);
  EXPECT_EQ(put->version, 2U);
  EXPECT_TRUE(registry_->put_secret("key", "sealed"));
  const std::string id = enqueue("old");
  EXPECT_EQ(registry_->get_task(id)->version, 2U);
  auto fired = registry_->claim_firing("old", "cron-0", 5);
  ASSERT_TRUE(fired) << fired.error().message;
  EXPECT_TRUE(*fired);

  registry_.reset();
  auto db = Database::open(dir_.path() / "nebula.db");
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->query_int("PRAGMA user_version"), 4);
}

// --- secrets -----------------------------------------------------------------

TEST_F(StoreLifecycleTest, SecretsKeepTheirSealedBytesExactly) {
  const std::string sealed("\x00\xff\x80nonce\x01", 9);
  auto created = registry_->put_secret("db-password", sealed);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_TRUE(*created);
  auto value = registry_->get_secret("db-password");
  ASSERT_TRUE(value) << value.error().message;
  EXPECT_EQ(*value, sealed);

  ASSERT_TRUE(registry_->put_secret("api-key", ""));
  EXPECT_EQ(*registry_->get_secret("api-key"), "");

  auto list = registry_->list_secrets();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2U);
  EXPECT_EQ((*list)[0].name, "api-key");
  EXPECT_EQ((*list)[1].name, "db-password");
  const SecretInfo first = (*list)[1];
  EXPECT_GT(first.created_at_us, 0);
  EXPECT_EQ(first.updated_at_us, first.created_at_us);

  // A replace keeps the creation time and reports false.
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto replaced = registry_->put_secret("db-password", "rotated");
  ASSERT_TRUE(replaced);
  EXPECT_FALSE(*replaced);
  EXPECT_EQ(*registry_->get_secret("db-password"), "rotated");
  list = registry_->list_secrets();
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[1].created_at_us, first.created_at_us);
  EXPECT_GT((*list)[1].updated_at_us, first.updated_at_us);

  auto deleted = registry_->delete_secret("db-password");
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(*registry_->delete_secret("db-password"));
  auto gone = registry_->get_secret("db-password");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(gone.error().message.find("'db-password'"), std::string::npos);
  EXPECT_EQ(registry_->list_secrets()->size(), 1U);

  // Survives a restart.
  reopen();
  EXPECT_EQ(*registry_->get_secret("api-key"), "");

  for (std::string_view bad : {"", "Upper", "../x"}) {
    EXPECT_EQ(registry_->put_secret(bad, "x").error().kind, ErrorKind::kInvalidArgument);
    EXPECT_EQ(registry_->get_secret(bad).error().kind, ErrorKind::kInvalidArgument);
  }
}

// --- tasks -------------------------------------------------------------------

TEST_F(StoreLifecycleTest, ATaskIsQueuedClaimedAndFinished) {
  deploy("fn", 'a');
  AsyncTask t = task_for("fn", 5000);
  t.runtime = RuntimeKind::kDocker;
  t.trigger = TriggerKind::kCron;
  t.body = std::string("in\0put\xff", 7);
  t.content_type = "application/octet-stream";
  t.query = "a=1&b=2";
  t.callback_url = "http://127.0.0.1:9/done";
  t.max_retries = 4;
  // Fields the store manages are reset on enqueue.
  t.state = TaskState::kDone;
  t.attempts = 9;
  t.node = "stale";
  ASSERT_TRUE(registry_->enqueue_task(t, 10));

  auto queued = registry_->get_task(t.id);
  ASSERT_TRUE(queued) << queued.error().message;
  EXPECT_EQ(queued->state, TaskState::kQueued);
  EXPECT_EQ(queued->attempts, 0U);
  EXPECT_EQ(queued->node, "");
  EXPECT_EQ(queued->version, 1U);
  EXPECT_GT(queued->created_at_us, 0);
  EXPECT_EQ(queued->next_run_at_us, 5000);
  EXPECT_EQ(queued->body, t.body);
  EXPECT_EQ(queued->runtime, std::optional<RuntimeKind>(RuntimeKind::kDocker));
  EXPECT_EQ(queued->trigger, TriggerKind::kCron);
  EXPECT_EQ(queued->content_type, t.content_type);
  EXPECT_EQ(queued->query, t.query);
  EXPECT_EQ(queued->callback_url, t.callback_url);
  EXPECT_EQ(queued->max_retries, 4U);
  EXPECT_EQ(registry_->next_task_due()->value_or(-1), 5000);

  // Not due before its run time.
  auto early = registry_->claim_task("node-a", 4999, 100);
  ASSERT_TRUE(early);
  EXPECT_FALSE(early->has_value());

  AsyncTask running = claim("node-a", 5000, 100);
  EXPECT_EQ(running.id, t.id);
  EXPECT_EQ(running.state, TaskState::kRunning);
  EXPECT_EQ(running.node, "node-a");
  EXPECT_EQ(running.lease_until_us, 5100);
  EXPECT_EQ(running.attempts, 1U);
  EXPECT_EQ(running.body, t.body);
  // Held: nothing else is due until the lease ends.
  auto again = registry_->claim_task("node-b", 5050, 100);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(registry_->next_task_due()->value_or(-1), 5100);

  running.state = TaskState::kDone;
  running.invocation_id = new_invocation_id();
  running.status = 200;
  running.result = std::string("out\0", 4);
  running.result_type = "text/plain";
  ASSERT_TRUE(registry_->finish_task(running));
  auto done = registry_->get_task(t.id);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state, TaskState::kDone);
  EXPECT_EQ(done->status, 200);
  EXPECT_EQ(done->result, running.result);
  EXPECT_EQ(done->result_type, "text/plain");
  EXPECT_EQ(done->invocation_id, running.invocation_id);
  EXPECT_EQ(done->attempts, 1U);
  EXPECT_GT(done->finished_at_us, 0);
  EXPECT_FALSE(registry_->next_task_due()->has_value());

  // A finished task cannot be written back again.
  auto twice = registry_->finish_task(running);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::kNotFound);

  auto unknown = registry_->get_task(new_invocation_id());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::kNotFound);
}

TEST_F(StoreLifecycleTest, TasksAreClaimedInTheOrderTheyFallDue) {
  deploy("fn", 'a');
  const std::string late = enqueue("fn", 3000);
  const std::string first = enqueue("fn", 1000);
  const std::string second = enqueue("fn", 1000);
  EXPECT_EQ(claim("node", 5000).id, first);
  EXPECT_EQ(claim("node", 5000).id, second);
  EXPECT_EQ(claim("node", 5000).id, late);
  auto none = registry_->claim_task("node", 5000, 100);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST_F(StoreLifecycleTest, ARetryRunsAgainAfterItsBackoffThenDies) {
  deploy("fn", 'a');
  const std::string id = enqueue("fn", 1000);
  AsyncTask t = claim("node-a", 1000);
  t.state = TaskState::kQueued;
  t.next_run_at_us = 2000;
  t.status = 500;
  ASSERT_TRUE(registry_->finish_task(t));
  auto waiting = registry_->get_task(id);
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->state, TaskState::kQueued);
  EXPECT_EQ(waiting->status, 500);
  EXPECT_EQ(waiting->finished_at_us, 0);
  EXPECT_EQ(registry_->next_task_due()->value_or(-1), 2000);

  auto early = registry_->claim_task("node-a", 1999, 100);
  ASSERT_TRUE(early);
  EXPECT_FALSE(early->has_value());
  AsyncTask retry = claim("node-b", 2000);
  EXPECT_EQ(retry.id, id);
  EXPECT_EQ(retry.attempts, 2U);
  EXPECT_EQ(retry.node, "node-b");

  retry.state = TaskState::kDead;
  retry.finished_at_us = 2500;
  ASSERT_TRUE(registry_->finish_task(retry));
  auto dead = registry_->get_task(id);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->state, TaskState::kDead);
  EXPECT_EQ(dead->finished_at_us, 2500);
  EXPECT_EQ(dead->attempts, 2U);
}

TEST_F(StoreLifecycleTest, AnExpiredLeaseLetsAnotherNodeTakeTheTask) {
  deploy("fn", 'a');
  const std::string id = enqueue("fn", 1000);
  AsyncTask held = claim("node-a", 1000, 100);
  auto during = registry_->claim_task("node-b", 1099, 100);
  ASSERT_TRUE(during);
  EXPECT_FALSE(during->has_value());

  AsyncTask taken = claim("node-b", 1100, 100);
  EXPECT_EQ(taken.id, id);
  EXPECT_EQ(taken.node, "node-b");
  EXPECT_EQ(taken.attempts, 2U);
  EXPECT_EQ(taken.lease_until_us, 1200);

  // The node that lost it cannot write it back.
  held.state = TaskState::kDone;
  auto lost = registry_->finish_task(held);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(lost.error().message.find("'node-a'"), std::string::npos) << lost.error().message;
  EXPECT_EQ(registry_->get_task(id)->state, TaskState::kRunning);

  taken.state = TaskState::kDone;
  ASSERT_TRUE(registry_->finish_task(taken));
  EXPECT_EQ(registry_->get_task(id)->state, TaskState::kDone);
}

TEST_F(StoreLifecycleTest, ReleaseTasksMakesANodesTasksDueAgainNow) {
  deploy("fn", 'a');
  for (int i = 0; i < 3; ++i) enqueue("fn", 1000);
  // On the wall clock with an hour's lease: only a release frees them.
  const std::int64_t lease = 3'600'000'000;
  const std::int64_t start = now_unix_us();
  const AsyncTask a1 = claim("node-a", start, lease);
  const AsyncTask a2 = claim("node-a", start, lease);
  const AsyncTask b1 = claim("node-b", start, lease);

  const std::int64_t before = now_unix_us();
  ASSERT_TRUE(registry_->release_tasks("node-a"));
  for (const AsyncTask* t : {&a1, &a2}) {
    auto back = registry_->get_task(t->id);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->state, TaskState::kQueued);
    EXPECT_EQ(back->attempts, 1U);
    EXPECT_GE(back->next_run_at_us, before);
    EXPECT_LE(back->next_run_at_us, now_unix_us());
  }
  EXPECT_EQ(registry_->get_task(b1.id)->state, TaskState::kRunning);

  const std::int64_t now = now_unix_us();
  std::set<std::string> retaken{claim("node-a", now, lease).id, claim("node-a", now, lease).id};
  EXPECT_EQ(retaken, (std::set<std::string>{a1.id, a2.id}));
  auto none = registry_->claim_task("node-a", now, lease);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  // Releasing a node that holds nothing does nothing.
  ASSERT_TRUE(registry_->release_tasks("node-z"));
  EXPECT_EQ(registry_->get_task(b1.id)->node, "node-b");
}

TEST_F(StoreLifecycleTest, AFullQueueIsOverloaded) {
  deploy("fn", 'a');
  deploy("other", 'b');
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(registry_->enqueue_task(task_for("fn"), 2));
  auto full = registry_->enqueue_task(task_for("fn"), 2);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, ErrorKind::kOverloaded);
  EXPECT_EQ(full.error().message,
            "the queue of function 'fn' is full: 2 calls waiting, retry later");
  // Each function has its own queue.
  EXPECT_TRUE(registry_->enqueue_task(task_for("other"), 2));

  // A running task still counts; a finished one does not.
  AsyncTask running = claim("node", 1000);
  EXPECT_EQ(running.function, "fn");
  EXPECT_EQ(registry_->enqueue_task(task_for("fn"), 2).error().kind, ErrorKind::kOverloaded);
  running.state = TaskState::kDone;
  ASSERT_TRUE(registry_->finish_task(running));
  EXPECT_TRUE(registry_->enqueue_task(task_for("fn"), 2));

  auto ghost = registry_->enqueue_task(task_for("ghost"), 2);
  ASSERT_FALSE(ghost);
  EXPECT_EQ(ghost.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(ghost.error().message, function_not_found("ghost").message);

  AsyncTask twice = task_for("other");
  ASSERT_TRUE(registry_->enqueue_task(twice, 10));
  auto duplicate = registry_->enqueue_task(twice, 10);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().kind, ErrorKind::kInvalidArgument);

  AsyncTask pinned = task_for("other");
  pinned.version = 9;
  auto no_version = registry_->enqueue_task(pinned, 10);
  ASSERT_FALSE(no_version);
  EXPECT_EQ(no_version.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(no_version.error().message.find("has no version 9"), std::string::npos);
}

TEST_F(StoreLifecycleTest, FinishedTasksArePrunedPerFunctionOldestFirst) {
  RegistryOptions options;
  options.max_records_per_function = 3;
  reopen(options);
  deploy("fn", 'a');
  deploy("other", 'b');
  const std::string other = enqueue("other", 1'000'000);
  std::vector<std::string> finished;
  for (int i = 0; i < 5; ++i) {
    enqueue("fn", 1000 + i);
    AsyncTask t = claim("node", 10'000);
    EXPECT_EQ(t.function, "fn");
    t.state = i % 2 == 0 ? TaskState::kDone : TaskState::kDead;
    t.finished_at_us = 20'000 + i;
    ASSERT_TRUE(registry_->finish_task(t));
    finished.push_back(t.id);
  }
  // Queued tasks are never pruned, however many finished.
  const std::string pending = enqueue("fn", 1'000'000);

  EXPECT_EQ(registry_->get_task(finished[0]).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(registry_->get_task(finished[1]).error().kind, ErrorKind::kNotFound);
  for (std::size_t i = 2; i < finished.size(); ++i) {
    EXPECT_TRUE(registry_->get_task(finished[i])) << i;
  }
  EXPECT_EQ(registry_->get_task(pending)->state, TaskState::kQueued);
  EXPECT_EQ(registry_->get_task(other)->state, TaskState::kQueued);
}

// Two connections to one database (two Registry objects, as two processes
// would have), two threads each: every task is claimed exactly once.
TEST_F(StoreLifecycleTest, ConcurrentClaimersGetEachTaskExactlyOnce) {
  constexpr int kTasks = 200;
  deploy("fn", 'a');
  std::set<std::string> queued;
  for (int i = 0; i < kTasks; ++i) queued.insert(enqueue("fn", 1000 + i % 7));
  auto second = Registry::open(dir_.path());
  ASSERT_TRUE(second) << second.error().message;
  Registry* registries[] = {registry_.get(), second->get()};

  std::mutex mutex;
  std::multiset<std::string> claimed;
  std::map<std::string, int> per_node;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 4; ++n) {
    threads.emplace_back([&, n] {
      Registry& registry = *registries[n % 2];
      const std::string node = "node-" + std::to_string(n);
      for (;;) {
        auto task = registry.claim_task(node, 10'000, 3'600'000'000);
        if (!task) {
          ++failures;
          return;
        }
        if (!task->has_value()) return;
        AsyncTask t = **task;
        {
          std::lock_guard lock(mutex);
          claimed.insert(t.id);
          ++per_node[node];
        }
        t.state = TaskState::kDone;
        if (!registry.finish_task(t)) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kTasks));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()), queued);
  int total = 0;
  for (const auto& [node, count] : per_node) total += count;
  EXPECT_EQ(total, kTasks);
  for (const auto& id : queued) {
    auto t = registry_->get_task(id);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->attempts, 1U);
    EXPECT_EQ(t->state, TaskState::kDone);
  }
}

// --- schedules -----------------------------------------------------------------

TEST_F(StoreLifecycleTest, AFiringIsClaimedOncePerDueTime) {
  deploy("fn", 'a');
  EXPECT_FALSE(registry_->last_firing("fn", "cron-0")->has_value());
  EXPECT_TRUE(*registry_->claim_firing("fn", "cron-0", 100));
  EXPECT_FALSE(*registry_->claim_firing("fn", "cron-0", 100));
  // An earlier due time than the last claimed one is never claimed.
  EXPECT_FALSE(*registry_->claim_firing("fn", "cron-0", 50));
  EXPECT_EQ(registry_->last_firing("fn", "cron-0")->value_or(-1), 100);
  EXPECT_TRUE(*registry_->claim_firing("fn", "cron-0", 200));
  EXPECT_EQ(registry_->last_firing("fn", "cron-0")->value_or(-1), 200);
  // Keys are independent.
  EXPECT_TRUE(*registry_->claim_firing("fn", "cron-1", 100));
  EXPECT_EQ(registry_->last_firing("fn", "cron-1")->value_or(-1), 100);
  // Survives a restart.
  reopen();
  EXPECT_FALSE(*registry_->claim_firing("fn", "cron-0", 200));
  EXPECT_EQ(registry_->last_firing("fn", "cron-0")->value_or(-1), 200);

  auto ghost = registry_->claim_firing("ghost", "cron-0", 100);
  ASSERT_FALSE(ghost);
  EXPECT_EQ(ghost.error().kind, ErrorKind::kNotFound);
  // The failed claim did not disturb the connection.
  EXPECT_TRUE(*registry_->claim_firing("fn", "cron-0", 300));
}

// fire_task claims and queues together: a due time claimed already queues
// nothing, and a task refused leaves the due time unclaimed.
TEST_F(StoreLifecycleTest, AFiringAndItsTaskAreOneWrite) {
  deploy("fn", 'a');
  const AsyncTask first = task_for("fn", 1000);
  auto fired = registry_->fire_task(first, 10, "cron-0", 100);
  ASSERT_TRUE(fired) << fired.error().message;
  EXPECT_TRUE(*fired);
  EXPECT_TRUE(registry_->get_task(first.id));
  EXPECT_EQ(registry_->last_firing("fn", "cron-0")->value_or(-1), 100);

  // The same due time again (another node): nothing is queued.
  const AsyncTask again = task_for("fn", 1000);
  fired = registry_->fire_task(again, 10, "cron-0", 100);
  ASSERT_TRUE(fired) << fired.error().message;
  EXPECT_FALSE(*fired);
  EXPECT_EQ(registry_->get_task(again.id).error().kind, ErrorKind::kNotFound);

  // A full queue (one task pending, at most one): refused, and the next due
  // time stays unclaimed, so nothing claims to have fired it.
  const AsyncTask refused = task_for("fn", 1000);
  fired = registry_->fire_task(refused, 1, "cron-0", 200);
  ASSERT_FALSE(fired);
  EXPECT_EQ(fired.error().kind, ErrorKind::kOverloaded);
  EXPECT_EQ(registry_->get_task(refused.id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(registry_->last_firing("fn", "cron-0")->value_or(-1), 100);

  // A pinned version that is not kept: the same.
  AsyncTask pinned = task_for("fn", 1000);
  pinned.version = 7;
  fired = registry_->fire_task(pinned, 10, "cron-0", 200);
  ASSERT_FALSE(fired);
  EXPECT_EQ(fired.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(registry_->last_firing("fn", "cron-0")->value_or(-1), 100);

  fired = registry_->fire_task(refused, 10, "cron-0", 200);
  ASSERT_TRUE(fired) << fired.error().message;
  EXPECT_TRUE(*fired);
  EXPECT_EQ(registry_->last_firing("fn", "cron-0")->value_or(-1), 200);
  EXPECT_EQ(registry_->get_task(refused.id)->state, TaskState::kQueued);

  auto ghost = registry_->fire_task(task_for("ghost", 1000), 10, "cron-0", 100);
  ASSERT_FALSE(ghost);
  EXPECT_EQ(ghost.error().kind, ErrorKind::kNotFound);
  EXPECT_FALSE(registry_->last_firing("ghost", "cron-0")->has_value());
}

// Eight claimers on two connections try every due time together: exactly
// one of them wins each.
TEST_F(StoreLifecycleTest, ConcurrentClaimersFireEachDueTimeOnce) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 40;
  deploy("fn", 'a');
  auto second = Registry::open(dir_.path());
  ASSERT_TRUE(second) << second.error().message;
  Registry* registries[] = {registry_.get(), second->get()};

  std::vector<std::atomic<int>> winners(kRounds);
  std::atomic<int> failures{0};
  std::barrier round(kThreads);
  std::vector<std::thread> threads;
  for (int n = 0; n < kThreads; ++n) {
    threads.emplace_back([&, n] {
      Registry& registry = *registries[n % 2];
      for (int r = 0; r < kRounds; ++r) {
        round.arrive_and_wait();
        auto claimed = registry.claim_firing("fn", "cron-0", 1000 + r);
        if (!claimed) {
          ++failures;
        } else if (*claimed) {
          ++winners[static_cast<std::size_t>(r)];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int r = 0; r < kRounds; ++r) {
    EXPECT_EQ(winners[static_cast<std::size_t>(r)].load(), 1) << "due time " << 1000 + r;
  }
  EXPECT_EQ((*second)->last_firing("fn", "cron-0")->value_or(-1), 1000 + kRounds - 1);
}

// --- delete --------------------------------------------------------------------

TEST_F(StoreLifecycleTest, DeleteFunctionTakesItsVersionsTasksAndFiringsAlong) {
  for (char c : {'a', 'b', 'c'}) deploy("doomed", c);
  deploy("kept", '8');
  const std::string doomed_task = enqueue("doomed", 1000);
  const std::string kept_task = enqueue("kept", 1000);
  ASSERT_TRUE(*registry_->claim_firing("doomed", "cron-0", 100));
  ASSERT_TRUE(*registry_->claim_firing("kept", "cron-0", 100));
  InvocationRecord r;
  r.id = new_invocation_id();
  r.function = "doomed";
  ASSERT_TRUE(registry_->add_invocation(r));

  auto existed = registry_->delete_function("doomed");
  ASSERT_TRUE(existed) << existed.error().message;
  EXPECT_TRUE(*existed);
  EXPECT_EQ(registry_->list_versions("doomed").error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(registry_->get_task(doomed_task).error().kind, ErrorKind::kNotFound);
  EXPECT_FALSE(registry_->last_firing("doomed", "cron-0")->has_value());
  EXPECT_EQ(registry_->get_invocation(r.id).error().kind, ErrorKind::kNotFound);

  // A new function of the same name starts from nothing.
  EXPECT_EQ(deploy("doomed", '9'), 1U);
  EXPECT_EQ(kept("doomed"), (std::vector<std::uint64_t>{1}));
  EXPECT_FALSE(registry_->last_firing("doomed", "cron-0")->has_value());
  EXPECT_TRUE(*registry_->claim_firing("doomed", "cron-0", 50));

  // The other function is untouched.
  EXPECT_EQ(kept("kept"), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(registry_->get_task(kept_task)->state, TaskState::kQueued);
  EXPECT_EQ(registry_->last_firing("kept", "cron-0")->value_or(-1), 100);
  AsyncTask next = claim("node", 5000);
  EXPECT_EQ(next.id, kept_task);
}

}  // namespace
}  // namespace nebula::store
