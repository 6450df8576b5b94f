#include "docker/api.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace nebula::docker {
namespace {

namespace json = boost::json;

json::object parse_object(const std::string& text) {
  return json::parse(text).as_object();
}

TEST(ApiVersion, ParsesAndPrints) {
  auto v = parse_api_version("1.41");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->major, 1);
  EXPECT_EQ(v->minor, 41);
  EXPECT_EQ(v->to_string(), "1.41");
  EXPECT_FALSE(parse_api_version("").has_value());
  EXPECT_FALSE(parse_api_version("1").has_value());
  EXPECT_FALSE(parse_api_version("1.").has_value());
  EXPECT_FALSE(parse_api_version(".4").has_value());
  EXPECT_FALSE(parse_api_version("1.4x").has_value());
  EXPECT_LT((ApiVersion{1, 9}), (ApiVersion{1, 41}));
}

TEST(ApiVersion, NegotiatesTheOlderOfOursAndTheEngines) {
  EngineVersion engine{"20.10.24", {1, 41}, {1, 12}};
  auto chosen = negotiate_api_version(engine);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (ApiVersion{1, 41}));

  engine.api = {1, 50};
  chosen = negotiate_api_version(engine);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, kNewestApiVersion);
}

TEST(ApiVersion, RefusesAnEngineTooOld) {
  auto chosen = negotiate_api_version(EngineVersion{"1.13", {1, 25}, {1, 12}});
  ASSERT_FALSE(chosen);
  EXPECT_EQ(chosen.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(chosen.error().message.find("upgrade"), std::string::npos);
}

TEST(ApiVersion, RefusesAnEngineTooNew) {
  // An engine whose oldest API is newer than ours cannot be talked to.
  auto chosen = negotiate_api_version(EngineVersion{"99", {1, 60}, {1, 50}});
  ASSERT_FALSE(chosen);
}

TEST(CreateBody, CarriesEveryIsolationSetting) {
  ContainerSpec spec;
  spec.image = "nebula-fn-hello:latest";
  spec.memory_bytes = 128ULL << 20U;
  spec.nano_cpus = 1'000'000'000;
  spec.pids_limit = 64;
  spec.labels = {{"nebula.function", "hello"}};
  spec.env = {{"REQUEST_METHOD", "POST"}, {"A", "b=c"}};
  const json::object body = parse_object(create_container_body(spec));

  EXPECT_EQ(body.at("Image").as_string(), "nebula-fn-hello:latest");
  EXPECT_TRUE(body.at("OpenStdin").as_bool());
  EXPECT_TRUE(body.at("StdinOnce").as_bool());
  EXPECT_TRUE(body.at("AttachStdin").as_bool());
  EXPECT_TRUE(body.at("AttachStdout").as_bool());
  EXPECT_TRUE(body.at("AttachStderr").as_bool());
  EXPECT_FALSE(body.at("Tty").as_bool());
  EXPECT_EQ(body.at("Labels").at("nebula.function").as_string(), "hello");
  const json::array& env = body.at("Env").as_array();
  ASSERT_EQ(env.size(), 2U);
  EXPECT_EQ(env[0].as_string(), "REQUEST_METHOD=POST");
  EXPECT_EQ(env[1].as_string(), "A=b=c");
  // Unset: the image's own entrypoint and cmd apply.
  EXPECT_FALSE(body.contains("Entrypoint"));
  EXPECT_FALSE(body.contains("Cmd"));

  const json::object& host = body.at("HostConfig").as_object();
  EXPECT_EQ(host.at("NetworkMode").as_string(), "none");
  EXPECT_EQ(host.at("Memory").to_number<std::uint64_t>(), 128ULL << 20U);
  EXPECT_EQ(host.at("MemorySwap").to_number<std::uint64_t>(), 128ULL << 20U);
  EXPECT_EQ(host.at("NanoCpus").to_number<std::int64_t>(), 1'000'000'000);
  EXPECT_EQ(host.at("PidsLimit").to_number<std::int64_t>(), 64);
  EXPECT_TRUE(host.at("ReadonlyRootfs").as_bool());
  EXPECT_FALSE(host.at("AutoRemove").as_bool());
  EXPECT_EQ(host.at("SecurityOpt").as_array().at(0).as_string(), "no-new-privileges");
  EXPECT_EQ(host.at("CapDrop").as_array().at(0).as_string(), "ALL");
  EXPECT_FALSE(host.contains("CgroupParent"));
  EXPECT_FALSE(host.contains("Binds"));
}

TEST(CreateBody, WarmContainerSettings) {
  ContainerSpec spec;
  spec.image = "img";
  spec.entrypoint = {"/nebula-watchdog"};
  spec.cmd = {"/fn", "--flag"};
  spec.binds = {"/opt/nebula-watchdog:/nebula-watchdog:ro"};
  spec.cgroup_parent = "/nebula/1-ab/7";
  const json::object body = parse_object(create_container_body(spec));
  EXPECT_EQ(body.at("Entrypoint").as_array().at(0).as_string(), "/nebula-watchdog");
  ASSERT_EQ(body.at("Cmd").as_array().size(), 2U);
  EXPECT_EQ(body.at("Cmd").as_array().at(1).as_string(), "--flag");
  const json::object& host = body.at("HostConfig").as_object();
  EXPECT_EQ(host.at("Binds").as_array().at(0).as_string(),
            "/opt/nebula-watchdog:/nebula-watchdog:ro");
  EXPECT_EQ(host.at("CgroupParent").as_string(), "/nebula/1-ab/7");
}

TEST(UrlEncode, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(url_encode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(url_encode("{\"label\":[\"a=b\"]}"), "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
  EXPECT_EQ(url_encode(" /"), "%20%2F");
  EXPECT_EQ(url_encode("\xff"), "%FF");
}

TEST(Targets, CarryTheVersionAndTheDocumentedQuery) {
  const ApiVersion v{1, 41};
  EXPECT_EQ(version_target(), "/version");
  EXPECT_EQ(ping_target(), "/_ping");
  EXPECT_EQ(info_target(v), "/v1.41/info");
  EXPECT_EQ(image_inspect_target(v, "nebula-fn-hello:latest"),
            "/v1.41/images/nebula-fn-hello:latest/json");
  EXPECT_EQ(create_target(v, ""), "/v1.41/containers/create");
  EXPECT_EQ(create_target(v, "nebula-hello-1"), "/v1.41/containers/create?name=nebula-hello-1");
  EXPECT_EQ(attach_target(v, "abc"),
            "/v1.41/containers/abc/attach?stream=1&stdin=1&stdout=1&stderr=1");
  EXPECT_EQ(start_target(v, "abc"), "/v1.41/containers/abc/start");
  EXPECT_EQ(wait_target(v, "abc"), "/v1.41/containers/abc/wait?condition=not-running");
  EXPECT_EQ(kill_target(v, "abc", "KILL"), "/v1.41/containers/abc/kill?signal=KILL");
  EXPECT_EQ(inspect_target(v, "abc"), "/v1.41/containers/abc/json");
  EXPECT_EQ(remove_target(v, "abc"), "/v1.41/containers/abc?force=1&v=1");
}

TEST(Targets, ListFiltersByLabel) {
  const ApiVersion v{1, 41};
  EXPECT_EQ(list_target(v, "nebula.function"), "/v1.41/containers/json?all=1&filters=" +
                                                   url_encode(R"({"label":["nebula.function"]})"));
  EXPECT_EQ(list_target(v, "nebula.function", "hello"),
            "/v1.41/containers/json?all=1&filters=" +
                url_encode(R"({"label":["nebula.function=hello"]})"));
}

TEST(Decoders, Version) {
  auto v = parse_version_response(
      R"({"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux"})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version, "20.10.24+dfsg1");
  EXPECT_EQ(v->api, (ApiVersion{1, 41}));
  EXPECT_EQ(v->min_api, (ApiVersion{1, 12}));
  EXPECT_FALSE(parse_version_response(R"({"Version":"x"})"));
  EXPECT_FALSE(parse_version_response("not json"));
  EXPECT_FALSE(parse_version_response("[]"));
}

TEST(Decoders, Info) {
  auto info = parse_info_response(R"({"CgroupDriver":"cgroupfs","CgroupVersion":"1"})");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->cgroup_driver, "cgroupfs");
  EXPECT_EQ(info->cgroup_version, "1");
  auto old = parse_info_response(R"({"CgroupDriver":"systemd"})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->cgroup_version, "1");
}

TEST(Decoders, ImageInspectWithNullEntrypoint) {
  auto image = parse_image_inspect(
      R"({"Id":"sha256:ab","Config":{"Entrypoint":null,"Cmd":["/fn","x"],"Env":["PATH=/bin"]}})");
  ASSERT_TRUE(image);
  EXPECT_EQ(image->id, "sha256:ab");
  EXPECT_TRUE(image->entrypoint.empty());
  EXPECT_EQ(image->cmd, (std::vector<std::string>{"/fn", "x"}));
  EXPECT_EQ(image->env, (std::vector<std::string>{"PATH=/bin"}));
  EXPECT_EQ(image->command(), (std::vector<std::string>{"/fn", "x"}));
}

TEST(Decoders, ImageCommandIsEntrypointThenCmd) {
  auto image =
      parse_image_inspect(R"({"Id":"sha256:ab","Config":{"Entrypoint":["/fn"],"Cmd":["-v"]}})");
  ASSERT_TRUE(image);
  EXPECT_EQ(image->command(), (std::vector<std::string>{"/fn", "-v"}));
  EXPECT_FALSE(parse_image_inspect(R"({"Config":{}})"));
}

TEST(Decoders, CreateWaitInspect) {
  auto id = parse_create_response(R"({"Id":"e90e34656806","Warnings":[]})");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "e90e34656806");
  EXPECT_FALSE(parse_create_response(R"({"Warnings":[]})"));

  auto code = parse_wait_response(R"({"StatusCode":137})");
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 137);
  EXPECT_TRUE(parse_wait_response(R"({"StatusCode":0,"Error":null})"));
  EXPECT_FALSE(parse_wait_response(R"({"StatusCode":0,"Error":{"Message":"boom"}})"));
  EXPECT_FALSE(parse_wait_response(R"({})"));

  auto state = parse_container_inspect(
      R"({"Id":"x","State":{"Status":"exited","Running":false,"OOMKilled":true,"ExitCode":137,"Pid":0}})");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, "exited");
  EXPECT_FALSE(state->running);
  EXPECT_TRUE(state->oom_killed);
  EXPECT_EQ(state->exit_code, 137);
  EXPECT_FALSE(parse_container_inspect(R"({"Id":"x"})"));
}

TEST(Decoders, ContainerList) {
  auto list = parse_container_list(
      R"([{"Id":"a","State":"running","Labels":{"nebula.function":"hello","nebula.instance":"1-x"}},
          {"Id":"b","State":"exited","Labels":null},{"Names":["/no-id"]}])");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2U);
  EXPECT_EQ((*list)[0].labels.at("nebula.function"), "hello");
  EXPECT_EQ((*list)[1].state, "exited");
  EXPECT_TRUE((*list)[1].labels.empty());
  EXPECT_FALSE(parse_container_list(R"({})"));
}

TEST(Decoders, EngineErrorMessage) {
  EXPECT_EQ(engine_error_message(R"({"message":"No such image: x:latest"})"),
            "No such image: x:latest");
  EXPECT_EQ(engine_error_message("page not found\n"), "page not found");
}

}  // namespace
}  // namespace nebula::docker
