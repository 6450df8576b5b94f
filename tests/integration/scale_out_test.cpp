// Nebula scaled out on this machine, every part real: PostgreSQL 15 as the
// shared store, three (then four) `nebula serve` nodes with their own cache
// directories, and nginx in front of them as the load balancer.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/files.hpp"
#include "http/client.hpp"
#include "integration/nginx_process.hpp"
#include "integration/postgres_process.hpp"
#include "integration/server_process.hpp"

namespace nebula::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string guest_bytes() {
  return base::read_file(std::string(NEBULA_TEST_GUESTS) + "/echo_env.wasm").value_or("");
}

// One node of the cluster: its own cache directory, a fixed port (so that
// nginx's upstream stays right across a restart), the shared store.
struct Node {
  Node(const std::string& name, const std::string& dsn, int port)
      : name(name), server(dir.path(), {"--no-docker", "--store", dsn, "--node-id", name}) {
    server.set_listen("127.0.0.1:" + std::to_string(port));
  }
  std::string name;
  TempDir dir;
  ServerProcess server;
};

http::ClientResponse call(const std::string& url, const std::string& method,
                          const std::string& target, std::string body = {},
                          const std::string& type = "application/octet-stream") {
  auto res = http::Client(url, "").request(method, target, std::move(body), type);
  if (!res) return http::ClientResponse{};  // status 0: no answer
  return *res;
}

// Polls `probe` every 5 ms until it is true or `limit` passes; returns how
// long it took, or nullopt.
template <class Probe>
std::optional<std::chrono::milliseconds> within(std::chrono::milliseconds limit, Probe probe) {
  const auto start = Clock::now();
  while (Clock::now() - start < limit) {
    if (probe()) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    }
    std::this_thread::sleep_for(5ms);
  }
  return std::nullopt;
}

bool answers(const std::string& url, const std::string& function, const std::string& input) {
  auto res = call(url, "POST", "/v1/functions/" + function + "/invoke", input);
  return res.status == 200 && res.body.rfind(input, 0) == 0;
}

class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wasm_ = guest_bytes();
    ASSERT_FALSE(wasm_.empty()) << "echo_env.wasm is not built";
    auto pg = PostgresProcess::start();
    ASSERT_TRUE(pg) << pg.error().message;
    pg_.emplace(std::move(*pg));
  }

  Node& add_node(const std::string& name) {
    auto port = detail::pick_free_port();
    EXPECT_TRUE(port) << port.error().message;
    nodes_.push_back(std::make_unique<Node>(name, pg_->dsn(), port ? *port : 0));
    ports_.push_back(port ? *port : 0);
    EXPECT_TRUE(nodes_.back()->server.start()) << nodes_.back()->server.log();
    return *nodes_.back();
  }

  http::ClientResponse deploy(const std::string& url, const std::string& name) {
    return call(url, "PUT", "/v1/functions/" + name, wasm_, "application/wasm");
  }

  std::string wasm_;
  std::optional<PostgresProcess> pg_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<int> ports_;
};

TEST_F(ScaleOutTest, ThreeNodesBehindNginx) {
  Node& n1 = add_node("node-1");
  Node& n2 = add_node("node-2");
  Node& n3 = add_node("node-3");
  auto nginx = NginxProcess::start(ports_);
  ASSERT_TRUE(nginx) << nginx.error().message;
  const std::string lb = nginx->url();

  // 1. Deployed through node 1, served by all three through nginx.
  auto deployed = deploy(n1.server.url(), "hello");
  ASSERT_TRUE(deployed.status == 200 || deployed.status == 201) << deployed.body;
  EXPECT_EQ(deployed.header("x-nebula-node"), "node-1");
  for (Node* n : {&n1, &n2, &n3}) {
    auto took = within(5s, [&] { return answers(n->server.url(), "hello", "ping"); });
    ASSERT_TRUE(took) << n->name << " never served hello\n" << n->server.log();
    std::printf("hello ready on %s after %lld ms\n", n->name.c_str(),
                static_cast<long long>(took->count()));
  }
  std::set<std::string> answered_by;
  for (int i = 0; i < 12; ++i) {
    auto res = call(lb, "POST", "/v1/functions/hello/invoke", "lb-" + std::to_string(i));
    ASSERT_EQ(res.status, 200U) << res.body;
    EXPECT_EQ(res.body.rfind("lb-" + std::to_string(i), 0), 0U) << res.body;
    answered_by.insert(res.header("x-nebula-node"));
  }
  EXPECT_EQ(answered_by, (std::set<std::string>{"node-1", "node-2", "node-3"}));

  // 2. Deleted through node 2: gone from every node within a second.
  ASSERT_EQ(deploy(n1.server.url(), "temp").status / 100, 2U);
  for (Node* n : {&n1, &n2, &n3}) {
    ASSERT_TRUE(within(5s, [&] { return answers(n->server.url(), "temp", "t"); })) << n->name;
  }
  auto removed = call(n2.server.url(), "DELETE", "/v1/functions/temp");
  ASSERT_EQ(removed.status / 100, 2U) << removed.body;
  for (Node* n : {&n1, &n2, &n3}) {
    auto took = within(1s, [&] {
      return call(n->server.url(), "POST", "/v1/functions/temp/invoke", "t").status == 404;
    });
    ASSERT_TRUE(took) << n->name << " still serves a function deleted on node-2";
    std::printf("temp gone from %s after %lld ms\n", n->name.c_str(),
                static_cast<long long>(took->count()));
  }

  // 3. kill -9 one node under a steady load of invocations and deploys.
  std::atomic<bool> stop{false};
  std::atomic<int> invoked{0};
  std::atomic<int> invoke_failures{0};
  std::mutex acked_mutex;
  std::vector<std::string> acked;  // deploys answered 2xx
  int deploy_failures = 0;
  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        const std::string input = "load-" + std::to_string(t) + "-" + std::to_string(i);
        auto res = call(lb, "POST", "/v1/functions/hello/invoke", input);
        if (res.status == 200 && res.body.rfind(input, 0) == 0) {
          ++invoked;
        } else {
          ++invoke_failures;
        }
      }
    });
  }
  clients.emplace_back([&] {
    for (int i = 0; !stop; ++i) {
      const std::string name = "dep-" + std::to_string(i);
      auto res = deploy(lb, name);
      std::lock_guard lock(acked_mutex);
      if (res.status / 100 == 2) {
        acked.push_back(name);
      } else {
        ++deploy_failures;
      }
    }
  });
  std::this_thread::sleep_for(1500ms);
  n3.server.kill9();
  std::this_thread::sleep_for(2500ms);
  stop = true;
  for (auto& c : clients) c.join();
  const int in_flight_failures = invoke_failures + deploy_failures;
  std::printf(
      "under load: %d invocations ok, %d deploys acknowledged; failed: %d invocations, "
      "%d deploys\n",
      invoked.load(), static_cast<int>(acked.size()), invoke_failures.load(), deploy_failures);
  EXPECT_GT(invoked, 0);
  EXPECT_GT(acked.size(), 0U);
  // Only requests in flight on the killed node can fail: one per client.
  EXPECT_LE(in_flight_failures, static_cast<int>(clients.size())) << nginx->error_log();
  // No acknowledged deploy is lost.
  int lost = 0;
  for (const auto& name : acked) {
    if (call(n1.server.url(), "GET", "/v1/functions/" + name).status != 200) ++lost;
  }
  EXPECT_EQ(lost, 0);

  // 4. The killed node comes back on its port and serves everything.
  ASSERT_TRUE(n3.server.start()) << n3.server.log();
  EXPECT_TRUE(answers(n3.server.url(), "hello", "back"));
  for (const auto& name : acked) EXPECT_TRUE(answers(n3.server.url(), name, "x")) << name;

  // 5. Every node's records, from any node.
  auto listed = call(n2.server.url(), "GET", "/v1/invocations?function=hello&limit=1000");
  ASSERT_EQ(listed.status, 200U) << listed.body;
  std::set<std::string> recorded_by;
  const json::value page = json::parse(listed.body);
  for (const auto& r : page.at("invocations").as_array()) {
    recorded_by.insert(std::string(r.at("node").as_string()));
  }
  EXPECT_EQ(recorded_by, (std::set<std::string>{"node-1", "node-2", "node-3"}));

  // 6. A fourth node, started now, serves every function.
  Node& n4 = add_node("node-4");
  EXPECT_TRUE(answers(n4.server.url(), "hello", "four"));
  for (const auto& name : acked) EXPECT_TRUE(answers(n4.server.url(), name, "y")) << name;
}

TEST_F(ScaleOutTest, RecordsAreDurableAndSurviveAStoreOutage) {
  Node& a = add_node("node-a");
  ASSERT_EQ(deploy(a.server.url(), "echo").status / 100, 2U);
  EXPECT_EQ(call(a.server.url(), "GET", "/readyz").status, 200U);

  // The durability rule: a record is in the store within 100 ms of its
  // response, so a kill -9 after that loses nothing.
  auto res = call(a.server.url(), "POST", "/v1/functions/echo/invoke", "durable");
  ASSERT_EQ(res.status, 200U);
  const std::string id = res.header("x-nebula-invocation-id");
  ASSERT_FALSE(id.empty());
  std::this_thread::sleep_for(100ms);
  a.server.kill9();
  Node& b = add_node("node-b");
  auto record = call(b.server.url(), "GET", "/v1/invocations/" + id);
  ASSERT_EQ(record.status, 200U) << record.body;
  EXPECT_EQ(json::parse(record.body).at("node").as_string(), "node-a");

  // PostgreSQL goes down: not ready, but known functions still run and
  // their records wait in memory.
  pg_->stop();
  ASSERT_TRUE(within(5s, [&] { return call(b.server.url(), "GET", "/readyz").status == 503; }));
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto during = call(b.server.url(), "POST", "/v1/functions/echo/invoke", "outage");
    ASSERT_EQ(during.status, 200U) << during.body;
    ids.push_back(during.header("x-nebula-invocation-id"));
  }
  auto deploy_down = deploy(b.server.url(), "other");
  EXPECT_EQ(deploy_down.status, 503U) << deploy_down.body;

  // It comes back: ready again by itself, and the waiting records arrive.
  ASSERT_TRUE(pg_->restart());
  auto ready = within(10s, [&] { return call(b.server.url(), "GET", "/readyz").status == 200; });
  ASSERT_TRUE(ready) << b.server.log();
  std::printf("ready again %lld ms after PostgreSQL restarted\n",
              static_cast<long long>(ready->count()));
  for (const auto& waiting : ids) {
    EXPECT_TRUE(within(5s, [&] {
      return call(b.server.url(), "GET", "/v1/invocations/" + waiting).status == 200;
    })) << waiting;
  }
}

}  // namespace
}  // namespace nebula::testing
