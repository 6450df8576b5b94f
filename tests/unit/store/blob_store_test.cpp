#include "store/blob_store.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/files.hpp"
#include "unit/store/temp_dir.hpp"

namespace nebula::store {
namespace {

namespace fs = std::filesystem;

// SHA-256("abc") from FIPS 180-2, appendix B.1.
constexpr std::string_view kAbcHex =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kAbcDigest = "sha256:" + std::string(kAbcHex);
const std::string kEngine = "wt-9f86d081884c7d65";

void write_raw(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

const std::vector<std::string> kInvalidDigests = {
    "",
    "abc",
    "sha256:",
    "sha256:" + std::string(63, 'a'),
    "sha256:" + std::string(65, 'a'),
    "sha256:" + std::string(64, 'A'),
    "SHA256:" + std::string(kAbcHex),
    "sha512:" + std::string(kAbcHex),
    "sha256:../../../../../../../../../../../../../../../../../../../etc/passwd",
    "sha256:" + std::string(62, 'a') + "/a",
};

class StoreBlobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = BlobStore::open(dir_.path());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::make_unique<BlobStore>(std::move(store).value());
  }

  testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
};

TEST(StoreSha256Digest, MatchesKnownVector) {
  auto digest = sha256_digest("abc");
  ASSERT_TRUE(digest);
  EXPECT_EQ(*digest, kAbcDigest);
}

TEST_F(StoreBlobTest, PutThenGetRoundTrips) {
  const std::string bytes("\0asm\x01\0\0\0 module bytes", 21);
  auto digest = store_->put(bytes);
  ASSERT_TRUE(digest) << digest.error().message;
  EXPECT_EQ(*digest, *sha256_digest(bytes));
  EXPECT_TRUE(store_->contains(*digest));

  auto back = store_->get(*digest);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, bytes);
}

TEST_F(StoreBlobTest, LaysFilesOutByDigest) {
  ASSERT_TRUE(store_->put("abc"));
  const fs::path expected = dir_.path() / "blobs" / "sha256" / std::string(kAbcHex);
  auto path = store_->path_of(kAbcDigest);
  ASSERT_TRUE(path);
  EXPECT_EQ(*path, expected);
  EXPECT_EQ(base::read_file(expected), "abc");
}

TEST_F(StoreBlobTest, EmptyBlobIsAValidBlob) {
  auto digest = store_->put("");
  ASSERT_TRUE(digest);
  auto back = store_->get(*digest);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, "");
}

TEST_F(StoreBlobTest, PutIsIdempotent) {
  auto first = store_->put("abc");
  auto second = store_->put("abc");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(names_in(dir_.path() / "blobs" / "sha256"), std::vector<std::string>{kAbcHex.data()});
}

TEST_F(StoreBlobTest, LeavesNoTemporaryFiles) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store_->put("blob " + std::to_string(i)));
  for (const auto& name : names_in(dir_.path() / "blobs" / "sha256")) {
    EXPECT_EQ(name.size(), 64U) << name;
    EXPECT_FALSE(name.starts_with(".tmp-")) << name;
  }
}

// A crash between writing and renaming leaves only a ".tmp-" file: the blob
// is absent (never half-present under its final name) and the next open
// removes the leftover.
TEST_F(StoreBlobTest, CrashLeftoverIsNeverTheBlobAndIsCleanedOnOpen) {
  const fs::path shas = dir_.path() / "blobs" / "sha256";
  const fs::path leftover = shas / (".tmp-" + std::string(kAbcHex) + "-Ab12Cd");
  write_raw(leftover, "ab");  // a partial write of "abc"
  EXPECT_FALSE(store_->contains(kAbcDigest));
  auto missing = store_->get(kAbcDigest);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);

  auto reopened = BlobStore::open(dir_.path());
  ASSERT_TRUE(reopened);
  EXPECT_FALSE(fs::exists(leftover));
  auto digest = reopened->put("abc");
  ASSERT_TRUE(digest);
  EXPECT_EQ(*reopened->get(kAbcDigest), "abc");
}

TEST_F(StoreBlobTest, GetOfAbsentBlobIsNotFound) {
  auto missing = store_->get(kAbcDigest);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message.find(kAbcDigest), std::string::npos);
  EXPECT_FALSE(store_->contains(kAbcDigest));
}

TEST_F(StoreBlobTest, DetectsACorruptedFile) {
  ASSERT_TRUE(store_->put("abc"));
  write_raw(*store_->path_of(kAbcDigest), "abd");
  auto bad = store_->get(kAbcDigest);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInternal);
  EXPECT_NE(bad.error().message.find("corrupt"), std::string::npos) << bad.error().message;
}

TEST_F(StoreBlobTest, RejectsInvalidDigestsBeforeTouchingDisk) {
  for (const auto& digest : kInvalidDigests) {
    SCOPED_TRACE(digest);
    EXPECT_FALSE(store_->contains(digest));
    auto get = store_->get(digest);
    ASSERT_FALSE(get);
    EXPECT_EQ(get.error().kind, ErrorKind::kInvalidArgument);
    auto path = store_->path_of(digest);
    ASSERT_FALSE(path);
    EXPECT_EQ(path.error().kind, ErrorKind::kInvalidArgument);
    auto compiled = store_->compiled_path(digest, kEngine);
    ASSERT_FALSE(compiled);
    EXPECT_EQ(compiled.error().kind, ErrorKind::kInvalidArgument);
    auto put = store_->put_compiled(digest, kEngine, "code");
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().kind, ErrorKind::kInvalidArgument);
  }
  EXPECT_TRUE(names_in(dir_.path() / "blobs" / "compiled").empty());
}

TEST_F(StoreBlobTest, CompiledModulesLiveBesideTheBlobs) {
  auto path = store_->compiled_path(kAbcDigest, kEngine);
  ASSERT_TRUE(path);
  EXPECT_EQ(*path,
            dir_.path() / "blobs" / "compiled" / kEngine / (std::string(kAbcHex) + ".cwasm"));
  EXPECT_FALSE(fs::exists(*path));

  ASSERT_TRUE(store_->put_compiled(kAbcDigest, kEngine, "compiled v1"));
  EXPECT_EQ(base::read_file(*path), "compiled v1");
  ASSERT_TRUE(store_->put_compiled(kAbcDigest, kEngine, "compiled v2"));
  EXPECT_EQ(base::read_file(*path), "compiled v2");
  EXPECT_EQ(names_in(path->parent_path()).size(), 1U);

  // Another engine build gets its own directory.
  auto other = store_->compiled_path(kAbcDigest, "wt-0000000000000000");
  ASSERT_TRUE(other);
  EXPECT_NE(*other, *path);
}

TEST_F(StoreBlobTest, RejectsInvalidEngineHashes) {
  for (std::string_view hash : {"", "..", "a/b", "a.b", "with space"}) {
    SCOPED_TRACE(hash);
    auto path = store_->compiled_path(kAbcDigest, hash);
    ASSERT_FALSE(path);
    EXPECT_EQ(path.error().kind, ErrorKind::kInvalidArgument);
  }
  EXPECT_FALSE(store_->compiled_path(kAbcDigest, std::string(129, 'a')));
  EXPECT_TRUE(store_->compiled_path(kAbcDigest, std::string(128, 'a')));
}

TEST_F(StoreBlobTest, ContentSurvivesReopen) {
  auto digest = store_->put("persisted");
  ASSERT_TRUE(digest);
  ASSERT_TRUE(store_->put_compiled(*digest, kEngine, "machine code"));
  store_.reset();

  auto reopened = BlobStore::open(dir_.path());
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*reopened->get(*digest), "persisted");
  EXPECT_EQ(base::read_file(*reopened->compiled_path(*digest, kEngine)), "machine code");
}

}  // namespace
}  // namespace nebula::store
