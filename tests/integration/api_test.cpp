// The real `nebula serve` on port 0 with a temp data dir (no Docker), driven
// through its HTTP API: every route, every error status, persistence,
// kill -9 during deploys, concurrency and graceful shutdown.
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/files.hpp"
#include "integration/server_process.hpp"

namespace nebula::testing {
namespace {

namespace json = boost::json;

std::string guest(const std::string& name) {
  return base::read_file(std::string(NEBULA_TEST_GUESTS) + "/" + name + ".wasm").value_or("");
}

// WAT guests: the module upload accepts the text format too.
constexpr const char* kEndlessLoop =
    R"((module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l)))))";
constexpr const char* kExit3 = R"((module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 3)))))";
// Spins for a while (about a second on this class of machine), then exits 0.
constexpr const char* kBusyLoop = R"((module
  (memory (export "memory") 1)
  (func (export "_start") (local $i i64)
    (loop $l (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $i) (i64.const 800000000)))))))";

json::value parse(const std::string& body) {
  return json::parse(body);
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()) << server_.log(); }

  http::ClientResponse call(std::string_view method, std::string_view target, std::string body = {},
                            std::string_view type = {}, const std::string& token = {}) {
    auto res = server_.client(token).request(method, target, std::move(body), type);
    EXPECT_TRUE(res) << res.error().message;
    return res ? *res : http::ClientResponse{};
  }

  std::string upload(const std::string& bytes) {
    auto res = call("POST", "/v1/modules", bytes, "application/wasm");
    EXPECT_EQ(res.status, 201U) << res.body;
    return std::string(parse(res.body).at("digest").as_string());
  }

  void deploy(const std::string& name, const std::string& bytes, json::object extra = {}) {
    extra["wasm"] = json::object{{"module", upload(bytes)}};
    auto res = call("PUT", "/v1/functions/" + name, json::serialize(extra), "application/json");
    ASSERT_TRUE(res.status == 201 || res.status == 200) << res.body;
  }

  TempDir dir_;
  ServerProcess server_{dir_.path() / "data", {"--no-docker"}};
};

TEST_F(ApiTest, HealthAndReadiness) {
  auto health = call("GET", "/healthz");
  EXPECT_EQ(health.status, 200U);
  auto ready = call("GET", "/readyz");
  EXPECT_EQ(ready.status, 200U) << ready.body;
  EXPECT_EQ(parse(ready.body).at("checks").at("docker"), "disabled");
}

TEST_F(ApiTest, StatusShowsWhatTheServerCostsAndHolds) {
  ASSERT_EQ(call("PUT", "/v1/functions/quick", guest("echo_env"), "application/wasm").status / 100,
            2U);
  auto res = call("GET", "/v1/status");
  ASSERT_EQ(res.status, 200U) << res.body;
  auto st = parse(res.body);
  EXPECT_EQ(st.at("functions"), 1);
  EXPECT_EQ(st.at("wasm").at("prepared_variants"), 1);
  EXPECT_EQ(st.at("wasm").at("loaded"), 1);
  EXPECT_GT(st.at("wasm").at("instance_slots").as_int64(), 0);
  const auto& process = st.at("process");
  EXPECT_EQ(process.at("processes"), 1);
  // A running server has memory, threads and descriptors of its own.
  EXPECT_GT(process.at("rss_bytes").as_int64(), 1 << 20);
  EXPECT_GE(process.at("threads").as_int64(), 2);
  EXPECT_GE(process.at("open_fds").as_int64(), 3);
  EXPECT_GT(process.at("voluntary_switches").as_int64(), 0);
  EXPECT_EQ(st.at("docker").at("enabled"), false);
  EXPECT_TRUE(st.at("docker").at("engine").is_null());
  EXPECT_EQ(st.at("store").at("kind"), "sqlite");
  // The uploaded module is in the data directory.
  EXPECT_GT(st.at("data_dir_bytes").as_int64(),
            static_cast<std::int64_t>(guest("echo_env").size()));
}

TEST_F(ApiTest, ModuleUploadValidatesAndIsContentAddressed) {
  auto bytes = guest("echo_env");
  auto first = call("POST", "/v1/modules", bytes, "application/wasm");
  ASSERT_EQ(first.status, 201U) << first.body;
  auto doc = parse(first.body);
  EXPECT_EQ(doc.at("size").as_int64(), static_cast<std::int64_t>(bytes.size()));
  std::string digest(doc.at("digest").as_string());
  EXPECT_EQ(digest.rfind("sha256:", 0), 0U);
  EXPECT_EQ(upload(bytes), digest);  // same bytes, same digest

  auto garbage =
      call("POST", "/v1/modules", std::string("\0asm\x01\0\0\0\xff", 9), "application/wasm");
  EXPECT_EQ(garbage.status, 400U);
  EXPECT_EQ(garbage.header("content-type"), "application/problem+json");
  EXPECT_NE(garbage.body.find("invalid WebAssembly module"), std::string::npos) << garbage.body;

  auto empty = call("POST", "/v1/modules", "", "application/wasm");
  EXPECT_EQ(empty.status, 400U);

  auto reactor = call("POST", "/v1/modules", "(module (func (export \"run\")))", "text/plain");
  EXPECT_EQ(reactor.status, 400U);
  EXPECT_NE(reactor.body.find("_start"), std::string::npos) << reactor.body;
}

TEST_F(ApiTest, FunctionLifecycle) {
  std::string digest = upload(guest("echo_env"));
  std::string manifest =
      R"({"wasm":{"module":")" + digest + R"("},"env":{"NEBULA_GREETING":"hi"}})";
  auto created = call("PUT", "/v1/functions/echo", manifest, "application/json");
  EXPECT_EQ(created.status, 201U) << created.body;
  EXPECT_EQ(created.header("location"), "/v1/functions/echo");
  auto replaced = call("PUT", "/v1/functions/echo", manifest, "application/json");
  EXPECT_EQ(replaced.status, 200U) << replaced.body;

  auto got = call("GET", "/v1/functions/echo");
  ASSERT_EQ(got.status, 200U);
  auto fn = parse(got.body);
  EXPECT_EQ(fn.at("manifest").at("wasm").at("module"), json::value(digest));
  EXPECT_EQ(fn.at("manifest").at("limits").at("timeout_ms").as_int64(), 10000);
  EXPECT_EQ(fn.at("manifest").at("env").at("NEBULA_GREETING"), "hi");
  EXPECT_EQ(fn.at("stats").at("invocations").at("wasm").as_int64(), 0);

  auto all = call("GET", "/v1/functions");
  ASSERT_EQ(all.status, 200U);
  EXPECT_EQ(parse(all.body).at("functions").as_array().size(), 1U);

  auto removed = call("DELETE", "/v1/functions/echo");
  EXPECT_EQ(removed.status, 204U);
  EXPECT_EQ(call("GET", "/v1/functions/echo").status, 404U);
  EXPECT_EQ(call("POST", "/v1/functions/echo/invoke", "x").status, 404U);
  EXPECT_EQ(call("DELETE", "/v1/functions/echo").status, 404U);
}

TEST_F(ApiTest, DeployErrors) {
  auto bad_name = call("PUT", "/v1/functions/Bad_Name", "{}", "application/json");
  EXPECT_EQ(bad_name.status, 400U);
  EXPECT_NE(bad_name.body.find("invalid function name"), std::string::npos);

  auto bad_manifest =
      call("PUT", "/v1/functions/x", R"({"wasm":{"module":"sha256:zz"}})", "application/json");
  EXPECT_EQ(bad_manifest.status, 400U);
  EXPECT_NE(bad_manifest.body.find("wasm.module"), std::string::npos);

  auto not_json = call("PUT", "/v1/functions/x", "{", "application/json");
  EXPECT_EQ(not_json.status, 400U);

  auto missing =
      call("PUT", "/v1/functions/x",
           R"({"wasm":{"module":"sha256:)" + std::string(64, 'a') + R"("}})", "application/json");
  EXPECT_EQ(missing.status, 400U);
  EXPECT_NE(missing.body.find("has not been uploaded"), std::string::npos) << missing.body;

  EXPECT_EQ(call("GET", "/v1/functions/x").status, 404U);  // nothing half-deployed
  EXPECT_EQ(call("PATCH", "/v1/functions/x").status, 405U);
  EXPECT_EQ(call("GET", "/v1/nothing-here").status, 404U);
}

TEST_F(ApiTest, OneCallWasmDeploy) {
  auto res = call("PUT", "/v1/functions/quick", guest("echo_env"), "application/wasm");
  ASSERT_EQ(res.status, 201U) << res.body;
  auto out = call("POST", "/v1/functions/quick/invoke", "fast");
  EXPECT_EQ(out.status, 200U);
  EXPECT_EQ(out.body.rfind("fast", 0), 0U) << out.body;
}

TEST_F(ApiTest, InvokeReturnsOutputHeadersAndCgiVariables) {
  deploy("echo", guest("echo_env"), json::object{{"args", json::array{"--flag"}}});
  auto res = call("POST", "/v1/functions/echo/invoke/extra/path?x=1", "hello", "text/plain");
  ASSERT_EQ(res.status, 200U) << res.body;
  EXPECT_EQ(res.body.rfind("hello\narg:--flag", 0), 0U) << res.body;
  EXPECT_NE(res.body.find("env:REQUEST_METHOD=POST"), std::string::npos) << res.body;
  EXPECT_EQ(res.header("x-nebula-runtime"), "wasm");
  EXPECT_EQ(res.header("x-nebula-cold-start"), "true");
  EXPECT_EQ(res.header("x-nebula-invocation-id").size(), 26U);
  auto timing = res.header("server-timing");
  for (const char* phase : {"queue;dur=", "startup;dur=", "exec;dur=", "total;dur="}) {
    EXPECT_NE(timing.find(phase), std::string::npos) << timing;
  }
}

TEST_F(ApiTest, InvokeErrors) {
  deploy("echo", guest("echo_env"),
         json::object{{"limits", json::object{{"max_input_bytes", 10}, {"timeout_ms", 300}}}});
  EXPECT_EQ(call("POST", "/v1/functions/nope/invoke", "x").status, 404U);
  auto docker = call("POST", "/v1/functions/echo/invoke?runtime=docker", "x");
  EXPECT_EQ(docker.status, 404U);
  EXPECT_NE(docker.body.find("no docker variant"), std::string::npos);
  EXPECT_EQ(call("POST", "/v1/functions/echo/invoke?runtime=jvm", "x").status, 400U);
  auto big = call("POST", "/v1/functions/echo/invoke", std::string(100, 'x'));
  EXPECT_EQ(big.status, 413U) << big.body;

  deploy("exit3", kExit3);
  auto failed = call("POST", "/v1/functions/exit3/invoke", "");
  EXPECT_EQ(failed.status, 502U);
  auto problem = parse(failed.body);
  EXPECT_EQ(problem.at("kind"), "exit");
  EXPECT_EQ(problem.at("exit_code").as_int64(), 3);
  EXPECT_EQ(failed.header("x-nebula-runtime"), "wasm");

  deploy("spin", kEndlessLoop, json::object{{"limits", json::object{{"timeout_ms", 200}}}});
  auto timeout = call("POST", "/v1/functions/spin/invoke", "");
  EXPECT_EQ(timeout.status, 504U) << timeout.body;
  EXPECT_EQ(parse(timeout.body).at("kind"), "timeout");
}

// Regression: bodies over Beast's 1 MB default limit were refused with 400
// while the header was read, below the 6 MiB max_input_bytes.
TEST_F(ApiTest, LargeBodiesUpToTheLimitRoundTrip) {
  deploy("echo", guest("echo_env"));
  std::string body(3'000'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  auto res = call("POST", "/v1/functions/echo/invoke", body);
  ASSERT_EQ(res.status, 200U) << res.body.substr(0, 300);
  EXPECT_EQ(res.body.substr(0, body.size()), body);
  auto too_big = call("POST", "/v1/functions/echo/invoke", std::string(7'000'000, 'x'));
  EXPECT_EQ(too_big.status, 413U);
}

TEST_F(ApiTest, InvocationRecordsAndMetrics) {
  deploy("echo", guest("echo_env"));
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto res = call("POST", "/v1/functions/echo/invoke", "n" + std::to_string(i));
    ASSERT_EQ(res.status, 200U);
    ids.push_back(res.header("x-nebula-invocation-id"));
  }
  auto page = call("GET", "/v1/invocations?function=echo&limit=3");
  ASSERT_EQ(page.status, 200U) << page.body;
  auto doc = parse(page.body);
  const auto& items = doc.at("invocations").as_array();
  ASSERT_EQ(items.size(), 3U);
  EXPECT_EQ(items[0].at("id"), json::value(ids[4]));  // newest first
  EXPECT_EQ(items[2].at("id"), json::value(ids[2]));
  EXPECT_EQ(items[0].at("outcome"), "ok");
  EXPECT_EQ(items[0].at("input_bytes").as_int64(), 2);
  EXPECT_GT(items[0].at("startup_us").as_int64(), 0);
  std::string next(doc.at("next_before").as_string());
  auto rest = parse(call("GET", "/v1/invocations?function=echo&limit=3&before=" + next).body);
  ASSERT_EQ(rest.at("invocations").as_array().size(), 2U);
  EXPECT_EQ(rest.at("invocations").as_array()[1].at("id"), json::value(ids[0]));

  auto one = call("GET", "/v1/invocations/" + ids[0]);
  ASSERT_EQ(one.status, 200U);
  EXPECT_EQ(parse(one.body).at("stderr_tail"), "echo_env done\n");
  EXPECT_EQ(call("GET", "/v1/invocations/not-an-id").status, 400U);
  EXPECT_EQ(call("GET", "/v1/invocations/" + std::string(26, '0')).status, 404U);
  EXPECT_EQ(call("GET", "/v1/invocations?limit=0").status, 400U);
  EXPECT_EQ(call("GET", "/v1/invocations?runtime=x").status, 400U);

  auto metrics = call("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200U);
  EXPECT_NE(metrics.body.find(
                R"(nebula_invocations_total{function="echo",runtime="wasm",outcome="ok"} 5)"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("nebula_invocation_startup_seconds_bucket"), std::string::npos);
  EXPECT_NE(metrics.body.find("process_resident_memory_bytes"), std::string::npos);
}

TEST_F(ApiTest, ConcurrentClientsAllGetTheirOwnAnswer) {
  deploy("echo", guest("echo_env"));
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &wrong] {
      auto client = server_.client();
      for (int i = 0; i < kEach; ++i) {
        std::string body = "client " + std::to_string(t) + " request " + std::to_string(i);
        auto res = client.request("POST", "/v1/functions/echo/invoke", body);
        if (!res || res->status != 200 || res->body.rfind(body + "\nenv:", 0) != 0) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  auto fn = parse(call("GET", "/v1/functions/echo").body);
  EXPECT_EQ(fn.at("stats").at("invocations").at("wasm").as_int64(), kThreads * kEach);
}

TEST_F(ApiTest, RestartRestoresEverythingWithoutRecompiling) {
  deploy("echo", guest("echo_env"));
  ASSERT_EQ(call("POST", "/v1/functions/echo/invoke", "before").status, 200U);
  // The compiled artifact written at upload.
  std::filesystem::path artifact;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(dir_.path() / "data" / "blobs")) {
    if (e.path().extension() == ".cwasm") artifact = e.path();
  }
  ASSERT_FALSE(artifact.empty());
  const auto written = std::filesystem::last_write_time(artifact);

  EXPECT_EQ(server_.stop(SIGTERM), 0) << server_.log();
  ASSERT_TRUE(server_.start()) << server_.log();
  auto res = call("POST", "/v1/functions/echo/invoke", "after");
  EXPECT_EQ(res.status, 200U);
  EXPECT_EQ(res.body.rfind("after", 0), 0U);
  EXPECT_EQ(std::filesystem::last_write_time(artifact), written);  // not recompiled
  auto records = parse(call("GET", "/v1/invocations?function=echo").body);
  EXPECT_EQ(records.at("invocations").as_array().size(), 2U);
}

TEST_F(ApiTest, KillNineDuringDeploysLosesNothingAcknowledged) {
  const std::string digest = upload(guest("echo_env"));
  std::atomic<bool> stop{false};
  std::vector<std::string> acknowledged;
  std::thread deployer([this, &digest, &stop, &acknowledged] {
    auto client = server_.client();
    for (int i = 0; !stop && i < 10'000; ++i) {
      std::string name = "fn-" + std::to_string(i);
      auto res = client.request("PUT", "/v1/functions/" + name,
                                R"({"wasm":{"module":")" + digest + R"("}})", "application/json");
      if (res && res->status == 201) acknowledged.push_back(name);
      if (!res) break;  // the server is gone
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  server_.kill9();
  stop = true;
  deployer.join();
  ASSERT_GT(acknowledged.size(), 5U) << "too few deploys before the kill to mean anything";

  ASSERT_TRUE(server_.start()) << server_.log();
  auto all = parse(call("GET", "/v1/functions").body);
  std::set<std::string> present;
  for (const auto& f : all.at("functions").as_array()) {
    present.insert(std::string(f.at("name").as_string()));
  }
  for (const auto& name : acknowledged) EXPECT_TRUE(present.count(name)) << name << " lost";
  // Every function that is there (acknowledged or not) is whole and runs.
  for (const auto& name : present) {
    auto res = call("POST", "/v1/functions/" + name + "/invoke", "ok?");
    EXPECT_EQ(res.status, 200U) << name << ": " << res.body;
  }
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path() / "data")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

TEST_F(ApiTest, GracefulShutdownFinishesInFlightInvocations) {
  deploy("busy", kBusyLoop, json::object{{"limits", json::object{{"timeout_ms", 60000}}}});
  std::optional<Result<http::ClientResponse>> answer;
  std::thread caller([this, &answer] {
    answer = server_.client().request("POST", "/v1/functions/busy/invoke", "");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int status = server_.stop(SIGTERM);
  caller.join();
  EXPECT_EQ(status, 0) << server_.log();
  ASSERT_TRUE(answer && answer->has_value()) << (answer ? answer->error().message : "");
  EXPECT_EQ((*answer)->status, 200U) << (*answer)->body;
}

TEST(Auth, ManagementRoutesNeedTheToken) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--no-docker", "--token", "s3cret"});
  ASSERT_TRUE(server.start()) << server.log();
  auto bytes = guest("echo_env");
  auto anon = server.client().request("POST", "/v1/modules", bytes, "application/wasm");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401U);
  EXPECT_EQ(anon->header("www-authenticate"), "Bearer realm=\"nebula\"");
  auto wrong = server.client("s3creT").request("PUT", "/v1/functions/f", bytes, "application/wasm");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401U);
  auto right = server.client("s3cret").request("PUT", "/v1/functions/f", bytes, "application/wasm");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 201U) << right->body;
  // Invoking and reading stay open.
  auto invoked = server.client().request("POST", "/v1/functions/f/invoke", "hi");
  ASSERT_TRUE(invoked);
  EXPECT_EQ(invoked->status, 200U);
  auto del = server.client().request("DELETE", "/v1/functions/f");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 401U);
}

TEST(Admission, FullQueueGets429WithRetryAfter) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--no-docker", "--workers", "1", "--max-queue", "1"});
  ASSERT_TRUE(server.start()) << server.log();
  auto put = server.client().request(
      "PUT", "/v1/functions/busy",
      R"({"wasm":{"module":")" +
          std::string(
              json::parse(
                  server.client().request("POST", "/v1/modules", kBusyLoop, "text/plain")->body)
                  .at("digest")
                  .as_string()) +
          R"("}})",
      "application/json");
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 201U) << put->body;
  std::atomic<int> ok{0};
  std::atomic<int> rejected{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&server, &ok, &rejected] {
      auto res = server.client().request("POST", "/v1/functions/busy/invoke", "");
      if (res && res->status == 200) ++ok;
      if (res && res->status == 429 && res->header("retry-after") == "1") ++rejected;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(rejected.load(), 1);
  EXPECT_EQ(ok.load() + rejected.load(), 4);
}

}  // namespace
}  // namespace nebula::testing
