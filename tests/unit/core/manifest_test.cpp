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
  EXPECT_EQ(m->limits.max_concurrency, 0U);
  EXPECT_EQ(m->async.max_retries, 3U);
  EXPECT_EQ(m->async.max_queued, 1000U);
  EXPECT_EQ(m->async, AsyncSettings{});
  EXPECT_TRUE(m->secret_env.empty());
  EXPECT_TRUE(m->triggers.empty());
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

TEST(Manifest, EnvTakesLiteralsAndSecrets) {
  auto m = parse_manifest(R"({"docker":{"image":"x"},
    "env":{"A":"literal","API_KEY":{"secret":"api-key"},"B":"","DB_PASS":{"secret":"db-1"}}})");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->env, (EnvList{{"A", "literal"}, {"B", ""}}));
  EXPECT_EQ(m->secret_env, (std::vector<SecretEnv>{{"API_KEY", "api-key"}, {"DB_PASS", "db-1"}}));
}

TEST(Manifest, EnvLimitCountsSecretsToo) {
  std::string env;
  for (int i = 0; i < 256; ++i) {
    if (!env.empty()) env += ',';
    env += "\"V" + std::to_string(i) + "\":";
    env += i % 2 == 0 ? R"("x")" : R"({"secret":"s"})";
  }
  auto ok = parse_manifest(R"({"docker":{"image":"x"},"env":{)" + env + "}}");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->env.size() + ok->secret_env.size(), 256U);
  auto over =
      parse_manifest(R"({"docker":{"image":"x"},"env":{)" + env + R"(,"EXTRA":{"secret":"s"}}})");
  ASSERT_FALSE(over);
  EXPECT_NE(over.error().message.find("'env' has more than 256 entries"), std::string::npos)
      << over.error().message;
}

TEST(Manifest, SecretNamesFollowTheFunctionNameRule) {
  auto m = parse_manifest(R"({"docker":{"image":"x"},"env":{"API_KEY":{"secret":"Api_Key"}}})");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(m.error().message,
            "manifest field 'env.API_KEY.secret' is not a valid secret name: use 1 to 63 "
            "characters of a-z, 0-9 and '-', starting with a letter or digit");
}

TEST(Manifest, ConcurrencyAsyncAndTriggers) {
  auto m = parse_manifest(R"({"docker":{"image":"x"},
    "limits":{"max_concurrency":8},
    "async":{"max_retries":0,"max_queued":5},
    "triggers":[{"schedule":"*/5 * * * *"},
                {"schedule":"@every 30s","input":"{\"ping\":1}","missed":"catch_up"},
                {"schedule":"@daily","missed":"skip"}]})");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->limits.max_concurrency, 8U);
  EXPECT_EQ(m->async, (AsyncSettings{0, 5}));
  ASSERT_EQ(m->triggers.size(), 3U);
  EXPECT_EQ(m->triggers[0], (Trigger{"*/5 * * * *", "", MissedFirings::kSkip}));
  EXPECT_EQ(m->triggers[1], (Trigger{"@every 30s", R"({"ping":1})", MissedFirings::kCatchUp}));
  EXPECT_EQ(m->triggers[2], (Trigger{"@daily", "", MissedFirings::kSkip}));
}

TEST(Manifest, BoundsAreInclusive) {
  auto m = parse_manifest(R"({"docker":{"image":"x"},"limits":{"max_concurrency":100000},
    "async":{"max_retries":20,"max_queued":100000},
    "triggers":[{"schedule":"* * * * *","input":")" +
                          std::string(64 * 1024, 'i') + R"("}]})");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->limits.max_concurrency, 100000U);
  EXPECT_EQ(m->async, (AsyncSettings{20, 100000}));
  EXPECT_EQ(m->triggers[0].input.size(), 64U * 1024);

  std::string sixteen;
  for (int i = 0; i < 16; ++i) {
    if (i > 0) sixteen += ',';
    sixteen += R"({"schedule":"@hourly"})";
  }
  auto many = parse_manifest(R"({"docker":{"image":"x"},"triggers":[)" + sixteen + "]}");
  ASSERT_TRUE(many) << many.error().message;
  EXPECT_EQ(many->triggers.size(), 16U);
  auto too_many = parse_manifest(R"({"docker":{"image":"x"},"triggers":[)" + sixteen +
                                 R"(,{"schedule":"@hourly"}]})");
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().message.find("'triggers' has more than 16 entries"), std::string::npos)
      << too_many.error().message;
}

TEST(Manifest, TriggerInputOverTheLimitIsRefused) {
  auto m = parse_manifest(R"({"docker":{"image":"x"},"triggers":[{"schedule":"@hourly","input":")" +
                          std::string(64 * 1024 + 1, 'i') + R"("}]})");
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("'triggers[0].input' is longer than 65536 bytes"),
            std::string::npos)
      << m.error().message;
}

TEST(Manifest, ScheduleErrorsAreTheParsersWords) {
  auto m = parse_manifest(
      R"({"docker":{"image":"x"},"triggers":[{"schedule":"@hourly"},{"schedule":"61 * * * *"}]})");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message,
            "manifest field 'triggers[1].schedule' is not a valid schedule: minute field '61' is "
            "out of range 0-59");
}

TEST(Manifest, NewSectionsRoundTrip) {
  std::string doc = R"({"wasm":{"module":")" + kDigest + R"("},
    "env":{"A":"literal","API_KEY":{"secret":"api-key"}},
    "limits":{"max_concurrency":3},
    "async":{"max_retries":7,"max_queued":12},
    "triggers":[{"schedule":"0 9 * * mon-fri","input":"hello\u0000world","missed":"catch_up"},
                {"schedule":"@every 1h30m"}]})";
  auto m = parse_manifest(doc);
  ASSERT_TRUE(m) << m.error().message;
  const std::string json = manifest_to_json(*m);
  auto again = parse_manifest(json);
  ASSERT_TRUE(again) << again.error().message << "\n" << json;
  EXPECT_EQ(again->env, m->env);
  EXPECT_EQ(again->secret_env, m->secret_env);
  EXPECT_EQ(again->limits, m->limits);
  EXPECT_EQ(again->async, m->async);
  EXPECT_EQ(again->triggers, m->triggers);
  EXPECT_EQ(again->triggers[0].input, std::string("hello\0world", 11));
  // Canonical: a second trip changes nothing.
  EXPECT_EQ(manifest_to_json(*again), json);
  EXPECT_NE(json.find(R"("API_KEY":{"secret":"api-key"})"), std::string::npos) << json;
}

TEST(Manifest, NewSectionsAreAlwaysWritten) {
  auto m = parse_manifest(R"({"docker":{"image":"x"}})");
  ASSERT_TRUE(m) << m.error().message;
  const std::string json = manifest_to_json(*m);
  EXPECT_NE(json.find(R"("max_concurrency":0)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("async":{"max_retries":3,"max_queued":1000})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("triggers":[])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("env":{})"), std::string::npos) << json;
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
        BadManifest{R"({"docker":{"image":"x"},"extra":true})", "extra"},
        // env secrets
        BadManifest{R"({"docker":{"image":"x"},"env":{"K":[]}})",
                    "'env.K' must be a string or {\"secret\": \"<secret name>\"}"},
        BadManifest{R"({"docker":{"image":"x"},"env":{"K":{}}})", "'env.K.secret' must be"},
        BadManifest{R"({"docker":{"image":"x"},"env":{"K":{"secret":1}}})", "'env.K.secret'"},
        BadManifest{R"({"docker":{"image":"x"},"env":{"K":{"secret":""}}})",
                    "'env.K.secret' is not a valid secret name"},
        BadManifest{R"({"docker":{"image":"x"},"env":{"K":{"secret":"-x"}}})", "'env.K.secret'"},
        BadManifest{R"({"docker":{"image":"x"},"env":{"K":{"secret":"s","version":2}}})",
                    "'env.K.version' is not a known field (expected one of: secret)"},
        BadManifest{R"({"docker":{"image":"x"},"env":{"1K":{"secret":"s"}}})", "'env.1K'"},
        // limits.max_concurrency
        BadManifest{R"({"docker":{"image":"x"},"limits":{"max_concurrency":100001}})",
                    "'limits.max_concurrency' must be between 0 and 100000"},
        BadManifest{R"({"docker":{"image":"x"},"limits":{"max_concurrency":-1}})",
                    "'limits.max_concurrency'"},
        BadManifest{R"({"docker":{"image":"x"},"limits":{"max_concurrency":"4"}})",
                    "'limits.max_concurrency'"},
        // async
        BadManifest{R"({"docker":{"image":"x"},"async":[]})", "'async' must be an object"},
        BadManifest{R"({"docker":{"image":"x"},"async":{"max_retries":21}})",
                    "'async.max_retries' must be between 0 and 20"},
        BadManifest{R"({"docker":{"image":"x"},"async":{"max_queued":0}})",
                    "'async.max_queued' must be between 1 and 100000"},
        BadManifest{R"({"docker":{"image":"x"},"async":{"max_queued":100001}})",
                    "'async.max_queued'"},
        BadManifest{R"({"docker":{"image":"x"},"async":{"retries":1}})",
                    "'async.retries' is not a known field"},
        // triggers
        BadManifest{R"({"docker":{"image":"x"},"triggers":{}})", "'triggers' must be an array"},
        BadManifest{R"({"docker":{"image":"x"},"triggers":["@hourly"]})",
                    "'triggers[0]' must be an object"},
        BadManifest{R"({"docker":{"image":"x"},"triggers":[{}]})",
                    "'triggers[0].schedule' must be a cron expression"},
        BadManifest{R"({"docker":{"image":"x"},"triggers":[{"schedule":5}]})",
                    "'triggers[0].schedule'"},
        BadManifest{R"({"docker":{"image":"x"},"triggers":[{"schedule":"* * *"}]})",
                    "'triggers[0].schedule' is not a valid schedule: expected 5 fields"},
        BadManifest{R"({"docker":{"image":"x"},"triggers":[{"schedule":"0 0 31 2 *"}]})",
                    "can never fire"},
        BadManifest{R"({"docker":{"image":"x"},"triggers":[{"schedule":"@hourly","input":1}]})",
                    "'triggers[0].input' must be a string"},
        BadManifest{
            R"({"docker":{"image":"x"},"triggers":[{"schedule":"@hourly","missed":"all"}]})",
            "'triggers[0].missed' must be \"skip\" or \"catch_up\""},
        BadManifest{R"({"docker":{"image":"x"},"triggers":[{"schedule":"@hourly","at":1}]})",
                    "'triggers[0].at' is not a known field"}));

}  // namespace
}  // namespace nebula
