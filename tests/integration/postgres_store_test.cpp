// The PostgreSQL store against a real PostgreSQL 15 started by the test:
// schema and migrations, functions, blobs, records, change notifications,
// and what happens while the server is down.

#include <atomic>
#include <chrono>
#include <condition_variable>
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
  EXPECT_TRUE(*created);
  auto v1 = store->get_function("alpha");
  ASSERT_TRUE(v1);
  auto replaced = store->put_function(function_named("alpha"));
  ASSERT_TRUE(replaced);
  EXPECT_FALSE(*replaced);
  auto v2 = store->get_function("alpha");
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->created_at_us, v1->created_at_us);
  EXPECT_GT(v2->updated_at_us, v1->updated_at_us);
  EXPECT_EQ(v2->manifest.wasm_module, v1->manifest.wasm_module);
  ASSERT_TRUE(store->put_function(function_named("beta")));
  auto all = store->list_functions();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].name, "alpha");
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
  auto one = store->get_invocation(batch[3].id);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->node, "n2");
  EXPECT_EQ(one->stderr_tail, "tail ü");
  EXPECT_EQ(one->cpu_us, std::optional<std::uint64_t>(100));
  EXPECT_EQ(one->timings.total_us, 250);
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

}  // namespace
}  // namespace nebula::store
