// The HTTP API in-process: the real platform (SQLite in a temp dir, the real
// wasm engine, no Docker) behind the real route table, called without a
// socket or a subprocess. What the transport adds (413 before reading, 431,
// keep-alive) is covered through the real server in api_test.cpp.
#include <memory>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/files.hpp"
#include "http/api.hpp"
#include "integration/server_process.hpp"
#include "service/platform.hpp"

namespace nebula::testing {
namespace {

namespace json = boost::json;
namespace bhttp = boost::beast::http;

std::string guest(const std::string& name) {
  return base::read_file(std::string(NEBULA_TEST_GUESTS) + "/" + name + ".wasm").value_or("");
}

class InProcessApi : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open(std::string token = {}) {
    api_.reset();
    platform_.reset();
    service::PlatformOptions options;
    options.data_dir = dir_.path() / "data";
    options.workers = 2;
    auto platform = service::Platform::open(options);
    ASSERT_TRUE(platform) << platform.error().message;
    platform_ = std::move(*platform);
    api_ = std::make_unique<http::Api>(
        platform_->service(), http::ApiOptions{.token = std::move(token), .single_function = {}});
  }

  // Routes and handles one request as the server would, on a private
  // io_context: the handler's coroutine runs there, blocking work on the
  // service's pools.
  http::Response call(bhttp::verb method, std::string target, std::string body = {},
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request request{method, target, 11};
    for (auto& [name, value] : headers) request.set(name, value);
    request.body() = std::move(body);
    request.prepare_payload();
    const http::Dispatch dispatch = api_->dispatch(request.base());
    EXPECT_LE(request.body().size(), dispatch.body_limit) << "the server would answer 413";
    boost::asio::io_context ioc;
    std::optional<http::Response> response;
    auto exchange = [&]() -> boost::asio::awaitable<void> {
      http::Reply reply = co_await api_->handle(request, dispatch);
      response = std::move(reply.response);
    };
    boost::asio::co_spawn(ioc, exchange(), boost::asio::detached);
    ioc.run();
    EXPECT_TRUE(response.has_value());
    return response ? std::move(*response) : http::Response{};
  }

  static json::value body_json(const http::Response& res) { return json::parse(res.body()); }

  std::string deploy_echo(const std::string& name = "echo") {
    auto res = call(bhttp::verb::put, "/v1/functions/" + name, guest("echo_env"),
                    {{"Content-Type", "application/wasm"}});
    EXPECT_EQ(res.result_int(), 201U) << res.body();
    return std::string(body_json(res).at("manifest").at("wasm").at("module").as_string());
  }

  TempDir dir_;
  std::unique_ptr<service::Platform> platform_;
  std::unique_ptr<http::Api> api_;
};

TEST_F(InProcessApi, DeployInvokeAndReadTheRecord) {
  deploy_echo();
  auto res = call(bhttp::verb::post, "/v1/functions/echo/invoke/a/b?x=1", "ping");
  ASSERT_EQ(res.result_int(), 200U) << res.body();
  // The guest echoes its input, then its REQUEST_* and NEBULA_* variables
  // (the whole CGI set is checked in core/cgi_test.cpp).
  EXPECT_TRUE(res.body().starts_with("ping")) << res.body();
  EXPECT_NE(res.body().find("env:REQUEST_METHOD=POST"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("env:NEBULA_FUNCTION=echo"), std::string::npos);
  EXPECT_NE(res.body().find("env:NEBULA_RUNTIME=wasm"), std::string::npos);
  EXPECT_EQ(res["X-Nebula-Runtime"], "wasm");
  EXPECT_EQ(res["X-Nebula-Cold-Start"], "true");
  EXPECT_TRUE(res["Server-Timing"].starts_with("queue;dur="));

  const std::string id(res["X-Nebula-Invocation-Id"]);
  auto record = call(bhttp::verb::get, "/v1/invocations/" + id);
  ASSERT_EQ(record.result_int(), 200U) << record.body();
  auto r = body_json(record);
  EXPECT_EQ(r.at("function"), "echo");
  EXPECT_EQ(r.at("outcome"), "ok");
  EXPECT_EQ(r.at("output_truncated"), false);
  EXPECT_TRUE(r.at("cpu_us").is_number());
  EXPECT_GT(r.at("max_memory_bytes").to_number<std::int64_t>(), 0);
  EXPECT_EQ(r.at("input_bytes"), 4);
}

TEST_F(InProcessApi, TheRouteTableDecidesBodyLimits) {
  http::Request invoke{bhttp::verb::post, "/v1/functions/echo/invoke", 11};
  http::Request manifest{bhttp::verb::put, "/v1/functions/echo", 11};
  http::Request listing{bhttp::verb::get, "/v1/invocations", 11};
  // An unknown function gets the default payload limit (its call fails anyway).
  EXPECT_EQ(api_->dispatch(invoke.base()).body_limit, Limits::kDefaultPayloadBytes);
  EXPECT_EQ(api_->dispatch(manifest.base()).body_limit, 64ULL << 20);
  EXPECT_EQ(api_->dispatch(listing.base()).body_limit, 1ULL << 20);

  const std::string digest = deploy_echo();
  auto res = call(bhttp::verb::put, "/v1/functions/echo",
                  R"({"wasm":{"module":")" + digest + R"("},"limits":{"max_input_bytes":10}})",
                  {{"Content-Type", "application/json"}});
  ASSERT_EQ(res.result_int(), 200U) << res.body();
  EXPECT_EQ(api_->dispatch(invoke.base()).body_limit, 10U);
  EXPECT_EQ(api_->dispatch(invoke.base()).match.params.at(0), "echo");
}

TEST_F(InProcessApi, ErrorsAreProblemsWithTheRightStatus) {
  deploy_echo();
  auto bad_name = call(bhttp::verb::get, "/v1/functions/Bad_Name");
  EXPECT_EQ(bad_name.result_int(), 400U);
  EXPECT_EQ(bad_name[bhttp::field::content_type], "application/problem+json");
  EXPECT_NE(bad_name.body().find("1 to 63 characters"), std::string::npos);

  EXPECT_EQ(call(bhttp::verb::get, "/v1/functions/missing").result_int(), 404U);
  EXPECT_EQ(call(bhttp::verb::post, "/v1/functions/missing/invoke", "x").result_int(), 404U);
  auto no_docker = call(bhttp::verb::post, "/v1/functions/echo/invoke?runtime=docker", "x");
  EXPECT_EQ(no_docker.result_int(), 404U);
  EXPECT_NE(no_docker.body().find("no docker variant"), std::string::npos);
  EXPECT_EQ(call(bhttp::verb::post, "/v1/functions/echo/invoke?runtime=", "x").result_int(), 400U);
  EXPECT_EQ(call(bhttp::verb::post, "/v1/functions/echo/invoke?runtime=vm", "x").result_int(),
            400U);

  auto wrong_method = call(bhttp::verb::patch, "/v1/functions/echo");
  EXPECT_EQ(wrong_method.result_int(), 405U);
  EXPECT_EQ(wrong_method[bhttp::field::allow], "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(call(bhttp::verb::get, "/v2/anything").result_int(), 404U);
  EXPECT_EQ(call(bhttp::verb::get, "/v1/invocations?limit=0").result_int(), 400U);
  EXPECT_EQ(call(bhttp::verb::get, "/v1/invocations/not-an-id").result_int(), 400U);

  auto bad_manifest = call(bhttp::verb::put, "/v1/functions/other", R"({"wasm":{"modul":"x"}})",
                           {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad_manifest.result_int(), 400U);
  EXPECT_NE(bad_manifest.body().find("wasm.modul"), std::string::npos);
}

TEST_F(InProcessApi, ADeclaredButUnavailableVariantIs503WithTheReason) {
  const std::string digest = deploy_echo();
  // This platform runs without Docker: the docker variant is recorded but
  // cannot run here.
  auto res =
      call(bhttp::verb::put, "/v1/functions/both",
           R"({"wasm":{"module":")" + digest + R"("},"docker":{"image":"nebula-fn-hello:latest"}})",
           {{"Content-Type", "application/json"}});
  ASSERT_EQ(res.result_int(), 201U) << res.body();
  EXPECT_NE(body_json(res).at("unready").at("docker").as_string().find("--no-docker"),
            std::string::npos);
  auto invoke = call(bhttp::verb::post, "/v1/functions/both/invoke?runtime=docker", "x");
  EXPECT_EQ(invoke.result_int(), 503U);
  EXPECT_NE(invoke.body().find("without Docker"), std::string::npos);
  EXPECT_EQ(call(bhttp::verb::post, "/v1/functions/both/invoke", "x").result_int(), 200U);
}

TEST_F(InProcessApi, AFailedDeployLeavesTheOldVersionServing) {
  deploy_echo();
  // A module that does not link (an import Nebula does not provide).
  auto res = call(bhttp::verb::put, "/v1/functions/echo",
                  R"((module (import "env" "nope" (func)) (func (export "_start"))))",
                  {{"Content-Type", "application/wasm"}});
  EXPECT_EQ(res.result_int(), 400U) << res.body();
  auto invoke = call(bhttp::verb::post, "/v1/functions/echo/invoke", "still here");
  ASSERT_EQ(invoke.result_int(), 200U);
  EXPECT_NE(invoke.body().find("still here"), std::string::npos);
}

TEST_F(InProcessApi, ManagementRoutesNeedTheToken) {
  open("s3cret");
  auto denied = call(bhttp::verb::put, "/v1/functions/echo", guest("echo_env"),
                     {{"Content-Type", "application/wasm"}});
  EXPECT_EQ(denied.result_int(), 401U);
  EXPECT_EQ(denied[bhttp::field::www_authenticate], "Bearer realm=\"nebula\"");
  auto allowed = call(bhttp::verb::put, "/v1/functions/echo", guest("echo_env"),
                      {{"Content-Type", "application/wasm"}, {"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(allowed.result_int(), 201U);
  // Reading and invoking stay open.
  EXPECT_EQ(call(bhttp::verb::get, "/v1/functions/echo").result_int(), 200U);
  EXPECT_EQ(call(bhttp::verb::post, "/v1/functions/echo/invoke", "x").result_int(), 200U);
  EXPECT_EQ(call(bhttp::verb::delete_, "/v1/functions/echo").result_int(), 401U);
}

TEST_F(InProcessApi, RemoveForgetsTheFunctionEverywhere) {
  deploy_echo();
  ASSERT_EQ(call(bhttp::verb::post, "/v1/functions/echo/invoke", "x").result_int(), 200U);
  EXPECT_EQ(call(bhttp::verb::delete_, "/v1/functions/echo").result_int(), 204U);
  EXPECT_EQ(call(bhttp::verb::delete_, "/v1/functions/echo").result_int(), 404U);
  EXPECT_EQ(call(bhttp::verb::post, "/v1/functions/echo/invoke", "x").result_int(), 404U);
  auto list = body_json(call(bhttp::verb::get, "/v1/functions"));
  EXPECT_TRUE(list.at("functions").as_array().empty());
  auto records = body_json(call(bhttp::verb::get, "/v1/invocations?function=echo"));
  EXPECT_TRUE(records.at("invocations").as_array().empty());
  // And a restart brings nothing back.
  open();
  EXPECT_EQ(call(bhttp::verb::get, "/v1/functions/echo").result_int(), 404U);
}

TEST_F(InProcessApi, InfoNamesTheVersions) {
  auto res = call(bhttp::verb::get, "/v1/info");
  ASSERT_EQ(res.result_int(), 200U);
  auto info = body_json(res);
  EXPECT_EQ(info.at("version"), "0.1.0");
  EXPECT_EQ(info.at("wasmtime"), "48.0.8");
  EXPECT_FALSE(info.at("node").as_string().empty());
  EXPECT_EQ(info.at("runtimes").at("docker").at("available"), false);

  auto doc = call(bhttp::verb::get, "/v1/openapi.yaml");
  ASSERT_EQ(doc.result_int(), 200U);
  EXPECT_EQ(doc[bhttp::field::content_type], "application/yaml");
  EXPECT_TRUE(doc.body().starts_with("openapi: 3.1")) << doc.body().substr(0, 40);
  EXPECT_NE(doc.body().find("/v1/functions/{name}/invoke"), std::string::npos);
}

}  // namespace
}  // namespace nebula::testing
