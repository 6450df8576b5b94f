// The real `nebula serve` with the real Docker engine (label `docker`):
// what only a whole server shows about containers.
#include <future>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "integration/server_process.hpp"
#include "unit/docker/engine_support.hpp"

namespace nebula::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

[[maybe_unused]] auto* const kNoLeftovers =
    ::testing::AddGlobalTestEnvironment(new docker::testing::NoLeftoversEnvironment);

json::value record_of(const ServerProcess& server, const std::string& id) {
  auto res = server.client().request("GET", "/v1/invocations/" + id);
  EXPECT_TRUE(res && res->status == 200) << (res ? res->body : res.error().message);
  return res ? json::parse(res->body) : json::value();
}

// The docker-warm queue is the wait for a free warm container (the runtime
// measures it; the invoker must keep it). With one warm container and two
// calls at once, the second waits for the whole of the first's exec.
TEST(DockerApi, TheWarmPoolWaitIsTheSecondCallsQueue) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--watchdog", NEBULA_WATCHDOG_PATH});
  ASSERT_TRUE(server.start()) << server.log();
  const std::string manifest =
      R"({"docker":{"image":")" + std::string(docker::testing::kFixtureImage) +
      R"("},"args":["spin-ms"],"docker_pool":{"min_warm":1,"max_warm":1}})";
  auto deployed =
      server.client().request("PUT", "/v1/functions/spin", manifest, "application/json");
  ASSERT_TRUE(deployed && deployed->status == 201) << (deployed ? deployed->body : "");

  auto call = [&server] {
    return server.client().request("POST", "/v1/functions/spin/invoke", "400");
  };
  auto first = std::async(std::launch::async, call);
  std::this_thread::sleep_for(50ms);
  auto second = std::async(std::launch::async, call);
  auto a = first.get();
  auto b = second.get();
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->status, 200U) << a->body;
  ASSERT_EQ(b->status, 200U) << b->body;

  auto ra = record_of(server, a->header("x-nebula-invocation-id"));
  auto rb = record_of(server, b->header("x-nebula-invocation-id"));
  // Whichever call got the container first (the shorter queue), the other
  // waited for it.
  const bool a_first =
      ra.at("queue_us").to_number<std::int64_t>() <= rb.at("queue_us").to_number<std::int64_t>();
  const json::value& earlier = a_first ? ra : rb;
  const json::value& later = a_first ? rb : ra;
  const auto exec_us = earlier.at("exec_us").to_number<std::int64_t>();
  const auto queue_us = later.at("queue_us").to_number<std::int64_t>();
  std::printf("first call exec %lld us, second call queue %lld us\n",
              static_cast<long long>(exec_us), static_cast<long long>(queue_us));
  EXPECT_GE(exec_us, 350'000);
  // The second started ~50 ms after the first; its wait covers the rest of
  // the first's exec.
  EXPECT_GE(queue_us, exec_us - 100'000);
  EXPECT_EQ(later.at("cold"), false);
  // Warm CPU and memory come from the container's cgroup: a 400 ms spin
  // costs well over 200 ms of CPU, even on a busy machine.
  EXPECT_GE(later.at("cpu_us").to_number<std::int64_t>(), 200'000);
  EXPECT_GT(later.at("max_memory_bytes").to_number<std::int64_t>(), 0);
  EXPECT_EQ(server.client().request("DELETE", "/v1/functions/spin")->status, 204U);
  EXPECT_EQ(server.stop(), 0);
  auto left = docker::testing::test_client().list_containers(docker::kFunctionLabel, "spin");
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty()) << left->size() << " container(s) of 'spin' left";
}

// A secret reaches a container as it reaches a wasm guest: in its
// environment at every call, rotated at once, redacted from its record.
TEST(DockerApi, ASecretReachesTheContainerAndIsRedacted) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--watchdog", NEBULA_WATCHDOG_PATH});
  ASSERT_TRUE(server.start()) << server.log();
  const std::string value = "container-s3cret-77";
  ASSERT_EQ(server.client().request("PUT", "/v1/secrets/db-pass", value)->status, 201U);
  for (const char* pool : {R"({"min_warm":0,"max_warm":0})", R"({"min_warm":1,"max_warm":1})"}) {
    const std::string manifest =
        R"({"docker":{"image":")" + std::string(docker::testing::kFixtureImage) +
        R"("},"args":["compare-env"],"env":{"DB_PASS":{"secret":"db-pass"}},"docker_pool":)" +
        pool + "}";
    auto deployed =
        server.client().request("PUT", "/v1/functions/reader", manifest, "application/json");
    ASSERT_TRUE(deployed && deployed->status / 100 == 2) << (deployed ? deployed->body : "");
    auto res = server.client().request("POST", "/v1/functions/reader/invoke", "DB_PASS " + value);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200U) << res->body;
    EXPECT_EQ(res->body, "equal") << pool;
    auto record = record_of(server, res->header("x-nebula-invocation-id"));
    EXPECT_EQ(record.at("stderr_tail"), "DB_PASS=[redacted]\n") << pool;
    EXPECT_EQ(json::serialize(record).find(value), std::string::npos);
  }
  // Rotated: the warm container's next call sees the new value.
  ASSERT_EQ(server.client().request("PUT", "/v1/secrets/db-pass", "rotated-77")->status, 200U);
  auto rotated = server.client().request("POST", "/v1/functions/reader/invoke", "DB_PASS rotated-77");
  ASSERT_TRUE(rotated);
  EXPECT_EQ(rotated->body, "equal");
  EXPECT_EQ(server.client().request("DELETE", "/v1/functions/reader")->status, 204U);
  EXPECT_EQ(server.stop(), 0);
  EXPECT_EQ(server.log().find(value), std::string::npos);
}

}  // namespace
}  // namespace nebula::testing
