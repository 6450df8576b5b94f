// Components through the real server: the three artifact kinds told apart
// at upload, wasi:cli/command components run as command programs, and
// wasi:http handlers answering requests themselves — with their own
// status, headers and streamed body, Nebula's headers and timing trailer,
// the same limits and outcomes as modules, and outbound requests only to
// the hosts their manifest allows.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/files.hpp"
#include "integration/server_process.hpp"

namespace nebula::testing {
namespace {

namespace json = boost::json;
constexpr const char* kToken = "component-test-token";

std::string bytes_of(const std::string& path) {
  auto bytes = base::read_file(path);
  EXPECT_TRUE(bytes.has_value()) << path;
  return bytes.value_or("");
}

std::string example(const std::string& relative) {
  return bytes_of(std::string(NEBULA_EXAMPLES_DIR) + "/" + relative);
}

std::string guest(const std::string& name) {
  return bytes_of(std::string(NEBULA_TEST_GUESTS) + "/" + name + ".wasm");
}

class HttpComponents : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()) << server_.log(); }

  http::ClientResponse call(std::string_view method, std::string_view target, std::string body = {},
                            std::string_view type = {},
                            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    auto res = server_.client(kToken).request(method, target, std::move(body), type, headers);
    EXPECT_TRUE(res) << res.error().message;
    return res ? *res : http::ClientResponse{};
  }

  std::string upload(const std::string& bytes, std::string expected_kind) {
    auto res = call("POST", "/v1/modules", bytes, "application/wasm");
    EXPECT_EQ(res.status, 201U) << res.body;
    auto doc = json::parse(res.body);
    EXPECT_EQ(doc.at("kind"), expected_kind.c_str());
    return std::string(doc.at("digest").as_string());
  }

  void deploy(const std::string& name, const std::string& bytes, const std::string& kind,
              json::object extra = {}) {
    extra["wasm"] = json::object{{"module", upload(bytes, kind)}};
    auto res = call("PUT", "/v1/functions/" + name, json::serialize(extra), "application/json");
    ASSERT_TRUE(res.status == 201 || res.status == 200) << res.body;
  }

  json::value record(const std::string& id) {
    auto res = call("GET", "/v1/invocations/" + id);
    EXPECT_EQ(res.status, 200U) << res.body;
    return json::parse(res.body);
  }

  TempDir dir_;
  ServerProcess server_{dir_.path() / "data", {"--no-docker", "--token", kToken}};
};

TEST_F(HttpComponents, UploadTellsTheThreeKindsApart) {
  upload(example("echo.wasm"), "module");
  upload(example("components/echo.wasm"), "command");
  upload(example("http/http-hello.wasm"), "http");
  // A component that exports neither interface is refused, and says what
  // it exports.
  auto res = call("POST", "/v1/modules", "(component)", "application/wasm");
  EXPECT_EQ(res.status, 400U);
  EXPECT_NE(res.body.find("exports neither wasi:cli/run"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("it exports: nothing"), std::string::npos) << res.body;
}

TEST_F(HttpComponents, TheKindIsStoredShownAndChecked) {
  deploy("hello", example("http/http-hello.wasm"), "http");
  auto fn = json::parse(call("GET", "/v1/functions/hello").body);
  EXPECT_EQ(fn.at("manifest").at("wasm").at("kind"), "http");
  // A manifest that states another kind is refused.
  const std::string digest = upload(example("http/http-hello.wasm"), "http");
  auto res =
      call("PUT", "/v1/functions/other",
           R"({"wasm":{"module":")" + digest + R"(","kind":"command"}})", "application/json");
  EXPECT_EQ(res.status, 400U);
  EXPECT_NE(res.body.find("wasm.kind"), std::string::npos) << res.body;
}

TEST_F(HttpComponents, CommandComponentsAnswerLikeTheirModules) {
  deploy("fib-module", example("fibonacci.wasm"), "module");
  deploy("fib-component", example("components/fibonacci.wasm"), "command");
  auto module = call("POST", "/v1/functions/fib-module/invoke", "90");
  auto component = call("POST", "/v1/functions/fib-component/invoke", "90");
  ASSERT_EQ(component.status, 200U) << component.body;
  EXPECT_EQ(component.body, module.body);
  EXPECT_EQ(component.body, "2880067194370816120\n");
  auto bad = call("POST", "/v1/functions/fib-component/invoke", "abc");
  EXPECT_EQ(bad.status, 502U);
  EXPECT_NE(bad.body.find("not a whole number"), std::string::npos) << bad.body;
}

TEST_F(HttpComponents, HelloAnswersWithItsOwnStatusAndHeadersPlusNebulas) {
  deploy("http-hello", example("http/http-hello.wasm"), "http");
  for (const std::string target :
       {"/fn/http-hello/", "/fn/http-hello", "/v1/functions/http-hello/invoke/any/path"}) {
    auto res = call("GET", target);
    ASSERT_EQ(res.status, 200U) << target << ": " << res.body;
    EXPECT_EQ(res.body, "Hello from a Nebula HTTP function!\n");
    EXPECT_EQ(res.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(res.header("x-hello"), "nebula");
    EXPECT_EQ(res.header("x-nebula-runtime"), "wasm");
    // An answer complete within 2 ms comes whole, with the phases as a
    // header; on a loaded machine (the sanitizer pass beside other work)
    // the same answer may take longer and stream instead. Either framing
    // is right; the bytes are checked above. Regression: asserting the
    // whole form failed a CI run under AddressSanitizer.
    if (res.header("transfer-encoding").empty()) {
      EXPECT_EQ(res.header("content-length"), "35");
      EXPECT_TRUE(res.header("server-timing").starts_with("queue;dur="));
    } else {
      EXPECT_EQ(res.header("transfer-encoding"), "chunked");
      EXPECT_TRUE(res.header("content-length").empty());
    }
    const std::string id = res.header("x-nebula-invocation-id");
    ASSERT_FALSE(id.empty());
    auto r = record(id);
    EXPECT_EQ(r.at("outcome"), "ok");
    EXPECT_EQ(r.at("output_bytes"), 35);
    EXPECT_GT(r.at("startup_us").to_number<std::int64_t>(), 0);
  }
}

TEST_F(HttpComponents, TheGuestSeesTheRealRequest) {
  deploy("echo", example("http/http-echo.wasm"), "http");
  auto res = call("PUT", "/fn/echo/a/b?x=1&status=201", "hello", "text/plain", {{"X-Trace", "t1"}});
  ASSERT_EQ(res.status, 201U) << res.body;
  EXPECT_EQ(res.header("content-type"), "application/json");
  auto doc = json::parse(res.body);
  EXPECT_EQ(doc.at("method"), "PUT");
  EXPECT_EQ(doc.at("path"), "/a/b");
  EXPECT_EQ(doc.at("query"), "x=1&status=201");
  EXPECT_EQ(doc.at("body"), "hello");
  const auto& headers = doc.at("headers").as_object();
  EXPECT_EQ(headers.at("x-trace"), "t1");
  EXPECT_EQ(headers.at("content-type"), "text/plain");
  // Nebula's own token and the hop-by-hop headers stay with Nebula.
  EXPECT_FALSE(headers.contains("authorization"));
  EXPECT_FALSE(headers.contains("connection"));
  // The long route gives the same path below the function.
  auto again = json::parse(call("GET", "/v1/functions/echo/invoke/a/b?x=1").body);
  EXPECT_EQ(again.at("path"), "/a/b");
  EXPECT_EQ(again.at("method"), "GET");
}

TEST_F(HttpComponents, FailuresBeforeTheAnswerAreProblems) {
  deploy("guest", guest("http_guest"), "http",
         json::object{{"limits", json::object{{"timeout_ms", 500}, {"memory_mb", 40}}}});
  auto trap = call("GET", "/fn/guest/before");
  EXPECT_EQ(trap.status, 502U) << trap.body;
  EXPECT_EQ(json::parse(trap.body).at("kind"), "trap");
  auto spin = call("GET", "/fn/guest/spin");
  EXPECT_EQ(spin.status, 504U) << spin.body;
  auto grow = call("GET", "/fn/guest/grow");
  EXPECT_EQ(grow.status, 502U) << grow.body;
  EXPECT_EQ(json::parse(grow.body).at("kind"), "memory");
  // And the server goes on serving.
  EXPECT_EQ(call("GET", "/fn/guest/").body, "ok");
}

TEST_F(HttpComponents, AFailureAfterTheAnswerStartedCutsTheConnection) {
  deploy("guest", guest("http_guest"), "http",
         json::object{{"limits", json::object{{"max_output_bytes", 1000}}}});
  auto cut = server_.client(kToken).request("GET", "/fn/guest/after");
  EXPECT_FALSE(cut) << "a body cut short must not look complete";
  auto flood = server_.client(kToken).request("GET", "/fn/guest/flood");
  EXPECT_FALSE(flood);
  auto records = json::parse(call("GET", "/v1/invocations?function=guest").body);
  const auto& items = records.at("invocations").as_array();
  ASSERT_EQ(items.size(), 2U);
  // Newest first: the flood went over max_output_bytes, the other trapped.
  EXPECT_EQ(items[0].at("outcome"), "trap");
  EXPECT_EQ(items[0].at("output_truncated"), true);
  EXPECT_EQ(items[1].at("outcome"), "trap");
  EXPECT_EQ(call("GET", "/fn/guest/").body, "ok");
}

TEST_F(HttpComponents, ASlowAnswerStreamsWithTheTimingAsATrailer) {
  deploy("guest", guest("http_guest"), "http");
  auto res = call("GET", "/fn/guest/slow");
  ASSERT_EQ(res.status, 200U) << res.body;
  EXPECT_EQ(res.body, "onetwothree");
  EXPECT_EQ(res.header("transfer-encoding"), "chunked");
  EXPECT_EQ(res.header("trailer"), "Server-Timing");
  // Beast's parser folds the trailer into the fields.
  EXPECT_TRUE(res.header("server-timing").starts_with("queue;dur=")) << res.header("server-timing");
  auto r = record(res.header("x-nebula-invocation-id"));
  EXPECT_GE(r.at("exec_us").to_number<std::int64_t>(), 60'000);
}

TEST_F(HttpComponents, NothingLeaksBetweenRequestsAndStderrIsKept) {
  deploy("guest", guest("http_guest"), "http");
  EXPECT_EQ(call("GET", "/fn/guest/state").body, "1");
  EXPECT_EQ(call("GET", "/fn/guest/state").body, "1");
  auto logged = call("GET", "/fn/guest/stderr");
  ASSERT_EQ(logged.status, 200U);
  auto r = record(logged.header("x-nebula-invocation-id"));
  EXPECT_EQ(r.at("stderr_tail"), "http_guest: logged to stderr\n");
}

// The allow-list: the guest reaches a loopback server its manifest names
// (this very Nebula's /healthz) and is refused for another port.
TEST_F(HttpComponents, OutboundRequestsLeaveOnlyForAllowedHosts) {
  const std::string self = server_.url();  // http://127.0.0.1:PORT
  const std::string port = self.substr(self.rfind(':') + 1);
  const std::string other = std::to_string(std::stoi(port) == 65535 ? 1 : std::stoi(port) + 1);
  deploy("fetch", example("http/http-fetch.wasm"), "http",
         json::object{{"allowed_outbound_hosts", json::array{"http://127.0.0.1:" + port}}});

  auto allowed = call("GET", "/fn/fetch/?url=" + self + "/healthz");
  ASSERT_EQ(allowed.status, 200U) << allowed.body;
  EXPECT_EQ(json::parse(allowed.body).at("status"), "ok");

  auto refused = call("GET", "/fn/fetch/?url=http://127.0.0.1:" + other + "/healthz");
  EXPECT_EQ(refused.status, 502U);
  EXPECT_EQ(json::parse(refused.body).at("error"), "HTTP-request-denied");
  auto by_name = call("GET", "/fn/fetch/?url=http://localhost:" + port + "/healthz");
  EXPECT_EQ(json::parse(by_name.body).at("error"), "HTTP-request-denied");

  const std::string metrics = call("GET", "/metrics").body;
  EXPECT_NE(
      metrics.find(R"(nebula_outbound_requests_total{function="fetch",decision="allowed"} 1)"),
      std::string::npos);
  EXPECT_NE(metrics.find(R"(nebula_outbound_requests_total{function="fetch",decision="denied"} 2)"),
            std::string::npos);
  EXPECT_NE(server_.log().find("outbound request(s) refused"), std::string::npos);
}

TEST_F(HttpComponents, ABadAllowListIsRefusedAtDeploy) {
  const std::string digest = upload(example("http/http-fetch.wasm"), "http");
  auto res =
      call("PUT", "/v1/functions/fetch",
           R"({"wasm":{"module":")" + digest + R"("},"allowed_outbound_hosts":["example.com"]})",
           "application/json");
  EXPECT_EQ(res.status, 400U);
  EXPECT_NE(res.body.find("allowed_outbound_hosts"), std::string::npos) << res.body;
}

// `nebula serve-one`: one HTTP component on a local port, every path its own.
TEST(ServeOne, ServesOneComponentAtEveryPath) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--allow-outbound", "http://127.0.0.1:9"});
  server.set_command({"serve-one", std::string(NEBULA_EXAMPLES_DIR) + "/http/http-echo.wasm"});
  ASSERT_TRUE(server.start()) << server.log();
  for (const std::string target : {"/", "/v1/functions", "/deep/path?q=1"}) {
    auto res = server.client().request("POST", target, "body");
    ASSERT_TRUE(res) << res.error().message;
    ASSERT_EQ(res->status, 200U) << res->body;
    auto doc = json::parse(res->body);
    EXPECT_EQ(doc.at("path"), target.substr(0, target.find('?')).c_str());
    EXPECT_EQ(doc.at("body"), "body");
  }
}

TEST(ServeOne, RefusesAModuleThatIsNotAnHttpHandler) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.set_command({"serve-one", std::string(NEBULA_EXAMPLES_DIR) + "/hello.wasm"});
  EXPECT_FALSE(server.start());
  EXPECT_NE(server.log().find("not an HTTP handler"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace nebula::testing
