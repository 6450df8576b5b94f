#include <gtest/gtest.h>

#include "core/function.hpp"

namespace nebula {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(FunctionName, AcceptsLowercaseDigitsAndDashes) {
  EXPECT_TRUE(is_valid_function_name("fibonacci"));
  EXPECT_TRUE(is_valid_function_name("mc-estimate-pi"));
  EXPECT_TRUE(is_valid_function_name("a"));
  EXPECT_TRUE(is_valid_function_name(std::string(63, 'x')));
}

TEST(FunctionName, RejectsEverythingElse) {
  EXPECT_FALSE(is_valid_function_name(""));
  EXPECT_FALSE(is_valid_function_name("-lead"));
  EXPECT_FALSE(is_valid_function_name("Upper"));
  EXPECT_FALSE(is_valid_function_name("../etc"));
  EXPECT_FALSE(is_valid_function_name("a b"));
  EXPECT_FALSE(is_valid_function_name(std::string(64, 'x')));
}

TEST(Digest, ValidatesShape) {
  EXPECT_TRUE(is_valid_digest(kDigest));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(is_valid_digest("md5:" + std::string(64, 'a')));
}

TEST(Manifest, DefaultsWhenSilent) {
  auto m = parse_manifest(R"({"wasm":{"module":")" + kDigest + R"("}})");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->default_runtime, RuntimeKind::kWasm);
  EXPECT_EQ(m->limits.timeout_ms, 10000U);
  EXPECT_EQ(m->limits.memory_mb, 128U);
  EXPECT_EQ(m->limits.max_input_bytes, 6U * 1024 * 1024);
  EXPECT_EQ(m->limits.max_output_bytes, 6U * 1024 * 1024);
  EXPECT_EQ(m->docker_pool.max_warm, 0U);
  EXPECT_FALSE(m->docker_image);
}

TEST(Manifest, DockerOnlyDefaultsToDocker) {
  auto m = parse_manifest(R"({"docker":{"image":"nebula-fn-hello:latest"}})");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->default_runtime, RuntimeKind::kDocker);
  EXPECT_EQ(*m->docker_image, "nebula-fn-hello:latest");
}

TEST(Manifest, FullDocumentRoundTrips) {
  std::string doc = R"({"wasm":{"module":")" + kDigest + R"("},
    "docker":{"image":"nebula-fn-fibonacci:latest"},"default_runtime":"docker",
    "env":{"KEY":"value"},"args":["--flag"],
    "limits":{"timeout_ms":500,"memory_mb":64,"max_input_bytes":10,"max_output_bytes":20},
    "docker_pool":{"min_warm":1,"max_warm":4,"idle_timeout_s":30}})";
  auto m = parse_manifest(doc);
  ASSERT_TRUE(m) << m.error().message;
  auto again = parse_manifest(manifest_to_json(*m));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->wasm_module, m->wasm_module);
  EXPECT_EQ(again->docker_image, m->docker_image);
  EXPECT_EQ(again->default_runtime, RuntimeKind::kDocker);
  EXPECT_EQ(again->env, (EnvList{{"KEY", "value"}}));
  EXPECT_EQ(again->args, std::vector<std::string>{"--flag"});
  EXPECT_EQ(again->limits, (Limits{500, 64, 10, 20}));
  EXPECT_EQ(again->docker_pool, (DockerPool{1, 4, 30}));
}

struct BadManifest {
  const char* doc;
  const char* mentions;
};

class ManifestErrors : public ::testing::TestWithParam<BadManifest> {};

TEST_P(ManifestErrors, NamesTheProblem) {
  auto m = parse_manifest(GetParam().doc);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(m.error().message.find(GetParam().mentions), std::string::npos) << m.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    All, ManifestErrors,
    ::testing::Values(
        BadManifest{"not json", "not valid JSON"}, BadManifest{"[1,2]", "JSON object"},
        BadManifest{"{}", "at least one variant"},
        BadManifest{R"({"wasm":{"module":"sha256:xyz"}})", "wasm.module"},
        BadManifest{R"({"docker":{"image":""}})", "docker.image"},
        BadManifest{R"({"docker":{"image":"a b"}})", "docker.image"},
        BadManifest{R"({"docker":{"image":"x"},"default_runtime":"wasm"})", "default_runtime"},
        BadManifest{R"({"docker":{"image":"x"},"default_runtime":"jvm"})", "default_runtime"},
        BadManifest{R"({"docker":{"image":"x"},"limits":{"timeout_ms":0}})", "limits.timeout_ms"},
        BadManifest{R"({"docker":{"image":"x"},"limits":{"timeout_ms":-5}})", "limits.timeout_ms"},
        BadManifest{R"({"docker":{"image":"x"},"limits":{"memory_mb":"big"}})", "limits.memory_mb"},
        BadManifest{R"({"docker":{"image":"x"},"limits":{"timeout":5}})", "limits.timeout"},
        BadManifest{R"({"docker":{"image":"x"},"env":{"1X":"v"}})", "env.1X"},
        BadManifest{R"({"docker":{"image":"x"},"env":{"K":1}})", "env.K"},
        BadManifest{R"({"docker":{"image":"x"},"args":[1]})", "args"},
        BadManifest{R"({"docker":{"image":"x"},"docker_pool":{"min_warm":3,"max_warm":1}})",
                    "min_warm"},
        BadManifest{R"({"docker":{"image":"x"},"extra":true})", "extra"}));

}  // namespace
}  // namespace nebula
