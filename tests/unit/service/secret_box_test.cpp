#include "service/secret_box.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>

namespace nebula::service {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class SecretBoxFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "nebula-secret-box-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Writes `bytes` to dir/name with `mode`; the path.
  fs::path write(const std::string& name, const std::string& bytes, fs::perms mode) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    fs::permissions(p, mode);
    return p;
  }

  fs::path dir_;
};

const std::string kRawKey = [] {
  std::string key(32, '\0');
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(i * 7 + 1);
  return key;
}();

std::string hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

SecretBox must_box(std::string_view key) {
  auto box = SecretBox::from_key(key);
  EXPECT_TRUE(box) << box.error().message;
  if (!box) std::abort();
  return std::move(box).value();
}

TEST(SecretBox, RoundTrips) {
  auto box = must_box(kRawKey);
  std::string big(64 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  for (const std::string& value :
       {std::string(), std::string("hunter2"), std::string("a\0b\0\xff", 5), big}) {
    const std::string sealed = box.seal(value);
    EXPECT_EQ(sealed.size(), value.size() + SecretBox::kOverheadBytes);
    auto opened = box.open(sealed);
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(*opened, value);
  }
}

TEST(SecretBox, SealsDifferEachTime) {
  auto box = must_box(kRawKey);
  const std::string a = box.seal("same value");
  const std::string b = box.seal("same value");
  EXPECT_NE(a, b);
  EXPECT_NE(a.substr(0, 24), b.substr(0, 24));  // the nonces
  EXPECT_EQ(*box.open(a), *box.open(b));
  EXPECT_EQ(a.find("same value"), std::string::npos);
}

TEST(SecretBox, AnotherKeyDoesNotOpen) {
  auto box = must_box(kRawKey);
  std::string other_key = kRawKey;
  other_key[0] = static_cast<char>(other_key[0] ^ 1);
  auto other = must_box(other_key);
  auto opened = other.open(box.seal("the secret value"));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind, ErrorKind::kInternal);
  EXPECT_NE(opened.error().message.find("secrets key"), std::string::npos)
      << opened.error().message;
  EXPECT_NE(opened.error().message.find("may have changed"), std::string::npos);
  EXPECT_EQ(opened.error().message.find("the secret value"), std::string::npos);
}

TEST(SecretBox, ACorruptedValueDoesNotOpen) {
  auto box = must_box(kRawKey);
  const std::string sealed = box.seal("payload");
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto opened = box.open(bad);
    ASSERT_FALSE(opened) << "flipped byte " << i;
    EXPECT_EQ(opened.error().kind, ErrorKind::kInternal);
  }
  EXPECT_FALSE(box.open(sealed.substr(0, sealed.size() - 1)));
  EXPECT_FALSE(box.open(sealed + "x"));
  EXPECT_FALSE(box.open(""));
  EXPECT_FALSE(box.open(std::string(SecretBox::kOverheadBytes - 1, 'x')));
  EXPECT_FALSE(box.open(std::string(SecretBox::kOverheadBytes, 'x')));
}

TEST(SecretBox, MovesKeepTheKey) {
  auto box = must_box(kRawKey);
  const std::string sealed = box.seal("v");
  SecretBox moved = std::move(box);
  EXPECT_EQ(*moved.open(sealed), "v");
  auto other = must_box(std::string(32, 'z'));
  other = std::move(moved);
  EXPECT_EQ(*other.open(sealed), "v");
}

TEST(SecretBox, KeyOfTheWrongSizeIsRefused) {
  auto box = SecretBox::from_key("short");
  ASSERT_FALSE(box);
  EXPECT_EQ(box.error().kind, ErrorKind::kInvalidArgument);
}

TEST_F(SecretBoxFiles, ReadsRawAndHexKeys) {
  const std::string sealed = must_box(kRawKey).seal("across formats");
  const auto owner_only = fs::perms::owner_read | fs::perms::owner_write;
  for (const auto& [name, content] : std::vector<std::pair<std::string, std::string>>{
           {"raw", kRawKey},
           {"hex", hex(kRawKey)},
           {"hex-newline", hex(kRawKey) + "\n"},
           {"hex-crlf", hex(kRawKey) + "\r\n"},
           {"HEX", [] {
              std::string h = hex(kRawKey);
              for (char& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
              return h;
            }()}}) {
    auto box = SecretBox::from_key_file(write(name, content, owner_only), false);
    ASSERT_TRUE(box) << name << ": " << box.error().message;
    auto opened = box->open(sealed);
    ASSERT_TRUE(opened) << name << ": " << opened.error().message;
    EXPECT_EQ(*opened, "across formats");
  }
  // Read-only for the owner is fine too.
  EXPECT_TRUE(SecretBox::from_key_file(write("ro", kRawKey, fs::perms::owner_read), false));
}

TEST_F(SecretBoxFiles, RefusesKeysOfTheWrongShape) {
  const auto owner_only = fs::perms::owner_read | fs::perms::owner_write;
  struct Case {
    std::string content;
    std::string mentions;
  };
  for (const auto& c : std::vector<Case>{
           {"", "not 0 bytes"},
           {std::string(31, 'k'), "not 31 bytes"},
           {kRawKey + "\n", "not 33 bytes"},
           {hex(kRawKey).substr(2), "not 62 bytes"},
           {hex(kRawKey) + "\n\n", "not 66 bytes"},
           {hex(kRawKey) + "00", "not 66 bytes"},
           {std::string(1000, 'a'), "not more than 66 bytes"},
           {std::string(64, 'g'), "not all hex digits"},
       }) {
    auto box = SecretBox::from_key_file(write("bad", c.content, owner_only), false);
    ASSERT_FALSE(box) << c.mentions;
    EXPECT_EQ(box.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_NE(box.error().message.find(c.mentions), std::string::npos) << box.error().message;
    if (c.mentions != "not all hex digits") {
      EXPECT_NE(box.error().message.find("32 raw bytes or 64 hex digits"), std::string::npos)
          << box.error().message;
    }
  }
}

TEST_F(SecretBoxFiles, MissingWithoutCreateIsNotFound) {
  auto box = SecretBox::from_key_file(dir_ / "absent", false);
  ASSERT_FALSE(box);
  EXPECT_EQ(box.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(box.error().message.find("absent"), std::string::npos) << box.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "absent"));
}

TEST_F(SecretBoxFiles, CreatesAnOwnerOnlyHexKeyOnce) {
  const fs::path path = dir_ / "secrets.key";
  std::string sealed;
  {
    auto box = SecretBox::from_key_file(path, true);
    ASSERT_TRUE(box) << box.error().message;
    sealed = box->seal("kept across restarts");
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(content.size(), 65U);
  EXPECT_EQ(content.back(), '\n');
  EXPECT_EQ(content.find_first_not_of("0123456789abcdef"), 64U);

  // Opening again, with or without create, reads the same key.
  for (bool create : {true, false}) {
    auto again = SecretBox::from_key_file(path, create);
    ASSERT_TRUE(again) << again.error().message;
    auto opened = again->open(sealed);
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(*opened, "kept across restarts");
  }
  std::ifstream in2(path, std::ios::binary);
  std::string content2((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content2, content);
}

TEST_F(SecretBoxFiles, CreateInAMissingDirectoryFails) {
  auto box = SecretBox::from_key_file(dir_ / "no" / "such" / "secrets.key", true);
  ASSERT_FALSE(box);
  EXPECT_NE(box.error().message.find("cannot create secrets key file"), std::string::npos)
      << box.error().message;
}

TEST_F(SecretBoxFiles, RefusesAKeyOthersCanRead) {
  const auto mode_0644 = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                         fs::perms::others_read;
  const fs::path path = write("shared.key", hex(kRawKey) + "\n", mode_0644);
  auto box = SecretBox::from_key_file(path, true);
  ASSERT_FALSE(box);
  EXPECT_EQ(box.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(box.error().message.find("mode 0644"), std::string::npos) << box.error().message;
  EXPECT_NE(box.error().message.find("chmod 600"), std::string::npos) << box.error().message;
  EXPECT_NE(box.error().message.find(path.string()), std::string::npos) << box.error().message;
  EXPECT_EQ(box.error().message.find(hex(kRawKey)), std::string::npos);

  // Group-writable alone is refused as well.
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_write);
  EXPECT_FALSE(SecretBox::from_key_file(path, false));
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(SecretBox::from_key_file(path, false));
}

TEST_F(SecretBoxFiles, RefusesADirectory) {
  fs::create_directory(dir_ / "keydir");
  fs::permissions(dir_ / "keydir", fs::perms::owner_all);
  auto box = SecretBox::from_key_file(dir_ / "keydir", false);
  ASSERT_FALSE(box);
  EXPECT_NE(box.error().message.find("not a regular file"), std::string::npos)
      << box.error().message;
}

}  // namespace
}  // namespace nebula::service
