// The PostgreSQL store against a real PostgreSQL 15 started by the test:
// schema and migrations, functions and their versions, blobs, records,
// secrets, async tasks, schedule firings, change notifications, races
// between nodes, and what happens while the server is down.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "integration/postgres_process.hpp"
#include "store/blob_store.hpp"
#include "store/invocation_id.hpp"
#include "store/postgres.hpp"

namespace nebula::store {
namespace {

using testing::PostgresProcess;
using namespace std::chrono_literals;

Function function_named(const std::string& name) {
  Function f;
  f.name = name;
  f.manifest.wasm_module = "sha256:" + std::string(64, 'a');
  return f;
}

InvocationRecord record_for(const std::string& function, const std::string& node = "n1") {
  InvocationRecord r;
  r.id = new_invocation_id();
  r.function = function;
  r.node = node;
  r.runtime = RuntimeKind::kWasm;
  r.outcome = Outcome::kOk;
  r.cold = true;
  r.timings.startup_us = 80;
  r.timings.exec_us = 120;
  r.timings.total_us = 250;
  r.cpu_us = 100;
  r.input_bytes = 3;
  r.output_bytes = 5;
  r.started_at_us = 1'700'000'000'000'000;
  r.message = "";
  r.stderr_tail = "tail ü";
  return r;
}

// A function whose versions tell apart by their (only) argument.
Function function_with(const std::string& name, const std::string& marker) {
  Function f = function_named(name);
  f.manifest.args = {marker};
  return f;
}

// Schedulers racing for due times: `racers` threads, alternately on `a`
// and `b`, start together and each calls `attempt(node, d)` for every due
// time d in [0, due). How many attempts won each due time, and how many
// failed.
struct Race {
  std::vector<int> wins;
  int failures = 0;
};

Race race_due_times(PostgresStore& a, PostgresStore& b, int racers, int due,
                    const std::function<Result<bool>(PostgresStore&, int)>& attempt) {
  std::vector<std::atomic<int>> wins(static_cast<std::size_t>(due));
  std::atomic<int> failures{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < racers; ++r) {
    PostgresStore& node = r % 2 == 0 ? a : b;
    threads.emplace_back([&, racers, due] {
      ready.fetch_add(1);
      while (ready.load() < racers) std::this_thread::yield();
      for (int d = 0; d < due; ++d) {
        auto won = attempt(node, d);
        if (!won) {
          failures.fetch_add(1);
        } else if (*won) {
          wins[static_cast<std::size_t>(d)].fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  Race race;
  race.failures = failures.load();
  for (const auto& w : wins) race.wins.push_back(w.load());
  return race;
}

// An async call due at `next_run_at_us`, with a body no text column would
// take.
AsyncTask task_for(const std::string& function, std::int64_t next_run_at_us) {
  AsyncTask t;
  t.id = new_invocation_id();
  t.function = function;
  t.body = std::string("in\0put\xff", 7);
  t.content_type = "application/octet-stream";
  t.query = "a=1&b=2";
  t.max_retries = 3;
  t.next_run_at_us = next_run_at_us;
  return t;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = PostgresProcess::start();
    ASSERT_TRUE(pg) << pg.error().message;
    pg_.emplace(std::move(*pg));
  }

  std::unique_ptr<PostgresStore> open(PostgresOptions options = {}) {
    auto store = PostgresStore::open(pg_->dsn(), options);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  std::optional<PostgresProcess> pg_;
};

TEST_F(PostgresStoreTest, MigratesOnceAndRefusesANewerSchema) {
  auto first = open();
  ASSERT_TRUE(first);
  EXPECT_EQ(*pg_->psql("SELECT version FROM schema_version"),
            std::to_string(PostgresStore::schema_version()));
  // A second node on the same database finds the schema in place.
  auto second = open();
  ASSERT_TRUE(second);
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM schema_version"), "1");
  EXPECT_NE(first->describe().find("127.0.0.1"), std::string::npos) << first->describe();

  ASSERT_TRUE(pg_->psql("UPDATE schema_version SET version = 99"));
  auto refused = PostgresStore::open(pg_->dsn());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("schema version 99"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("newer"), std::string::npos);

  auto bad = PostgresStore::open("postgresql://postgres@127.0.0.1:1/nebula");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kUnavailable);
}

TEST_F(PostgresStoreTest, FunctionsBlobsAndRecords) {
  auto store = open(PostgresOptions{.max_records_per_function = 5});
  ASSERT_TRUE(store);

  // Functions: created, replaced (times kept and moved forward), listed.
  auto created = store->put_function(function_named("alpha"));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->version, 1U);
  auto v1 = store->get_function("alpha");
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->version, 1U);
  auto replaced = store->put_function(function_named("alpha"));
  ASSERT_TRUE(replaced);
  EXPECT_FALSE(replaced->created);
  EXPECT_EQ(replaced->version, 2U);
  auto v2 = store->get_function("alpha");
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->version, 2U);
  EXPECT_EQ(v2->created_at_us, v1->created_at_us);
  EXPECT_GT(v2->updated_at_us, v1->updated_at_us);
  EXPECT_EQ(v2->manifest.wasm_module, v1->manifest.wasm_module);
  ASSERT_TRUE(store->put_function(function_named("beta")));
  auto all = store->list_functions();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].name, "alpha");
  EXPECT_EQ((*all)[0].version, 2U);
  EXPECT_EQ((*all)[1].version, 1U);
  EXPECT_EQ(store->get_function("nope").error().kind, ErrorKind::kNotFound);

  // Blobs: content-addressed, binary-safe, written once.
  std::string bytes("\0asm\x01\x00\x00\x00\xff\xfe", 10);
  auto digest = store->put_blob(bytes);
  ASSERT_TRUE(digest) << digest.error().message;
  EXPECT_EQ(*digest, *sha256_digest(bytes));
  EXPECT_EQ(*store->put_blob(bytes), *digest);
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM blobs"), "1");
  EXPECT_EQ(*store->get_blob(*digest), bytes);
  EXPECT_TRUE(*store->has_blob(*digest));
  EXPECT_FALSE(*store->has_blob("sha256:" + std::string(64, '0')));
  EXPECT_EQ(store->get_blob("sha256:" + std::string(64, '0')).error().kind, ErrorKind::kNotFound);

  // Records: a batch in one go, node and nulls kept, newest first.
  std::vector<InvocationRecord> batch;
  for (int i = 0; i < 7; ++i) batch.push_back(record_for("alpha", i % 2 == 0 ? "n1" : "n2"));
  batch[1].cpu_us.reset();
  batch[2].outcome = Outcome::kTimeout;
  // The version that ran and what started it round-trip.
  batch[3].version = 2;
  batch[3].trigger = TriggerKind::kCron;
  batch[4].version = 1;
  batch[4].trigger = TriggerKind::kAsync;
  // Whatever a function wrote to stderr is stored: the characters COPY
  // escapes, and bytes PostgreSQL's text refuses (NUL, invalid UTF-8) as
  // U+FFFD.
  batch[5].stderr_tail = std::string("a\tb\nc\\d\0e\xff", 10);
  auto statuses = store->add_invocations(batch);
  ASSERT_EQ(statuses.size(), batch.size());
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(statuses[i]) << statuses[i].error().message;
  EXPECT_EQ(store->get_invocation(batch[5].id)->stderr_tail,
            "a\tb\nc\\d\xEF\xBF\xBD"
            "e\xEF\xBF\xBD");
  // A record of a function that is not deployed is refused; the rest of its
  // batch is written.
  auto orphan = store->add_invocations({record_for("gone"), batch[6]});
  ASSERT_FALSE(orphan[0]);
  EXPECT_EQ(orphan[0].error().kind, ErrorKind::kNotFound);
  // A duplicate id is refused, not written twice.
  ASSERT_FALSE(orphan[1]) << *pg_->psql("SELECT seq, id FROM invocations") << " / " << batch[6].id;
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM invocations WHERE id = '" + batch[6].id + "'"), "1");
  InvocationRecord late = record_for("alpha");
  late.version = 2;  // through the INSERT path, not COPY
  late.trigger = TriggerKind::kAsync;
  auto mixed = store->add_invocations({record_for("gone"), late});
  ASSERT_FALSE(mixed[0]);
  ASSERT_TRUE(mixed[1]) << mixed[1].error().message;
  batch.push_back(late);

  // Pruned to the newest 5 of the function.
  auto page = store->list_invocations(InvocationQuery{});
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->size(), 5U);
  EXPECT_EQ(page->front().id, batch[7].id);
  EXPECT_EQ(page->back().id, batch[3].id);
  EXPECT_EQ(page->back().version, 2U);
  EXPECT_EQ(page->back().trigger, TriggerKind::kCron);
  EXPECT_EQ((*page)[3].id, batch[4].id);
  EXPECT_EQ((*page)[3].version, 1U);
  EXPECT_EQ((*page)[3].trigger, TriggerKind::kAsync);
  EXPECT_EQ(page->front().version, 2U);
  EXPECT_EQ(page->front().trigger, TriggerKind::kAsync);
  EXPECT_EQ((*page)[1].version, 0U);  // the defaults
  EXPECT_EQ((*page)[1].trigger, TriggerKind::kHttp);
  auto one = store->get_invocation(batch[3].id);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->node, "n2");
  EXPECT_EQ(one->stderr_tail, "tail ü");
  EXPECT_EQ(one->cpu_us, std::optional<std::uint64_t>(100));
  EXPECT_EQ(one->timings.total_us, 250);
  EXPECT_EQ(one->version, 2U);
  EXPECT_EQ(one->trigger, TriggerKind::kCron);
  EXPECT_EQ(store->get_invocation(batch[1].id).error().kind, ErrorKind::kNotFound);  // pruned

  // Filters and the cursor.
  InvocationQuery timeouts;
  timeouts.outcome = Outcome::kTimeout;
  EXPECT_EQ(store->list_invocations(timeouts)->size(), 0U);  // pruned
  InvocationQuery older;
  older.before = batch[4].id;
  older.limit = 10;
  auto rest = store->list_invocations(older);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1U);
  EXPECT_EQ((*rest)[0].id, batch[3].id);
  InvocationQuery stale;
  stale.before = batch[0].id;
  EXPECT_EQ(store->list_invocations(stale).error().kind, ErrorKind::kNotFound);

  auto stats = store->function_stats("alpha");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->invocations, 5U);
  EXPECT_EQ(stats->wasm.count(Outcome::kOk), 5U);
  EXPECT_EQ(stats->wasm.p50_startup_us, std::optional<std::int64_t>(80));

  // Deleting a function deletes its records.
  EXPECT_TRUE(*store->delete_function("alpha"));
  EXPECT_FALSE(*store->delete_function("alpha"));
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM invocations"), "0");
}

TEST_F(PostgresStoreTest, EveryNodeHearsOfChanges) {
  auto writer = open();
  auto follower = open(PostgresOptions{.resync_interval = 60s});
  ASSERT_TRUE(writer && follower);
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::optional<std::string>> heard;
  follower->watch([&](const std::optional<std::string>& name) {
    std::lock_guard lock(mutex);
    heard.push_back(name);
    cv.notify_all();
  });
  auto wait_for = [&](std::size_t n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, 10s, [&] { return heard.size() >= n; });
  };
  // The listener reports "compare everything" once it listens.
  ASSERT_TRUE(wait_for(1));
  EXPECT_FALSE(heard[0].has_value());

  ASSERT_TRUE(writer->put_function(function_named("gamma")));
  ASSERT_TRUE(wait_for(2));
  EXPECT_EQ(heard[1], std::optional<std::string>("gamma"));
  ASSERT_TRUE(writer->delete_function("gamma"));
  ASSERT_TRUE(wait_for(3));
  EXPECT_EQ(heard[2], std::optional<std::string>("gamma"));

  // The server restarts: the listener reconnects and asks for a full
  // comparison, then hears changes again.
  ASSERT_TRUE(pg_->restart());
  ASSERT_TRUE(wait_for(4));
  EXPECT_FALSE(heard[3].has_value());
  ASSERT_TRUE(writer->put_function(function_named("delta")));
  ASSERT_TRUE(wait_for(5));
  EXPECT_EQ(heard.back(), std::optional<std::string>("delta"));
  follower->stop_watching();
}

TEST_F(PostgresStoreTest, UnavailableWhileDownAndBackByItself) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put_function(function_named("eps")));
  ASSERT_TRUE(store->ping());

  pg_->stop();
  auto down = store->ping();
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, ErrorKind::kUnavailable) << down.error().message;
  auto records = store->add_invocations({record_for("eps")});
  ASSERT_FALSE(records[0]);
  EXPECT_EQ(records[0].error().kind, ErrorKind::kUnavailable) << records[0].error().message;

  ASSERT_TRUE(pg_->restart());
  // Reconnects with a backoff of at most 2 s.
  Status up = make_error(ErrorKind::kUnavailable, "not yet");
  for (int i = 0; i < 100 && !up; ++i) {
    up = store->ping();
    if (!up) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(up) << up.error().message;
  auto fn = store->get_function("eps");
  ASSERT_TRUE(fn) << fn.error().message;
  EXPECT_TRUE(store->add_invocations({record_for("eps")})[0]);
}

// --- versions ------------------------------------------------------------------

std::vector<std::uint64_t> numbers_of(const std::vector<FunctionVersion>& versions) {
  std::vector<std::uint64_t> numbers;
  numbers.reserve(versions.size());
  for (const FunctionVersion& v : versions) numbers.push_back(v.version);
  return numbers;
}

TEST_F(PostgresStoreTest, VersionsAreNumberedPrunedAndRolledBack) {
  auto store = open(PostgresOptions{.max_versions_per_function = 3});
  ASSERT_TRUE(store);
  const std::int64_t t0 = now_unix_us();
  auto first = store->put_function(function_with("alpha", "v1"));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->version, 1U);

  // A task queued with version 0 runs the serving one, pinned now.
  const AsyncTask on_v1 = task_for("alpha", t0);
  ASSERT_TRUE(store->enqueue_task(on_v1, 10));
  EXPECT_EQ(store->get_task(on_v1.id)->version, 1U);

  for (std::uint64_t v = 2; v <= 5; ++v) {
    auto put = store->put_function(function_with("alpha", "v" + std::to_string(v)));
    ASSERT_TRUE(put) << put.error().message;
    EXPECT_FALSE(put->created);
    EXPECT_EQ(put->version, v);
  }
  // The newest three, and version 1, which the queued task will run.
  auto kept = store->list_versions("alpha");
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_EQ(numbers_of(*kept), (std::vector<std::uint64_t>{5, 4, 3, 1}));
  EXPECT_EQ(kept->front().manifest.args, std::vector<std::string>{"v5"});
  EXPECT_EQ(kept->back().manifest.args, std::vector<std::string>{"v1"});
  EXPECT_GE(kept->front().created_at_us, kept->back().created_at_us);
  EXPECT_GE(kept->back().created_at_us, t0);
  auto v1 = store->get_version("alpha", 1);
  ASSERT_TRUE(v1) << v1.error().message;
  EXPECT_EQ(v1->version, 1U);
  EXPECT_EQ(v1->manifest.args, std::vector<std::string>{"v1"});
  auto pruned = store->get_version("alpha", 2);
  ASSERT_FALSE(pruned);
  EXPECT_EQ(pruned.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(pruned.error().message,
            "function 'alpha' has no version 2 (kept versions: 1, 3-5; see GET "
            "/v1/functions/alpha/versions)");
  EXPECT_EQ(store->get_version("nope", 1).error().message, function_not_found("nope").message);
  EXPECT_EQ(store->list_versions("nope").error().message, function_not_found("nope").message);

  // A rollback: version 3 serves again, stamped like a deploy, and nothing
  // is pruned.
  auto before = store->get_function("alpha");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->version, 5U);
  auto rolled = store->activate_version("alpha", 3);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_EQ(rolled->version, 3U);
  EXPECT_EQ(rolled->manifest.args, std::vector<std::string>{"v3"});
  EXPECT_EQ(rolled->created_at_us, before->created_at_us);
  EXPECT_GT(rolled->updated_at_us, before->updated_at_us);
  auto serving = store->get_function("alpha");
  ASSERT_TRUE(serving);
  EXPECT_EQ(serving->version, 3U);
  EXPECT_EQ(serving->manifest.args, std::vector<std::string>{"v3"});
  EXPECT_EQ(numbers_of(*store->list_versions("alpha")), (std::vector<std::uint64_t>{5, 4, 3, 1}));
  auto missing = store->activate_version("alpha", 2);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message.find("has no version 2 (kept versions: 1, 3-5"),
            std::string::npos)
      << missing.error().message;
  EXPECT_EQ(store->activate_version("nope", 1).error().message, function_not_found("nope").message);
  EXPECT_EQ(store->get_function("alpha")->version, 3U);  // a failed rollback changes nothing

  // A task queued now pins the serving version, 3. The first task ends,
  // so version 1 is no longer needed: the next deploy is 6 (the highest
  // kept + 1) and prunes 1, but keeps 3 for the queued task.
  const AsyncTask on_v3 = task_for("alpha", t0 + 1);
  ASSERT_TRUE(store->enqueue_task(on_v3, 10));
  EXPECT_EQ(store->get_task(on_v3.id)->version, 3U);
  auto claimed = store->claim_task("n1", t0, 60'000'000);
  ASSERT_TRUE(claimed && *claimed);
  ASSERT_EQ((*claimed)->id, on_v1.id);
  AsyncTask done = **claimed;
  done.state = TaskState::kDone;
  ASSERT_TRUE(store->finish_task(done));
  auto sixth = store->put_function(function_with("alpha", "v6"));
  ASSERT_TRUE(sixth);
  EXPECT_EQ(sixth->version, 6U);
  EXPECT_EQ(numbers_of(*store->list_versions("alpha")), (std::vector<std::uint64_t>{6, 5, 4, 3}));
  // Once that task is done too, 3 goes with the next deploy.
  auto second = store->claim_task("n1", t0 + 1, 60'000'000);
  ASSERT_TRUE(second && *second);
  ASSERT_EQ((*second)->id, on_v3.id);
  done = **second;
  done.state = TaskState::kDead;
  ASSERT_TRUE(store->finish_task(done));
  ASSERT_TRUE(store->put_function(function_with("alpha", "v7")));
  EXPECT_EQ(numbers_of(*store->list_versions("alpha")), (std::vector<std::uint64_t>{7, 6, 5}));
  // A version a task names can be pinned explicitly; one never kept is refused.
  AsyncTask explicit_version = task_for("alpha", t0);
  explicit_version.version = 6;
  ASSERT_TRUE(store->enqueue_task(explicit_version, 10));
  EXPECT_EQ(store->get_task(explicit_version.id)->version, 6U);
  AsyncTask stale = task_for("alpha", t0);
  stale.version = 2;
  auto refused = store->enqueue_task(stale, 10);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(refused.error().message.find("has no version 2"), std::string::npos);
}

TEST_F(PostgresStoreTest, ARollbackReachesEveryNode) {
  auto writer = open();
  auto follower = open(PostgresOptions{.resync_interval = 60s});
  ASSERT_TRUE(writer && follower);
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::optional<std::string>> heard;
  follower->watch([&](const std::optional<std::string>& name) {
    std::lock_guard lock(mutex);
    heard.push_back(name);
    cv.notify_all();
  });
  auto wait_for = [&](std::size_t n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, 10s, [&] { return heard.size() >= n; });
  };
  ASSERT_TRUE(wait_for(1));  // "compare everything" once it listens

  ASSERT_TRUE(writer->put_function(function_with("omega", "v1")));
  ASSERT_TRUE(writer->put_function(function_with("omega", "v2")));
  ASSERT_TRUE(wait_for(3));
  ASSERT_TRUE(writer->activate_version("omega", 1));
  ASSERT_TRUE(wait_for(4));
  EXPECT_EQ(heard[3], std::optional<std::string>("omega"));
  // What the follower re-reads on hearing it is the rolled-back function.
  auto seen = follower->get_function("omega");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->version, 1U);
  EXPECT_EQ(seen->manifest.args, std::vector<std::string>{"v1"});
  // A rollback that fails changes nothing, so it tells nobody.
  ASSERT_FALSE(writer->activate_version("omega", 9));
  ASSERT_TRUE(writer->put_function(function_with("other", "v1")));
  ASSERT_TRUE(wait_for(5));
  EXPECT_EQ(heard[4], std::optional<std::string>("other"));
  follower->stop_watching();
}

TEST_F(PostgresStoreTest, NodesDeployingAtOnceGetDistinctVersions) {
  const PostgresOptions options{.max_versions_per_function = 100};
  auto a = open(options);
  auto b = open(options);
  ASSERT_TRUE(a && b);
  constexpr int kThreads = 6;
  constexpr int kDeploys = 10;
  std::mutex mutex;
  std::vector<PutResult> results;
  std::vector<std::string> errors;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    PostgresStore* node = t % 2 == 0 ? a.get() : b.get();
    threads.emplace_back([&mutex, &results, &errors, &ready, node, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kDeploys; ++i) {
        auto put =
            node->put_function(function_with("race", std::to_string(t) + "-" + std::to_string(i)));
        std::lock_guard lock(mutex);
        if (put) {
          results.push_back(*put);
        } else {
          errors.push_back(put.error().message);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  ASSERT_EQ(results.size(), static_cast<std::size_t>(kThreads * kDeploys));
  std::set<std::uint64_t> numbers;
  int created = 0;
  for (const PutResult& r : results) {
    numbers.insert(r.version);
    created += r.created ? 1 : 0;
  }
  EXPECT_EQ(created, 1);
  ASSERT_EQ(numbers.size(), results.size());  // no number twice
  EXPECT_EQ(*numbers.begin(), 1U);
  EXPECT_EQ(*numbers.rbegin(), static_cast<std::uint64_t>(kThreads * kDeploys));
  // The last deploy to commit has the highest number and serves.
  EXPECT_EQ(a->get_function("race")->version, static_cast<std::uint64_t>(kThreads * kDeploys));
  EXPECT_EQ(b->list_versions("race")->size(), static_cast<std::size_t>(kThreads * kDeploys));
}

// --- migration -----------------------------------------------------------------

// The schema that a Nebula of schema version 1 created: its only migration
// step, as released.
constexpr const char* kSchemaVersion1 = R"sql(
CREATE TABLE schema_version (version integer NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE functions (
  name          text PRIMARY KEY,
  manifest      text NOT NULL,
  created_at_us bigint NOT NULL,
  updated_at_us bigint NOT NULL
);
CREATE TABLE blobs (
  digest        text PRIMARY KEY,
  size          bigint NOT NULL,
  bytes         bytea NOT NULL,
  created_at_us bigint NOT NULL
);
ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;
CREATE TABLE invocations (
  seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id               text NOT NULL UNIQUE,
  function         text NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
  node             text NOT NULL,
  runtime          text NOT NULL,
  outcome          text NOT NULL,
  exit_code        bigint NOT NULL,
  cold             boolean NOT NULL,
  queue_us         bigint NOT NULL,
  startup_us       bigint NOT NULL,
  exec_us          bigint NOT NULL,
  teardown_us      bigint NOT NULL,
  total_us         bigint NOT NULL,
  cpu_us           bigint,
  max_memory_bytes bigint,
  input_bytes      bigint NOT NULL,
  output_bytes     bigint NOT NULL,
  started_at_us    bigint NOT NULL,
  message          text NOT NULL,
  stderr_tail      text NOT NULL,
  output_truncated boolean NOT NULL
);
CREATE INDEX invocations_by_function ON invocations (function, seq);
)sql";

TEST_F(PostgresStoreTest, MigratesADatabaseOfSchemaVersion1) {
  const Function old = function_with("legacy", "old");
  const std::string manifest = manifest_to_json(old.manifest);
  ASSERT_EQ(manifest.find('\''), std::string::npos);
  auto created = pg_->psql(
      std::string(kSchemaVersion1) + "INSERT INTO functions VALUES ('legacy', '" + manifest +
      "', 100, 200);"
      "INSERT INTO invocations (id, function, node, runtime, outcome, exit_code, cold, queue_us,"
      " startup_us, exec_us, teardown_us, total_us, cpu_us, max_memory_bytes, input_bytes,"
      " output_bytes, started_at_us, message, stderr_tail, output_truncated) VALUES"
      " ('inv-old', 'legacy', 'n1', 'wasm', 'ok', 0, true, 1, 2, 3, 4, 10, NULL, NULL, 0, 0,"
      " 1700000000000000, '', '', false);");
  ASSERT_TRUE(created) << created.error().message;

  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(*pg_->psql("SELECT version FROM schema_version"), "2");
  // The function became version 1, whose manifest is the one it had.
  auto fn = store->get_function("legacy");
  ASSERT_TRUE(fn) << fn.error().message;
  EXPECT_EQ(fn->version, 1U);
  EXPECT_EQ(fn->created_at_us, 100);
  EXPECT_EQ(fn->updated_at_us, 200);
  EXPECT_EQ(fn->manifest.args, std::vector<std::string>{"old"});
  auto versions = store->list_versions("legacy");
  ASSERT_TRUE(versions) << versions.error().message;
  ASSERT_EQ(versions->size(), 1U);
  EXPECT_EQ((*versions)[0].version, 1U);
  EXPECT_EQ((*versions)[0].created_at_us, 200);
  EXPECT_EQ(manifest_to_json((*versions)[0].manifest), manifest);
  // An old record ran an unknown version over HTTP.
  auto record = store->get_invocation("inv-old");
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_EQ(record->version, 0U);
  EXPECT_EQ(record->trigger, TriggerKind::kHttp);
  EXPECT_EQ(record->timings.total_us, 10);

  // Everything new works on the migrated database.
  auto next = store->put_function(function_with("legacy", "new"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_FALSE(next->created);
  EXPECT_EQ(next->version, 2U);
  EXPECT_EQ(store->get_version("legacy", 1)->manifest.args, std::vector<std::string>{"old"});
  EXPECT_TRUE(store->enqueue_task(task_for("legacy", 0), 10));
  EXPECT_TRUE(*store->claim_firing("legacy", "0", 1));
  EXPECT_TRUE(*store->put_secret("s", "x"));
  // Opening again migrates nothing.
  auto again = open();
  ASSERT_TRUE(again);
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM versions"), "2");
  EXPECT_EQ(*pg_->psql("SELECT version FROM schema_version"), "2");
}

// --- secrets -------------------------------------------------------------------

TEST_F(PostgresStoreTest, SecretsKeepEveryByte) {
  auto store = open();
  auto other = open();
  ASSERT_TRUE(store && other);
  const std::string sealed("\0\x01sealed\xff\xfe\x80\0", 12);
  auto created = store->put_secret("db-password", sealed);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_TRUE(*created);
  EXPECT_EQ(*pg_->psql("SELECT octet_length(sealed) FROM secrets"), "12");
  // Any node reads it back, byte for byte.
  auto read = other->get_secret("db-password");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, sealed);
  auto listed = store->list_secrets();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ((*listed)[0].name, "db-password");
  EXPECT_GT((*listed)[0].created_at_us, 0);
  EXPECT_EQ((*listed)[0].updated_at_us, (*listed)[0].created_at_us);

  // Replaced: created kept, updated moves forward.
  auto replaced = other->put_secret("db-password", std::string("\xff\0", 2));
  ASSERT_TRUE(replaced);
  EXPECT_FALSE(*replaced);
  EXPECT_EQ(*store->get_secret("db-password"), std::string("\xff\0", 2));
  ASSERT_TRUE(store->put_secret("api-key", "k"));
  auto both = store->list_secrets();
  ASSERT_TRUE(both);
  ASSERT_EQ(both->size(), 2U);
  EXPECT_EQ((*both)[0].name, "api-key");
  EXPECT_EQ((*both)[1].name, "db-password");
  EXPECT_EQ((*both)[1].created_at_us, (*listed)[0].created_at_us);
  EXPECT_GT((*both)[1].updated_at_us, (*listed)[0].updated_at_us);

  EXPECT_TRUE(*store->delete_secret("db-password"));
  EXPECT_FALSE(*other->delete_secret("db-password"));
  auto gone = other->get_secret("db-password");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(gone.error().message.find("db-password"), std::string::npos);
  EXPECT_EQ(store->put_secret("Bad Name", "x").error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(store->get_secret(std::string("a\0b", 3)).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store->list_secrets()->size(), 1U);
}

// --- async tasks ---------------------------------------------------------------

TEST_F(PostgresStoreTest, TasksRunRetryExpireAndAreReleased) {
  auto store = open(PostgresOptions{.max_records_per_function = 2});
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put_function(function_named("work")));
  auto nothing = store->next_task_due();
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(nothing->has_value());

  const std::int64_t t0 = now_unix_us();
  AsyncTask first = task_for("work", t0);
  first.runtime = RuntimeKind::kWasm;
  first.callback_url = "http://127.0.0.1:9/done";
  AsyncTask later = task_for("work", t0 + 3'600'000'000);
  later.trigger = TriggerKind::kCron;
  ASSERT_TRUE(store->enqueue_task(first, 10));
  ASSERT_TRUE(store->enqueue_task(later, 10));
  auto orphan = store->enqueue_task(task_for("nope", t0), 10);
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().message, function_not_found("nope").message);
  EXPECT_FALSE(store->enqueue_task(first, 10));  // the id is taken
  EXPECT_EQ(*store->next_task_due(), std::optional<std::int64_t>(t0));

  auto stored = store->get_task(first.id);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->state, TaskState::kQueued);
  EXPECT_EQ(stored->version, 1U);
  EXPECT_EQ(stored->runtime, std::optional<RuntimeKind>(RuntimeKind::kWasm));
  EXPECT_EQ(stored->trigger, TriggerKind::kAsync);
  EXPECT_EQ(stored->body, first.body);
  EXPECT_EQ(stored->content_type, first.content_type);
  EXPECT_EQ(stored->query, first.query);
  EXPECT_EQ(stored->callback_url, first.callback_url);
  EXPECT_EQ(stored->max_retries, 3U);
  EXPECT_EQ(stored->attempts, 0U);
  EXPECT_GE(stored->created_at_us, t0);
  auto stored_later = store->get_task(later.id);
  ASSERT_TRUE(stored_later);
  EXPECT_FALSE(stored_later->runtime.has_value());
  EXPECT_EQ(stored_later->trigger, TriggerKind::kCron);
  EXPECT_EQ(store->get_task("nope").error().kind, ErrorKind::kNotFound);

  // Claimed: running, held by n1 until its lease ends.
  auto claimed = store->claim_task("n1", t0, 30'000'000);
  ASSERT_TRUE(claimed) << claimed.error().message;
  ASSERT_TRUE(claimed->has_value());
  EXPECT_EQ((*claimed)->id, first.id);
  EXPECT_EQ((*claimed)->state, TaskState::kRunning);
  EXPECT_EQ((*claimed)->node, "n1");
  EXPECT_EQ((*claimed)->attempts, 1U);
  EXPECT_EQ((*claimed)->lease_until_us, t0 + 30'000'000);
  EXPECT_EQ((*claimed)->body, first.body);
  EXPECT_FALSE(store->claim_task("n2", t0, 30'000'000)->has_value());  // nothing else due
  EXPECT_EQ(*store->next_task_due(), std::optional<std::int64_t>(t0 + 30'000'000));

  // A retry: queued again for later. Only the holder may write it back.
  AsyncTask retry = **claimed;
  retry.state = TaskState::kQueued;
  retry.next_run_at_us = t0 + 10'000'000;
  retry.lease_until_us = 0;
  retry.node = "n2";
  EXPECT_EQ(store->finish_task(retry).error().kind, ErrorKind::kNotFound);
  retry.node = "n1";
  ASSERT_TRUE(store->finish_task(retry));
  EXPECT_FALSE(store->claim_task("n1", t0 + 5'000'000, 30'000'000)->has_value());
  auto again = store->claim_task("n1", t0 + 10'000'000, 30'000'000);
  ASSERT_TRUE(again && again->has_value());
  EXPECT_EQ((*again)->id, first.id);
  EXPECT_EQ((*again)->attempts, 2U);

  // n1 dies with it: past its lease n2 takes it over, and n1's late answer
  // is refused.
  auto taken = store->claim_task("n2", t0 + 40'000'000, 30'000'000);
  ASSERT_TRUE(taken && taken->has_value());
  EXPECT_EQ((*taken)->id, first.id);
  EXPECT_EQ((*taken)->node, "n2");
  EXPECT_EQ((*taken)->attempts, 3U);
  AsyncTask late = **again;
  late.state = TaskState::kDone;
  EXPECT_EQ(store->finish_task(late).error().kind, ErrorKind::kNotFound);
  AsyncTask done = **taken;
  done.state = TaskState::kDone;
  done.invocation_id = "inv-1";
  done.status = 200;
  done.result = std::string("ok\0\xff", 4);
  done.result_type = "application/octet-stream";
  ASSERT_TRUE(store->finish_task(done));
  auto finished = store->get_task(first.id);
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->state, TaskState::kDone);
  EXPECT_EQ(finished->status, 200);
  EXPECT_EQ(finished->result, done.result);
  EXPECT_EQ(finished->result_type, "application/octet-stream");
  EXPECT_EQ(finished->invocation_id, "inv-1");
  EXPECT_GE(finished->finished_at_us, t0);
  EXPECT_EQ(finished->attempts, 3U);
  EXPECT_EQ(store->finish_task(done).error().kind, ErrorKind::kNotFound);  // not running now
  EXPECT_EQ(*store->next_task_due(), std::optional<std::int64_t>(later.next_run_at_us));

  // A node restarting takes back what it held: n3's task is due at once.
  auto held = store->claim_task("n3", later.next_run_at_us, 3'600'000'000);
  ASSERT_TRUE(held && held->has_value());
  EXPECT_EQ((*held)->id, later.id);
  EXPECT_FALSE(store->claim_task("n4", now_unix_us(), 1'000'000)->has_value());
  ASSERT_TRUE(store->release_tasks("n3"));
  auto retaken = store->claim_task("n4", now_unix_us(), 3'600'000'000);
  ASSERT_TRUE(retaken && retaken->has_value());
  EXPECT_EQ((*retaken)->id, later.id);
  EXPECT_EQ((*retaken)->node, "n4");
  EXPECT_EQ((*retaken)->attempts, 2U);
  ASSERT_TRUE(store->release_tasks("n3"));  // holds nothing now: a no-op
  EXPECT_EQ(store->get_task(later.id)->node, "n4");
}

TEST_F(PostgresStoreTest, AFullQueueRefusesAndFinishedTasksArePruned) {
  auto store = open(PostgresOptions{.max_records_per_function = 2});
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put_function(function_named("busy")));
  ASSERT_TRUE(store->put_function(function_named("idle")));
  const std::int64_t t0 = now_unix_us();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->enqueue_task(task_for("busy", t0), 3));
  auto full = store->enqueue_task(task_for("busy", t0), 3);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, ErrorKind::kOverloaded);
  EXPECT_EQ(full.error().message,
            "the queue of function busy is full: 3 calls waiting, retry later");
  // The limit is per function.
  EXPECT_TRUE(store->enqueue_task(task_for("idle", t0 + 1'000'000), 3));

  // A running task still counts; a finished one does not.
  auto running = store->claim_task("n1", t0, 60'000'000);
  ASSERT_TRUE(running && running->has_value());
  EXPECT_EQ((*running)->function, "busy");
  EXPECT_EQ(store->enqueue_task(task_for("busy", t0), 3).error().kind, ErrorKind::kOverloaded);
  AsyncTask done = **running;
  done.state = TaskState::kDone;
  ASSERT_TRUE(store->finish_task(done));
  ASSERT_TRUE(store->enqueue_task(task_for("busy", t0), 3));

  // Finished tasks beyond max_records_per_function (2) are pruned, oldest
  // first; pending ones never.
  std::vector<std::string> finished{done.id};
  for (int i = 0; i < 3; ++i) {
    auto next = store->claim_task("n1", t0, 60'000'000);
    ASSERT_TRUE(next && next->has_value());
    ASSERT_EQ((*next)->function, "busy");
    AsyncTask end = **next;
    end.state = i % 2 == 0 ? TaskState::kDead : TaskState::kDone;
    // Later than the first one's (stamped by the store: now).
    end.finished_at_us = now_unix_us() + std::int64_t{1'000'000} * (i + 1);
    ASSERT_TRUE(store->finish_task(end));
    finished.push_back(end.id);
  }
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM tasks WHERE function = 'busy'"), "2");
  EXPECT_EQ(store->get_task(finished[3])->state, TaskState::kDead);
  EXPECT_EQ(store->get_task(finished[2])->state, TaskState::kDone);
  EXPECT_EQ(store->get_task(finished[1]).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(*pg_->psql("SELECT state FROM tasks WHERE function = 'idle'"), "queued");
}

TEST_F(PostgresStoreTest, ConcurrentClaimersTakeEachTaskOnce) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->put_function(function_named("many")));
  constexpr int kTasks = 300;
  constexpr int kThreads = 8;
  const std::int64_t t0 = now_unix_us();
  std::set<std::string> queued;
  for (int i = 0; i < kTasks; ++i) {
    AsyncTask task = task_for("many", t0 + i % 7);
    ASSERT_TRUE((i % 2 == 0 ? a : b)->enqueue_task(task, kTasks));
    queued.insert(task.id);
  }
  std::mutex mutex;
  std::vector<AsyncTask> claims;
  std::vector<std::string> errors;
  std::atomic<int> total{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    PostgresStore* node = t % 2 == 0 ? a.get() : b.get();
    threads.emplace_back([&mutex, &claims, &errors, &total, &ready, node, t] {
      const std::string name = "node-" + std::to_string(t);
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      const auto deadline = std::chrono::steady_clock::now() + 60s;
      while (total.load() < kTasks && std::chrono::steady_clock::now() < deadline) {
        auto claimed = node->claim_task(name, now_unix_us(), 3'600'000'000);
        if (!claimed) {
          std::lock_guard lock(mutex);
          errors.push_back(claimed.error().message);
          return;
        }
        // Nothing free this instant (the rest are held by claimers that
        // have not finished yet): look again.
        if (!claimed->has_value()) continue;
        total.fetch_add(1);
        AsyncTask done = **claimed;
        done.state = TaskState::kDone;
        auto finished = node->finish_task(done);
        std::lock_guard lock(mutex);
        if (!finished) errors.push_back(finished.error().message);
        claims.push_back(std::move(**claimed));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  ASSERT_EQ(claims.size(), static_cast<std::size_t>(kTasks));
  std::set<std::string> ids;
  std::set<std::string> nodes;
  for (const AsyncTask& task : claims) {
    ids.insert(task.id);
    nodes.insert(task.node);
    EXPECT_EQ(task.attempts, 1U) << task.id;
  }
  EXPECT_EQ(ids, queued);  // each one, once
  EXPECT_GT(nodes.size(), 1U);
  EXPECT_EQ(*pg_->psql("SELECT count(*), sum(attempts) FROM tasks WHERE state = 'done'"),
            "300|300");
  EXPECT_FALSE(a->claim_task("late", now_unix_us(), 1'000'000)->has_value());
  EXPECT_FALSE(b->next_task_due()->has_value());
}

// --- schedules -----------------------------------------------------------------

TEST_F(PostgresStoreTest, EachFiringIsClaimedOnce) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->put_function(function_named("cron")));
  auto never = a->last_firing("cron", "0");
  ASSERT_TRUE(never) << never.error().message;
  EXPECT_FALSE(never->has_value());
  EXPECT_EQ(a->claim_firing("nope", "0", 1).error().message, function_not_found("nope").message);

  // Four schedulers on two nodes, each walking the same due times.
  constexpr int kDue = 100;
  constexpr int kRacers = 4;
  constexpr std::int64_t kBase = 1'700'000'000'000'000;
  constexpr std::int64_t kMinute = 60'000'000;
  const Race race = race_due_times(*a, *b, kRacers, kDue, [](PostgresStore& node, int d) {
    return node.claim_firing("cron", "0", kBase + d * kMinute);
  });
  EXPECT_EQ(race.failures, 0);
  for (int d = 0; d < kDue; ++d) {
    EXPECT_EQ(race.wins[static_cast<std::size_t>(d)], 1) << "due time " << d;
  }
  EXPECT_EQ(*b->last_firing("cron", "0"),
            std::optional<std::int64_t>(kBase + (kDue - 1) * kMinute));
  // Not later than the last claimed: refused, and nothing moves back.
  EXPECT_FALSE(*a->claim_firing("cron", "0", kBase + (kDue - 1) * kMinute));
  EXPECT_FALSE(*a->claim_firing("cron", "0", kBase));
  EXPECT_EQ(*a->last_firing("cron", "0"),
            std::optional<std::int64_t>(kBase + (kDue - 1) * kMinute));
  // Each key on its own.
  EXPECT_TRUE(*b->claim_firing("cron", "1", kBase));
  EXPECT_EQ(*a->last_firing("cron", "1"), std::optional<std::int64_t>(kBase));
}

// Schedulers on two nodes fire the same due times: each due time gets one
// task, and a refused task leaves its due time unclaimed.
TEST_F(PostgresStoreTest, EachFiringQueuesOneTask) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->put_function(function_named("cron")));
  constexpr int kDue = 40;
  constexpr int kRacers = 4;
  constexpr std::int64_t kBase = 1'700'000'000'000'000;
  const Race race = race_due_times(*a, *b, kRacers, kDue, [](PostgresStore& node, int d) {
    return node.fire_task(task_for("cron", kBase), 1000, "0", kBase + d);
  });
  EXPECT_EQ(race.failures, 0);
  for (int d = 0; d < kDue; ++d) {
    EXPECT_EQ(race.wins[static_cast<std::size_t>(d)], 1) << "due time " << d;
  }
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM tasks WHERE function = 'cron'"), std::to_string(kDue));

  // A full queue: refused, nothing queued, the due time still free.
  const AsyncTask refused = task_for("cron", kBase);
  auto full = a->fire_task(refused, kDue, "0", kBase + kDue);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, ErrorKind::kOverloaded);
  EXPECT_EQ(b->get_task(refused.id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(*b->last_firing("cron", "0"), std::optional<std::int64_t>(kBase + kDue - 1));
  auto later = b->fire_task(refused, kDue + 1, "0", kBase + kDue);
  ASSERT_TRUE(later) << later.error().message;
  EXPECT_TRUE(*later);
  EXPECT_EQ(*a->last_firing("cron", "0"), std::optional<std::int64_t>(kBase + kDue));
  EXPECT_EQ(a->fire_task(task_for("nope", kBase), 10, "0", 1).error().kind, ErrorKind::kNotFound);
}

// --- deleting ------------------------------------------------------------------

TEST_F(PostgresStoreTest, DeletingAFunctionDeletesWhatBelongsToIt) {
  auto store = open();
  ASSERT_TRUE(store);
  for (const char* name : {"gone", "stays"}) {
    ASSERT_TRUE(store->put_function(function_named(name)));
    ASSERT_TRUE(store->put_function(function_named(name)));
    ASSERT_TRUE(store->enqueue_task(task_for(name, 0), 10));
    ASSERT_TRUE(*store->claim_firing(name, "0", 5));
    ASSERT_TRUE(store->add_invocations({record_for(name)})[0]);
  }
  ASSERT_TRUE(store->put_secret("shared", "x"));
  const AsyncTask task = task_for("gone", 0);
  ASSERT_TRUE(store->enqueue_task(task, 10));

  EXPECT_TRUE(*store->delete_function("gone"));
  for (const char* table : {"versions", "tasks", "schedule_firings", "invocations"}) {
    EXPECT_EQ(*pg_->psql(std::string("SELECT count(*) FROM ") + table + " WHERE function = 'gone'"),
              "0")
        << table;
  }
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM versions WHERE function = 'stays'"), "2");
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM tasks WHERE function = 'stays'"), "1");
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM schedule_firings WHERE function = 'stays'"), "1");
  EXPECT_EQ(*pg_->psql("SELECT count(*) FROM invocations WHERE function = 'stays'"), "1");
  EXPECT_EQ(store->list_secrets()->size(), 1U);  // secrets belong to no function
  EXPECT_EQ(store->get_task(task.id).error().kind, ErrorKind::kNotFound);
  EXPECT_FALSE(store->last_firing("gone", "0")->has_value());
  EXPECT_EQ(store->list_versions("gone").error().kind, ErrorKind::kNotFound);

  // Deployed again, it starts over.
  auto fresh = store->put_function(function_named("gone"));
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(fresh->created);
  EXPECT_EQ(fresh->version, 1U);
  EXPECT_TRUE(*store->claim_firing("gone", "0", 1));
}

}  // namespace
}  // namespace nebula::store
