#include "base/files.hpp"

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

namespace nebula::base {
namespace {

namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("nebula-files-test-");
    ASSERT_TRUE(dir) << dir.error().message;
    scratch_.emplace(std::move(*dir));
    dir_ = scratch_->path();
  }
  std::optional<TempDir> scratch_;
  fs::path dir_;
};

TEST_F(FilesTest, ReadsEveryByteIncludingNulsAndNewlines) {
  std::string bytes;
  for (int i = 0; i < 200'000; ++i) bytes += static_cast<char>(i % 256);
  bytes += std::string("\r\n\0end", 6);
  std::ofstream(dir_ / "data.bin", std::ios::binary) << bytes;
  const auto read = read_file(dir_ / "data.bin");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->size(), bytes.size());
  EXPECT_TRUE(*read == bytes);
}

TEST_F(FilesTest, AnEmptyFileIsAnEmptyString) {
  std::ofstream(dir_ / "empty").close();
  const auto read = read_file(dir_ / "empty");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, "");
}

TEST_F(FilesTest, MissingFilesAndDirectoriesAreNullopt) {
  EXPECT_FALSE(read_file(dir_ / "missing").has_value());
  EXPECT_FALSE(read_file(dir_).has_value());
}

TEST_F(FilesTest, WriteThenReadGivesTheSameBytes) {
  const std::string bytes("binary\0data\r\n", 13);
  ASSERT_TRUE(write_file(dir_ / "out", bytes));
  EXPECT_EQ(read_file(dir_ / "out"), bytes);
  // A second write replaces the content rather than appending.
  ASSERT_TRUE(write_file(dir_ / "out", "short"));
  EXPECT_EQ(read_file(dir_ / "out"), "short");
}

TEST_F(FilesTest, WriteNamesTheFileItCannotWrite) {
  const Status written = write_file(dir_ / "no-such-dir" / "out", "x");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().message, "cannot write " + (dir_ / "no-such-dir" / "out").string() +
                                         ": No such file or directory");
}

TEST(TempDirTest, IsFreshAndRemovedWithEverythingInIt) {
  fs::path path;
  {
    auto dir = TempDir::create("nebula-tempdir-test-");
    ASSERT_TRUE(dir) << dir.error().message;
    path = dir->path();
    EXPECT_TRUE(fs::is_directory(path));
    EXPECT_TRUE(fs::is_empty(path));
    EXPECT_EQ(path.filename().string().rfind("nebula-tempdir-test-", 0), 0U);
    fs::create_directories(path / "sub");
    ASSERT_TRUE(write_file(path / "sub" / "file", "x"));
    // Moving hands the directory over; the moved-from one removes nothing.
    TempDir moved = std::move(*dir);
    EXPECT_EQ(moved.path(), path);
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(Files, ReadsProcFilesWhoseSizeIsZero) {
  ASSERT_EQ(fs::file_size("/proc/self/stat"), 0U);
  const auto stat = read_file("/proc/self/stat");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->rfind(std::to_string(::getpid()) + " (", 0), 0U) << *stat;
}

}  // namespace
}  // namespace nebula::base
