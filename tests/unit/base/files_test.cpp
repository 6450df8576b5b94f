#include "base/files.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

namespace nebula::base {
namespace {

namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("nebula-files-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
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

TEST(Files, ReadsProcFilesWhoseSizeIsZero) {
  ASSERT_EQ(fs::file_size("/proc/self/stat"), 0U);
  const auto stat = read_file("/proc/self/stat");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->rfind(std::to_string(::getpid()) + " (", 0), 0U) << *stat;
}

}  // namespace
}  // namespace nebula::base
