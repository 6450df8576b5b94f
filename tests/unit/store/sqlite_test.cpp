#include "store/sqlite.hpp"

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "unit/store/temp_dir.hpp"

namespace nebula::store {
namespace {

class StoreSqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::open(dir_.path() / "test.db");
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::make_unique<Database>(std::move(db).value());
    ASSERT_TRUE(db_->exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"));
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(StoreSqliteTest, BindStepAndReadColumns) {
  auto insert = db_->prepare("INSERT INTO t (k, v) VALUES (?1, ?2)");
  ASSERT_TRUE(insert) << insert.error().message;
  ASSERT_TRUE(insert->bind(1, std::int64_t{-7}));
  // Embedded NUL bytes survive: text is bound and read with its length.
  const std::string text("a\0b\xC3\xA9", 5);
  ASSERT_TRUE(insert->bind(2, text));
  ASSERT_TRUE(insert->run());
  EXPECT_EQ(db_->changes(), 1);

  auto select = db_->prepare("SELECT k, v, NULL FROM t");
  ASSERT_TRUE(select);
  auto row = select->step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(select->column_int64(0), -7);
  EXPECT_EQ(select->column_text(1), text);
  EXPECT_TRUE(select->column_is_null(2));
  EXPECT_EQ(select->column_text(2), "");
  row = select->step();
  ASSERT_TRUE(row);
  EXPECT_FALSE(*row);
}

TEST_F(StoreSqliteTest, StatementIsReusableAfterReset) {
  auto insert = db_->prepare("INSERT INTO t (k, v) VALUES (?1, ?2)", /*persistent=*/true);
  ASSERT_TRUE(insert);
  for (std::int64_t k = 0; k < 3; ++k) {
    ASSERT_TRUE(insert->bind(1, k));
    ASSERT_TRUE(insert->bind_null(2));
    ASSERT_TRUE(insert->run());
  }
  auto count = db_->query_int("SELECT COUNT(*) FROM t WHERE v IS NULL");
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 3);
}

TEST_F(StoreSqliteTest, PrepareErrorCarriesSqliteMessage) {
  auto bad = db_->prepare("SELECT * FROM missing_table");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInternal);
  EXPECT_NE(bad.error().message.find("no such table: missing_table"), std::string::npos)
      << bad.error().message;
}

TEST_F(StoreSqliteTest, ConstraintViolationIsInvalidArgument) {
  ASSERT_TRUE(db_->exec("INSERT INTO t (k, v) VALUES (1, 'x')"));
  auto insert = db_->prepare("INSERT INTO t (k, v) VALUES (1, 'y')");
  ASSERT_TRUE(insert);
  auto st = insert->run();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(st.error().message.find("UNIQUE constraint failed"), std::string::npos)
      << st.error().message;
}

TEST_F(StoreSqliteTest, MovedStatementKeepsWorking) {
  auto prepared = db_->prepare("SELECT 42");
  ASSERT_TRUE(prepared);
  Statement a = std::move(prepared).value();
  Statement b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  ASSERT_TRUE(b);
  auto row = b.step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(b.column_int64(0), 42);
}

TEST_F(StoreSqliteTest, TransactionRollsBackUnlessCommitted) {
  auto begin = db_->prepare("BEGIN IMMEDIATE");
  auto commit = db_->prepare("COMMIT");
  auto rollback = db_->prepare("ROLLBACK");
  ASSERT_TRUE(begin && commit && rollback);
  const Transaction::Statements stmts{&*begin, &*commit, &*rollback};
  {
    auto tx = Transaction::begin(stmts);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db_->exec("INSERT INTO t (k, v) VALUES (1, 'dropped')"));
  }
  {
    auto tx = Transaction::begin(stmts);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db_->exec("INSERT INTO t (k, v) VALUES (2, 'kept')"));
    ASSERT_TRUE(tx->commit());
  }
  auto rows = db_->query_text("SELECT group_concat(v) FROM t");
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, "kept");
}

TEST(StoreSqlite, OpenFailureNamesThePath) {
  auto db = Database::open("/nonexistent-dir/for/nebula/test.db");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(db.error().message.find("/nonexistent-dir/for/nebula/test.db"), std::string::npos);
}

}  // namespace
}  // namespace nebula::store
