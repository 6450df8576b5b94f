#include "store/registry.hpp"

#include <atomic>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/invocation_id.hpp"
#include "store/sqlite.hpp"
#include "unit/store/temp_dir.hpp"

namespace nebula::store {
namespace {

const std::string kModule = "sha256:" + std::string(64, 'a');

Function make_function(std::string name) {
  Function f;
  f.name = std::move(name);
  f.manifest.wasm_module = kModule;
  return f;
}

// Every field set to a value that differs from its default.
Function full_function() {
  auto manifest = parse_manifest(R"({
    "wasm": {"module": ")" + kModule +
                                 R"("},
    "docker": {"image": "nebula-fn-echo:latest"},
    "default_runtime": "docker",
    "env": {"GREETING": "hi there", "EMPTY": ""},
    "args": ["--verbose", "two words"],
    "limits": {"timeout_ms": 2500, "memory_mb": 64, "max_input_bytes": 1000,
               "max_output_bytes": 2000},
    "docker_pool": {"min_warm": 1, "max_warm": 3, "idle_timeout_s": 15}
  })");
  EXPECT_TRUE(manifest) << manifest.error().message;
  Function f;
  f.name = "echo";
  f.manifest = std::move(manifest).value();
  return f;
}

// Every field set, including values at the edges of their types.
InvocationRecord full_record(std::string function) {
  InvocationRecord r;
  r.id = new_invocation_id();
  r.function = std::move(function);
  r.runtime = RuntimeKind::kDocker;
  r.outcome = Outcome::kExit;
  r.exit_code = -3;
  r.cold = false;
  r.output_truncated = true;
  r.timings = Timings{11, 22, 33, 44, 110};
  r.cpu_us = std::numeric_limits<std::uint64_t>::max();
  r.max_memory_bytes = 128ULL << 20;
  r.input_bytes = 6;
  r.output_bytes = 7;
  r.started_at_us = 1'700'000'000'000'001;
  r.message = "exited with code 253 — see stderr";
  r.stderr_tail = std::string("line 1\nline 2\0binary\xC3\xA9", 21);
  r.node = "node-7";
  r.version = std::numeric_limits<std::uint64_t>::max();
  r.trigger = TriggerKind::kCron;
  return r;
}

InvocationRecord record_for(std::string function, RuntimeKind runtime = RuntimeKind::kWasm,
                            Outcome outcome = Outcome::kOk) {
  InvocationRecord r;
  r.id = new_invocation_id();
  r.function = std::move(function);
  r.runtime = runtime;
  r.outcome = outcome;
  return r;
}

void expect_same(const InvocationRecord& a, const InvocationRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.function, b.function);
  EXPECT_EQ(a.runtime, b.runtime);
  EXPECT_EQ(a.outcome, b.outcome);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.cold, b.cold);
  EXPECT_EQ(a.output_truncated, b.output_truncated);
  EXPECT_EQ(a.timings.queue_us, b.timings.queue_us);
  EXPECT_EQ(a.timings.startup_us, b.timings.startup_us);
  EXPECT_EQ(a.timings.exec_us, b.timings.exec_us);
  EXPECT_EQ(a.timings.teardown_us, b.timings.teardown_us);
  EXPECT_EQ(a.timings.total_us, b.timings.total_us);
  EXPECT_EQ(a.cpu_us, b.cpu_us);
  EXPECT_EQ(a.max_memory_bytes, b.max_memory_bytes);
  EXPECT_EQ(a.input_bytes, b.input_bytes);
  EXPECT_EQ(a.output_bytes, b.output_bytes);
  EXPECT_EQ(a.started_at_us, b.started_at_us);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.stderr_tail, b.stderr_tail);
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.trigger, b.trigger);
}

std::vector<std::string> ids_of(const std::vector<InvocationRecord>& records) {
  std::vector<std::string> ids;
  for (const auto& r : records) ids.push_back(r.id);
  return ids;
}

class StoreRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen(RegistryOptions options = {}) {
    registry_.reset();
    auto registry = Registry::open(dir_.path(), options);
    ASSERT_TRUE(registry) << registry.error().message;
    registry_ = std::move(registry).value();
  }

  void deploy(const std::string& name) {
    auto created = registry_->put_function(make_function(name));
    ASSERT_TRUE(created) << created.error().message;
  }

  // Adds `n` records and returns their ids, oldest first.
  std::vector<std::string> add_records(const std::string& function, int n,
                                       RuntimeKind runtime = RuntimeKind::kWasm) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      auto r = record_for(function, runtime);
      EXPECT_TRUE(registry_->add_invocation(r));
      ids.push_back(r.id);
    }
    return ids;
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(StoreRegistryTest, FunctionRoundTripsEveryField) {
  const Function f = full_function();
  auto created = registry_->put_function(f);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->version, 1U);

  auto back = registry_->get_function("echo");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->name, "echo");
  EXPECT_EQ(back->manifest.wasm_module, f.manifest.wasm_module);
  EXPECT_EQ(back->manifest.docker_image, f.manifest.docker_image);
  EXPECT_EQ(back->manifest.default_runtime, RuntimeKind::kDocker);
  EXPECT_EQ(back->manifest.args, f.manifest.args);
  EXPECT_EQ(back->manifest.limits, f.manifest.limits);
  EXPECT_EQ(back->manifest.docker_pool, f.manifest.docker_pool);
  EXPECT_EQ(manifest_to_json(back->manifest), manifest_to_json(f.manifest));
  EXPECT_GT(back->created_at_us, 0);
  EXPECT_EQ(back->updated_at_us, back->created_at_us);
}

TEST_F(StoreRegistryTest, ReplaceKeepsCreatedAtAndUpdatesTheRest) {
  ASSERT_TRUE(registry_->put_function(make_function("echo")));
  auto first = registry_->get_function("echo");
  ASSERT_TRUE(first);

  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  Function changed = full_function();
  auto created = registry_->put_function(changed);
  ASSERT_TRUE(created);
  EXPECT_FALSE(created->created);
  EXPECT_EQ(created->version, 2U);

  auto second = registry_->get_function("echo");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->created_at_us, first->created_at_us);
  EXPECT_GT(second->updated_at_us, first->updated_at_us);
  EXPECT_EQ(manifest_to_json(second->manifest), manifest_to_json(changed.manifest));
}

TEST_F(StoreRegistryTest, UnknownFunctionIsNotFound) {
  auto missing = registry_->get_function("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message.find("'nope'"), std::string::npos);
}

TEST_F(StoreRegistryTest, InvalidNamesAreRejected) {
  for (std::string_view name : {"", "Upper", "../x", "a b", "-lead"}) {
    SCOPED_TRACE(name);
    auto get = registry_->get_function(name);
    ASSERT_FALSE(get);
    EXPECT_EQ(get.error().kind, ErrorKind::kInvalidArgument);
    auto put = registry_->put_function(make_function(std::string(name)));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_FALSE(registry_->delete_function(name));
  }
}

TEST_F(StoreRegistryTest, ListsFunctionsByName) {
  for (const char* name : {"zeta", "alpha", "mid"}) deploy(name);
  auto list = registry_->list_functions();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3U);
  EXPECT_EQ((*list)[0].name, "alpha");
  EXPECT_EQ((*list)[1].name, "mid");
  EXPECT_EQ((*list)[2].name, "zeta");
  EXPECT_EQ((*list)[0].manifest.wasm_module, kModule);
}

TEST_F(StoreRegistryTest, InvocationRoundTripsEveryField) {
  deploy("echo");
  const InvocationRecord r = full_record("echo");
  ASSERT_TRUE(registry_->add_invocation(r));
  auto back = registry_->get_invocation(r.id);
  ASSERT_TRUE(back) << back.error().message;
  expect_same(*back, r);

  auto listed = registry_->list_invocations({});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1U);
  expect_same(listed->front(), r);
}

TEST_F(StoreRegistryTest, UnknownInvocationIsNotFound) {
  auto missing = registry_->get_invocation(new_invocation_id());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
}

TEST_F(StoreRegistryTest, InvocationOfUndeployedFunctionIsRefused) {
  auto st = registry_->add_invocation(record_for("ghost"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(st.error().message.find("'ghost'"), std::string::npos) << st.error().message;
}

TEST_F(StoreRegistryTest, DuplicateInvocationIdIsRefused) {
  deploy("echo");
  const auto r = record_for("echo");
  ASSERT_TRUE(registry_->add_invocation(r));
  auto st = registry_->add_invocation(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kInvalidArgument);
  // The failed insert did not disturb the transaction machinery.
  ASSERT_TRUE(registry_->add_invocation(record_for("echo")));
  EXPECT_EQ(registry_->list_invocations({})->size(), 2U);
}

TEST_F(StoreRegistryTest, DeleteCascadesToInvocations) {
  deploy("doomed");
  deploy("other");
  const auto doomed = add_records("doomed", 3);
  const auto other = add_records("other", 2);

  auto existed = registry_->delete_function("doomed");
  ASSERT_TRUE(existed);
  EXPECT_TRUE(*existed);
  EXPECT_EQ(registry_->get_function("doomed").error().kind, ErrorKind::kNotFound);
  for (const auto& id : doomed) {
    EXPECT_EQ(registry_->get_invocation(id).error().kind, ErrorKind::kNotFound);
  }
  auto rest = registry_->list_invocations({});
  ASSERT_TRUE(rest);
  EXPECT_EQ(ids_of(*rest), (std::vector<std::string>{other[1], other[0]}));

  auto again = registry_->delete_function("doomed");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);

  // A new function of the same name starts with an empty log.
  deploy("doomed");
  InvocationQuery q;
  q.function = "doomed";
  EXPECT_TRUE(registry_->list_invocations(q)->empty());
}

TEST_F(StoreRegistryTest, PruningKeepsTheNewestRecords) {
  RegistryOptions options;
  options.max_records_per_function = 5;
  reopen(options);
  deploy("busy");
  deploy("quiet");
  const auto quiet = add_records("quiet", 3);
  const auto busy = add_records("busy", 12);

  InvocationQuery q;
  q.function = "busy";
  auto kept = registry_->list_invocations(q);
  ASSERT_TRUE(kept);
  EXPECT_EQ(ids_of(*kept),
            (std::vector<std::string>{busy[11], busy[10], busy[9], busy[8], busy[7]}));
  EXPECT_EQ(registry_->get_invocation(busy[6]).error().kind, ErrorKind::kNotFound);
  q.function = "quiet";
  EXPECT_EQ(registry_->list_invocations(q)->size(), 3U);

  // After a restart the count is reloaded and pruning carries on exactly.
  reopen(options);
  const auto more = add_records("busy", 2);
  q.function = "busy";
  kept = registry_->list_invocations(q);
  ASSERT_TRUE(kept);
  EXPECT_EQ(ids_of(*kept),
            (std::vector<std::string>{more[1], more[0], busy[11], busy[10], busy[9]}));

  // A smaller limit after a restart trims the excess on the next insert.
  options.max_records_per_function = 2;
  reopen(options);
  const auto last = add_records("busy", 1);
  kept = registry_->list_invocations(q);
  ASSERT_TRUE(kept);
  EXPECT_EQ(ids_of(*kept), (std::vector<std::string>{last[0], more[1]}));
}

// A large log is pruned in batches: never more than the maximum, always the
// newest records.
TEST_F(StoreRegistryTest, BatchedPruningNeverExceedsTheMaximum) {
  RegistryOptions options;
  options.max_records_per_function = 100;  // prunes down to 94 when exceeded
  reopen(options);
  deploy("busy");
  std::vector<std::string> ids;
  for (int i = 0; i < 250; ++i) {
    auto added = add_records("busy", 1);
    ids.push_back(added[0]);
    auto stats = registry_->function_stats("busy");
    ASSERT_TRUE(stats);
    ASSERT_LE(stats->invocations, 100U);
    if (i >= 100) {
      ASSERT_GE(stats->invocations, 94U);
    }
  }
  InvocationQuery q;
  q.limit = InvocationQuery::kMaxLimit;
  auto kept = registry_->list_invocations(q);
  ASSERT_TRUE(kept);
  const std::vector<std::string> newest(ids.rbegin(), ids.rbegin() + kept->size());
  EXPECT_EQ(ids_of(*kept), newest);
}

TEST_F(StoreRegistryTest, BeforeCursorPagesThroughEverything) {
  deploy("echo");
  const auto ids = add_records("echo", 10);
  std::vector<std::string> seen;
  InvocationQuery q;
  q.limit = 3;
  while (true) {
    auto page = registry_->list_invocations(q);
    ASSERT_TRUE(page) << page.error().message;
    if (page->empty()) break;
    EXPECT_LE(page->size(), 3U);
    for (const auto& r : *page) seen.push_back(r.id);
    q.before = page->back().id;
  }
  const std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, newest_first);
}

TEST_F(StoreRegistryTest, UnknownCursorIsNotFound) {
  deploy("echo");
  add_records("echo", 2);
  InvocationQuery q;
  q.before = new_invocation_id();
  auto page = registry_->list_invocations(q);
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().kind, ErrorKind::kNotFound);
}

TEST_F(StoreRegistryTest, FiltersCombine) {
  deploy("a");
  deploy("b");
  ASSERT_TRUE(registry_->add_invocation(record_for("a", RuntimeKind::kWasm, Outcome::kOk)));
  ASSERT_TRUE(registry_->add_invocation(record_for("a", RuntimeKind::kDocker, Outcome::kOk)));
  ASSERT_TRUE(registry_->add_invocation(record_for("a", RuntimeKind::kWasm, Outcome::kTrap)));
  ASSERT_TRUE(registry_->add_invocation(record_for("b", RuntimeKind::kWasm, Outcome::kOk)));
  ASSERT_TRUE(registry_->add_invocation(record_for("b", RuntimeKind::kDocker, Outcome::kTimeout)));

  auto count = [&](std::optional<std::string> function, std::optional<RuntimeKind> runtime,
                   std::optional<Outcome> outcome) {
    InvocationQuery q;
    q.function = std::move(function);
    q.runtime = runtime;
    q.outcome = outcome;
    auto records = registry_->list_invocations(q);
    EXPECT_TRUE(records) << records.error().message;
    for (const auto& r : *records) {
      if (q.function) {
        EXPECT_EQ(r.function, *q.function);
      }
      if (q.runtime) {
        EXPECT_EQ(r.runtime, *q.runtime);
      }
      if (q.outcome) {
        EXPECT_EQ(r.outcome, *q.outcome);
      }
    }
    return records->size();
  };
  EXPECT_EQ(count({}, {}, {}), 5U);
  EXPECT_EQ(count("a", {}, {}), 3U);
  EXPECT_EQ(count({}, RuntimeKind::kDocker, {}), 2U);
  EXPECT_EQ(count({}, {}, Outcome::kOk), 3U);
  EXPECT_EQ(count("a", RuntimeKind::kWasm, {}), 2U);
  EXPECT_EQ(count("a", RuntimeKind::kWasm, Outcome::kTrap), 1U);
  EXPECT_EQ(count("b", {}, Outcome::kTimeout), 1U);
  EXPECT_EQ(count("b", RuntimeKind::kWasm, Outcome::kTimeout), 0U);
  EXPECT_EQ(count("missing", {}, {}), 0U);

  InvocationQuery bad;
  bad.function = "Not Valid";
  ASSERT_FALSE(registry_->list_invocations(bad));
}

TEST_F(StoreRegistryTest, LimitIsClamped) {
  deploy("echo");
  add_records("echo", 3);
  InvocationQuery q;
  q.limit = 0;
  EXPECT_EQ(registry_->list_invocations(q)->size(), 1U);
  q.limit = 2;
  EXPECT_EQ(registry_->list_invocations(q)->size(), 2U);
  q.limit = 1'000'000;
  EXPECT_EQ(registry_->list_invocations(q)->size(), 3U);
}

TEST_F(StoreRegistryTest, ReopenRestoresEverything) {
  const Function f = full_function();
  ASSERT_TRUE(registry_->put_function(f));
  const InvocationRecord r = full_record("echo");
  ASSERT_TRUE(registry_->add_invocation(r));
  auto before = registry_->get_function("echo");
  ASSERT_TRUE(before);

  reopen();
  auto after = registry_->get_function("echo");
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(manifest_to_json(after->manifest), manifest_to_json(f.manifest));
  EXPECT_EQ(after->created_at_us, before->created_at_us);
  EXPECT_EQ(after->updated_at_us, before->updated_at_us);
  auto record = registry_->get_invocation(r.id);
  ASSERT_TRUE(record);
  expect_same(*record, r);
}

TEST_F(StoreRegistryTest, DatabaseIsInWalModeWithAVersionedSchema) {
  registry_.reset();
  auto db = Database::open(dir_.path() / "nebula.db");
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->query_text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(*db->query_int("PRAGMA user_version"), 4);
}

TEST_F(StoreRegistryTest, UnmeasuredFiguresStayNull) {
  deploy("echo");
  InvocationRecord r = record_for("echo", RuntimeKind::kDocker);
  r.cpu_us.reset();
  r.max_memory_bytes.reset();
  ASSERT_TRUE(registry_->add_invocation(r));
  auto back = registry_->get_invocation(r.id);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_FALSE(back->cpu_us.has_value());
  EXPECT_FALSE(back->max_memory_bytes.has_value());
  // Zero is a measurement, not a missing one.
  InvocationRecord zero = record_for("echo");
  zero.cpu_us = 0;
  zero.max_memory_bytes = 0;
  ASSERT_TRUE(registry_->add_invocation(zero));
  back = registry_->get_invocation(zero.id);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cpu_us, std::optional<std::uint64_t>(0));
  EXPECT_EQ(back->max_memory_bytes, std::optional<std::uint64_t>(0));
}

TEST_F(StoreRegistryTest, MigratesASchemaVersion1Database) {
  registry_.reset();
  std::filesystem::remove_all(dir_.path());
  std::filesystem::create_directories(dir_.path());
  const std::string old_id = new_invocation_id();
  {
    // The first schema, as an earlier Nebula left it, with one record.
    auto db = Database::open(dir_.path() / "nebula.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec(R"sql(
CREATE TABLE functions (name TEXT PRIMARY KEY NOT NULL, manifest TEXT NOT NULL,
  created_at_us INTEGER NOT NULL, updated_at_us INTEGER NOT NULL);
CREATE TABLE invocations (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE, runtime TEXT NOT NULL,
  outcome TEXT NOT NULL, exit_code INTEGER NOT NULL, cold INTEGER NOT NULL,
  queue_us INTEGER NOT NULL, startup_us INTEGER NOT NULL, exec_us INTEGER NOT NULL,
  teardown_us INTEGER NOT NULL, total_us INTEGER NOT NULL, cpu_us INTEGER NOT NULL,
  max_memory_bytes INTEGER NOT NULL, input_bytes INTEGER NOT NULL,
  output_bytes INTEGER NOT NULL, started_at_us INTEGER NOT NULL, message TEXT NOT NULL,
  stderr_tail TEXT NOT NULL);
CREATE INDEX invocations_by_function ON invocations (function, seq);
INSERT INTO functions VALUES ('old', '{"wasm":{"module":"sha256:)sql" + std::string(64, 'a') +
                         R"sql("}}', 1, 2);
INSERT INTO invocations VALUES (1, ')sql" + old_id + R"sql(', 'old', 'wasm', 'ok', 0, 1,
  1, 2, 3, 4, 10, 77, 65536, 5, 6, 1700000000000000, '', 'tail');
PRAGMA user_version = 1;
)sql"));
  }
  reopen();
  auto record = registry_->get_invocation(old_id);
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_EQ(record->cpu_us, std::optional<std::uint64_t>(77));
  EXPECT_EQ(record->max_memory_bytes, std::optional<std::uint64_t>(65536));
  EXPECT_FALSE(record->output_truncated);
  EXPECT_EQ(record->stderr_tail, "tail");
  auto fn = registry_->get_function("old");
  ASSERT_TRUE(fn) << fn.error().message;
  EXPECT_EQ(fn->version, 1U);
  EXPECT_EQ(record->version, 0U);
  EXPECT_EQ(record->trigger, TriggerKind::kHttp);
  // New records go in after the old one.
  InvocationRecord next = record_for("old");
  next.output_truncated = true;
  ASSERT_TRUE(registry_->add_invocation(next));
  auto page = registry_->list_invocations(InvocationQuery{});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2U);
  EXPECT_EQ(page->front().id, next.id);
  EXPECT_TRUE(page->front().output_truncated);
}

TEST_F(StoreRegistryTest, RefusesADatabaseFromANewerNebula) {
  registry_.reset();
  {
    auto db = Database::open(dir_.path() / "nebula.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("PRAGMA user_version = 99"));
  }
  auto registry = Registry::open(dir_.path());
  ASSERT_FALSE(registry);
  EXPECT_NE(registry.error().message.find("schema version 99"), std::string::npos)
      << registry.error().message;
}

TEST_F(StoreRegistryTest, RefusesZeroRecordsPerFunction) {
  RegistryOptions options;
  options.max_records_per_function = 0;
  auto registry = Registry::open(dir_.path() / "other", options);
  ASSERT_FALSE(registry);
  EXPECT_EQ(registry.error().kind, ErrorKind::kInvalidArgument);
}

TEST_F(StoreRegistryTest, StatsCountPerRuntimeAndOutcome) {
  deploy("fn");
  auto add = [&](RuntimeKind runtime, Outcome outcome, bool cold, std::int64_t startup_us) {
    auto r = record_for("fn", runtime, outcome);
    r.cold = cold;
    r.timings.startup_us = startup_us;
    ASSERT_TRUE(registry_->add_invocation(r));
  };
  add(RuntimeKind::kWasm, Outcome::kOk, true, 30);
  add(RuntimeKind::kWasm, Outcome::kOk, true, 10);
  add(RuntimeKind::kWasm, Outcome::kTrap, true, 20);
  add(RuntimeKind::kDocker, Outcome::kOk, true, 500'000);
  add(RuntimeKind::kDocker, Outcome::kOk, false, 0);
  add(RuntimeKind::kDocker, Outcome::kOk, false, 0);
  add(RuntimeKind::kDocker, Outcome::kTimeout, true, 700'000);

  auto stats = registry_->function_stats("fn");
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->invocations, 7U);

  const RuntimeStats& wasm = stats->of(RuntimeKind::kWasm);
  EXPECT_EQ(wasm.invocations, 3U);
  EXPECT_EQ(wasm.cold_starts, 3U);
  EXPECT_EQ(wasm.count(Outcome::kOk), 2U);
  EXPECT_EQ(wasm.count(Outcome::kTrap), 1U);
  EXPECT_EQ(wasm.count(Outcome::kTimeout), 0U);
  EXPECT_EQ(wasm.p50_startup_us, 20);
  EXPECT_EQ(wasm.p50_cold_startup_us, 20);

  const RuntimeStats& docker = stats->of(RuntimeKind::kDocker);
  EXPECT_EQ(docker.invocations, 4U);
  EXPECT_EQ(docker.cold_starts, 2U);
  EXPECT_EQ(docker.count(Outcome::kOk), 3U);
  EXPECT_EQ(docker.count(Outcome::kTimeout), 1U);
  EXPECT_EQ(docker.p50_startup_us, 0);             // 0, 0, 500000, 700000: 2nd smallest
  EXPECT_EQ(docker.p50_cold_startup_us, 500'000);  // 500000, 700000: 1st smallest
}

TEST_F(StoreRegistryTest, StatsOfAFunctionWithoutRecordsAreEmpty) {
  auto stats = registry_->function_stats("idle");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->invocations, 0U);
  EXPECT_EQ(stats->wasm.invocations, 0U);
  EXPECT_FALSE(stats->wasm.p50_startup_us.has_value());
  EXPECT_FALSE(stats->docker.p50_cold_startup_us.has_value());
}

TEST_F(StoreRegistryTest, ConcurrentWritersAreAllCounted) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  deploy("one");
  deploy("two");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = record_for(t % 2 == 0 ? "one" : "two");
        if (!registry_->add_invocation(r)) ++failures;
        // Readers interleave with the writers.
        if (i % 50 == 0 && !registry_->list_invocations({})) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto one = registry_->function_stats("one");
  auto two = registry_->function_stats("two");
  ASSERT_TRUE(one && two);
  EXPECT_EQ(one->invocations + two->invocations, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(one->invocations, static_cast<std::uint64_t>(kThreads / 2 * kPerThread));
}

// Concurrent callers share commits; a record that fails (its function is
// not deployed) must fail alone, without taking its batch with it.
TEST_F(StoreRegistryTest, FailuresInASharedCommitStayWithTheirRecord) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 200;
  deploy("real");
  std::atomic<int> ok{0};
  std::atomic<int> not_found{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const bool ghost = (t + i) % 3 == 0;
        auto st = registry_->add_invocation(record_for(ghost ? "ghost" : "real"));
        if (st) {
          ++ok;
        } else if (st.error().kind == ErrorKind::kNotFound && ghost) {
          ++not_found;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok.load() + not_found.load(), kThreads * kPerThread);
  auto stats = registry_->function_stats("real");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->invocations, static_cast<std::uint64_t>(ok.load()));
}

}  // namespace
}  // namespace nebula::store
