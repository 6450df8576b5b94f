#include "wasm/module_cache.hpp"

#include <filesystem>
#include <fstream>

#include "wasm_fixture.hpp"

namespace nebula::wasm {
namespace {

using testing::WasmTest;

class ModuleCacheTest : public WasmTest {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("nebula-cache-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Artifacts as plain files in the test's directory.
  ArtifactStorage storage() {
    return ArtifactStorage{
        .find = [this](std::string_view digest) -> std::optional<std::filesystem::path> {
          auto p = path_of(digest);
          if (std::filesystem::exists(p)) return p;
          return std::nullopt;
        },
        .save = [this](std::string_view digest, std::string_view bytes) -> Status {
          std::filesystem::create_directories(dir_);
          std::ofstream(path_of(digest), std::ios::binary) << bytes;
          return {};
        }};
  }
  std::filesystem::path path_of(std::string_view digest) const {
    return dir_ / (std::string(digest.substr(7)) + ".cwasm");
  }

  std::filesystem::path dir_;
};

const std::string kDigest = "sha256:" + std::string(64, 'c');

TEST_F(ModuleCacheTest, CompileStoresAndLoadDeserializes) {
  ModuleCache cache(engine(), storage());
  auto compiled = cache.compile(kDigest, testing::read_guest("counter"));
  ASSERT_TRUE(compiled) << compiled.error().message;
  EXPECT_TRUE(std::filesystem::exists(path_of(kDigest)));

  int reads = 0;
  auto loaded = cache.load(kDigest, false, [&reads]() -> Result<std::string> {
    ++reads;
    return make_error(ErrorKind::kNotFound, "source must not be needed");
  });
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(reads, 0);
  auto program = Program::link(engine(), std::move(*loaded));
  ASSERT_TRUE(program);
  EXPECT_EQ(run(**program).stdout_data, "1 1\n");
}

TEST_F(ModuleCacheTest, DamagedArtifactIsRecompiled) {
  ModuleCache cache(engine(), storage());
  std::filesystem::create_directories(path_of(kDigest).parent_path());
  { std::ofstream(path_of(kDigest)) << "not a compiled module"; }
  int reads = 0;
  auto loaded = cache.load(kDigest, false, [&reads]() -> Result<std::string> {
    ++reads;
    return testing::read_guest("counter");
  });
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(reads, 1);
  // The good artifact replaced the damaged one.
  auto again = Module::deserialize_file(engine(), path_of(kDigest), false);
  EXPECT_TRUE(again);
}

TEST_F(ModuleCacheTest, CompatibilityKeyNamesTheEngineAndIsAFileName) {
  const std::string key = Engine::compatibility_key();
  EXPECT_EQ(key.rfind("wasmtime-" + std::to_string(WASMTIME_VERSION_MAJOR) + "_", 0), 0U) << key;
  EXPECT_EQ(
      key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"),
      std::string::npos)
      << key;
}

}  // namespace
}  // namespace nebula::wasm
