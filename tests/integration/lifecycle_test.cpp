// A function's life through the real `nebula serve` (no Docker; SQLite, and
// PostgreSQL for two nodes on one store): versions and rollback, async calls
// across a SIGKILL, retries then dead, schedules, secrets, live logs over
// Server-Sent Events, and the concurrency limit.
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <map>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/files.hpp"
#include "integration/postgres_process.hpp"
#include "integration/server_process.hpp"

namespace nebula::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string guest() {
  return base::read_file(std::string(NEBULA_TEST_GUESTS) + "/lifecycle.wasm").value_or("");
}

http::ClientResponse call(const std::string& url, std::string_view method, std::string_view target,
                          std::string body = {}, std::string_view type = {},
                          const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  auto res = http::Client(url, "").request(method, target, std::move(body), type, headers);
  return res ? *res : http::ClientResponse{};
}

template <class Probe>
bool eventually(std::chrono::milliseconds limit, Probe probe) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (probe()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return probe();
}

class LifecycleTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> args = {}) {
    args.insert(args.begin(), "--no-docker");
    server_.emplace(dir_.path() / "data", std::move(args));
    ASSERT_TRUE(server_->start()) << server_->log();
    url_ = server_->url();
  }
  void restart() {
    ASSERT_TRUE(server_->start()) << server_->log();
    url_ = server_->url();
  }

  std::string upload() {
    auto res = call(url_, "POST", "/v1/modules", guest(), "application/wasm");
    EXPECT_EQ(res.status, 201U) << res.body;
    return res.status == 201 ? std::string(json::parse(res.body).at("digest").as_string())
                             : std::string();
  }

  // Deploys the lifecycle guest with `extra` manifest fields; the status.
  unsigned deploy(const std::string& name, json::object extra = {}) {
    if (digest_.empty()) digest_ = upload();
    extra["wasm"] = json::object{{"module", digest_}};
    auto res =
        call(url_, "PUT", "/v1/functions/" + name, json::serialize(extra), "application/json");
    last_deploy_ = res.body;
    return res.status;
  }

  http::ClientResponse invoke(
      const std::string& name, const std::string& body, const std::string& query = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return call(url_, "POST", "/v1/functions/" + name + "/invoke" + query, body,
                "application/octet-stream", headers);
  }

  json::value get_json(const std::string& target) {
    auto res = call(url_, "GET", target);
    EXPECT_EQ(res.status, 200U) << target << ": " << res.body;
    return res.status == 200 ? json::parse(res.body) : json::value();
  }

  TempDir dir_;
  std::optional<ServerProcess> server_;
  std::string url_;
  std::string digest_;
  std::string last_deploy_;
};

TEST_F(LifecycleTest, EveryDeployIsAVersionAndRollbackGoesBack) {
  start({"--max-versions", "3"});
  ASSERT_EQ(deploy("tagged", {{"env", json::object{{"TAG", "one"}}}}), 201U) << last_deploy_;
  EXPECT_EQ(json::parse(last_deploy_).at("version"), 1);
  ASSERT_EQ(deploy("tagged", {{"env", json::object{{"TAG", "two"}}}}), 200U) << last_deploy_;
  EXPECT_EQ(json::parse(last_deploy_).at("version"), 2);

  auto versions = get_json("/v1/functions/tagged/versions");
  EXPECT_EQ(versions.at("serving"), 2);
  ASSERT_EQ(versions.at("versions").as_array().size(), 2U);
  EXPECT_EQ(versions.at("versions").at(0).at("version"), 2);
  EXPECT_EQ(versions.at("versions").at(0).at("serving"), true);
  EXPECT_EQ(versions.at("versions").at(1).at("manifest").at("env").at("TAG"), "one");

  // The serving version, and an older one by number.
  auto now = invoke("tagged", "x");
  EXPECT_EQ(now.body, "tag=two input=x");
  EXPECT_EQ(now.header("x-nebula-version"), "2");
  auto old = invoke("tagged", "y", "?version=1");
  ASSERT_EQ(old.status, 200U) << old.body;
  EXPECT_EQ(old.body, "tag=one input=y");
  EXPECT_EQ(old.header("x-nebula-version"), "1");
  auto record = get_json("/v1/invocations/" + old.header("x-nebula-invocation-id"));
  EXPECT_EQ(record.at("version"), 1);
  EXPECT_EQ(record.at("trigger"), "http");
  EXPECT_EQ(invoke("tagged", "z", "?version=9").status, 404U);
  EXPECT_EQ(invoke("tagged", "z", "?version=abc").status, 400U);

  // Rollback to the previous version, then forward to a named one.
  auto back = call(url_, "POST", "/v1/functions/tagged/rollback");
  ASSERT_EQ(back.status, 200U) << back.body;
  EXPECT_EQ(json::parse(back.body).at("version"), 1);
  EXPECT_EQ(invoke("tagged", "x").body, "tag=one input=x");
  EXPECT_EQ(call(url_, "POST", "/v1/functions/tagged/rollback").status, 409U);
  auto forward =
      call(url_, "POST", "/v1/functions/tagged/rollback", R"({"version": 2})", "application/json");
  ASSERT_EQ(forward.status, 200U) << forward.body;
  EXPECT_EQ(invoke("tagged", "x").body, "tag=two input=x");
  EXPECT_EQ(
      call(url_, "POST", "/v1/functions/tagged/rollback", R"({"version": 7})", "application/json")
          .status,
      404U);
  EXPECT_EQ(
      call(url_, "POST", "/v1/functions/tagged/rollback", R"({"version": "x"})", "application/json")
          .status,
      400U);

  // --max-versions 3: a fourth and fifth deploy prune the oldest, but the
  // serving version survives even when it is the oldest.
  ASSERT_EQ(
      call(url_, "POST", "/v1/functions/tagged/rollback", R"({"version": 1})", "application/json")
          .status,
      200U);
  ASSERT_EQ(deploy("tagged", {{"env", json::object{{"TAG", "three"}}}}), 200U);
  ASSERT_EQ(deploy("tagged", {{"env", json::object{{"TAG", "four"}}}}), 200U);
  std::set<std::int64_t> kept;
  const auto listed = get_json("/v1/functions/tagged/versions");
  for (const auto& v : listed.at("versions").as_array()) {
    kept.insert(v.at("version").as_int64());
  }
  EXPECT_EQ(kept, (std::set<std::int64_t>{2, 3, 4}));

  // A restart serves the same version.
  server_->stop();
  restart();
  EXPECT_EQ(invoke("tagged", "x").body, "tag=four input=x");
  EXPECT_EQ(get_json("/v1/functions/tagged").at("version"), 4);
}

TEST_F(LifecycleTest, AsyncCallSurvivesASigkillAndItsRecordHoldsTheAnswer) {
  start();
  ASSERT_EQ(
      deploy("slow", {{"limits", json::object{{"max_concurrency", 1}, {"timeout_ms", 30000}}}}),
      201U)
      << last_deploy_;
  // A synchronous call holds the only slot, so the queued call is claimed
  // and waits: the server is killed while it holds it.
  std::thread blocker([&] { (void)invoke("slow", "wait 1500"); });
  std::this_thread::sleep_for(200ms);
  auto queued = invoke("slow", "hello async", "?async=true");
  ASSERT_EQ(queued.status, 202U) << queued.body;
  const std::string location = queued.header("location");
  const std::string id(json::parse(queued.body).at("id").as_string());
  EXPECT_EQ(location, "/v1/invocations/" + id);
  EXPECT_EQ(queued.header("preference-applied"), "respond-async");
  ASSERT_TRUE(eventually(3s, [&] {
    auto t = call(url_, "GET", location);
    return t.status == 200 && json::parse(t.body).at("state") == "running";
  }));
  server_->kill9();
  blocker.join();

  restart();
  ASSERT_TRUE(eventually(10s,
                         [&] {
                           auto t = call(url_, "GET", location);
                           return t.status == 200 && json::parse(t.body).at("state") == "done";
                         }))
      << call(url_, "GET", location).body << server_->log();
  auto task = get_json(location);
  EXPECT_EQ(task.at("async"), true);
  EXPECT_EQ(task.at("status"), 200);
  EXPECT_EQ(task.at("result"), "tag= input=hello async");
  EXPECT_EQ(task.at("record").at("trigger"), "async");
  EXPECT_EQ(task.at("record").at("outcome"), "ok");
  // It ran to completion once: one async record.
  auto records = get_json("/v1/invocations?function=slow&limit=100");
  int async_runs = 0;
  for (const auto& r : records.at("invocations").as_array()) {
    if (r.at("trigger") == "async") ++async_runs;
  }
  EXPECT_EQ(async_runs, 1);

  // The same through Prefer: respond-async.
  auto preferred = invoke("slow", "again", {}, {{"Prefer", "respond-async"}});
  EXPECT_EQ(preferred.status, 202U) << preferred.body;
}

TEST_F(LifecycleTest, FailingAsyncCallIsRetriedWithBackoffThenDead) {
  start();
  ASSERT_EQ(deploy("flaky", {{"async", json::object{{"max_retries", 2}}}}), 201U) << last_deploy_;
  const auto started = Clock::now();
  auto queued = invoke("flaky", "fail", "?async=true");
  ASSERT_EQ(queued.status, 202U) << queued.body;
  const std::string location = queued.header("location");
  // Backoff 1 s then 2 s: three runs in about 3 s.
  ASSERT_TRUE(eventually(15s, [&] {
    auto t = call(url_, "GET", location);
    return t.status == 200 && json::parse(t.body).at("state") == "dead";
  })) << call(url_, "GET", location).body;
  EXPECT_GE(Clock::now() - started, 2900ms);
  auto task = get_json(location);
  EXPECT_EQ(task.at("attempts"), 3);
  EXPECT_EQ(task.at("status"), 502);
  EXPECT_NE(std::string(task.at("result").as_string()).find("Function failed"), std::string::npos);
  EXPECT_EQ(task.at("record").at("stderr_tail"), "failing\n");

  // A bounded queue: async.max_queued.
  ASSERT_EQ(deploy("bounded", {{"async", json::object{{"max_queued", 1}}},
                               {"limits", json::object{{"max_concurrency", 1}}}}),
            201U);
  std::thread blocker([&] { (void)invoke("bounded", "wait 1500"); });
  std::this_thread::sleep_for(200ms);
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < 3; ++i) {
    auto r = invoke("bounded", "x", "?async=true");
    if (r.status == 202) ++accepted;
    if (r.status == 429) {
      ++refused;
      EXPECT_EQ(r.header("retry-after"), "1");
    }
  }
  blocker.join();
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(refused, 2);

  // A callback only to an allowed host.
  auto refused_cb = invoke("flaky", "x", "?async=true&callback=http%3A%2F%2F127.0.0.1%3A9%2Fhook");
  EXPECT_EQ(refused_cb.status, 400U) << refused_cb.body;
}

TEST_F(LifecycleTest, CallbackReceivesTheResult) {
  // A one-shot HTTP listener on loopback.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  std::string received;
  std::thread hook([&] {
    int c = ::accept(listener, nullptr, nullptr);
    if (c < 0) return;
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      received.append(buf, static_cast<std::size_t>(n));
      auto head_end = received.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      auto cl = received.find("Content-Length: ");
      if (cl == std::string::npos) cl = received.find("content-length: ");
      if (cl == std::string::npos) break;
      const std::size_t body_len = std::stoul(received.substr(cl + 16));
      if (received.size() >= head_end + 4 + body_len) break;
    }
    const std::string ok = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    (void)!::write(c, ok.data(), ok.size());
    ::close(c);
  });
  start();
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_EQ(deploy("hooked", {{"allowed_outbound_hosts", json::array{origin}}}), 201U)
      << last_deploy_;
  auto queued =
      invoke("hooked", "called back", "?async=true", {{"X-Nebula-Callback", origin + "/hook?x=1"}});
  ASSERT_EQ(queued.status, 202U) << queued.body;
  hook.join();
  ::close(listener);
  EXPECT_NE(received.find("POST /hook?x=1 HTTP/1.1"), std::string::npos) << received;
  const auto body = json::parse(received.substr(received.find("\r\n\r\n") + 4));
  EXPECT_EQ(body.at("state"), "done");
  EXPECT_EQ(body.at("result"), "tag= input=called back");
}

TEST_F(LifecycleTest, ScheduleFiresOnTimeWithTheTriggerInput) {
  start();
  ASSERT_EQ(deploy("ticker", {{"triggers", json::array{json::object{{"schedule", "@every 2s"},
                                                                    {"input", "tick"}}}}}),
            201U)
      << last_deploy_;
  ASSERT_TRUE(eventually(7s, [&] {
    auto r = get_json("/v1/invocations?function=ticker&limit=10");
    return r.at("invocations").as_array().size() >= 2;
  })) << server_->log();
  const auto listed = get_json("/v1/invocations?function=ticker&limit=10");
  const auto& records = listed.at("invocations").as_array();
  std::set<std::int64_t> dues;
  for (const auto& r : records) {
    EXPECT_EQ(r.at("trigger"), "cron");
    EXPECT_EQ(r.at("outcome"), "ok");
    // Due times are multiples of 2 s since the epoch; each started within a
    // second of its own.
    const std::int64_t started = r.at("started_at_us").as_int64();
    const std::int64_t due = started / 2'000'000 * 2'000'000;
    EXPECT_LT(started - due, 1'000'000) << "started " << started;
    EXPECT_TRUE(dues.insert(due).second) << "fired twice for " << due;
  }
  auto one = get_json("/v1/invocations/" + std::string(records.at(0).at("id").as_string()));
  EXPECT_EQ(one.at("trigger"), "cron");
  // Removing the function stops its schedule.
  ASSERT_EQ(call(url_, "DELETE", "/v1/functions/ticker").status, 204U);
  EXPECT_EQ(
      deploy("ticker-bad", {{"triggers", json::array{json::object{{"schedule", "61 * * * *"}}}}}),
      400U);
  EXPECT_NE(last_deploy_.find("triggers[0].schedule"), std::string::npos) << last_deploy_;
}

TEST_F(LifecycleTest, SecretReachesTheFunctionAndNothingShowsIt) {
  start();
  const std::string value = "s3cr3t-Value-91x";
  auto put = call(url_, "PUT", "/v1/secrets/api-key", value, "text/plain");
  ASSERT_EQ(put.status, 201U) << put.body;
  EXPECT_EQ(put.body.find(value), std::string::npos);
  EXPECT_EQ(call(url_, "PUT", "/v1/secrets/api-key", value, "text/plain").status, 200U);
  EXPECT_EQ(call(url_, "GET", "/v1/secrets/api-key").status, 405U);
  auto listed = call(url_, "GET", "/v1/secrets");
  EXPECT_EQ(listed.status, 200U);
  EXPECT_NE(listed.body.find("api-key"), std::string::npos);
  EXPECT_EQ(listed.body.find(value), std::string::npos);

  EXPECT_EQ(
      deploy("uses-missing", {{"env", json::object{{"K", json::object{{"secret", "nope"}}}}}}),
      400U);
  EXPECT_NE(last_deploy_.find("nope"), std::string::npos);
  ASSERT_EQ(
      deploy("uses", {{"env", json::object{{"API_KEY", json::object{{"secret", "api-key"}}}}}}),
      201U)
      << last_deploy_;
  EXPECT_EQ(last_deploy_.find(value), std::string::npos);

  auto res = invoke("uses", "secret API_KEY " + value);
  ASSERT_EQ(res.status, 200U) << res.body;
  EXPECT_EQ(res.body, "equal");
  auto record = get_json("/v1/invocations/" + res.header("x-nebula-invocation-id"));
  const std::string stderr_tail(record.at("stderr_tail").as_string());
  EXPECT_EQ(stderr_tail, "API_KEY=[redacted]\n");
  EXPECT_EQ(json::serialize(record).find(value), std::string::npos);
  EXPECT_EQ(call(url_, "GET", "/v1/functions/uses/logs").body.find(value), std::string::npos);
  EXPECT_EQ(call(url_, "GET", "/v1/functions/uses").body.find(value), std::string::npos);
  EXPECT_EQ(call(url_, "GET", "/v1/functions/uses/versions").body.find(value), std::string::npos);

  // Rotation takes effect on the next call.
  ASSERT_EQ(call(url_, "PUT", "/v1/secrets/api-key", "rotated-2", "text/plain").status, 200U);
  EXPECT_EQ(invoke("uses", "secret API_KEY rotated-2").body, "equal");
  // In use: cannot be deleted.
  auto in_use = call(url_, "DELETE", "/v1/secrets/api-key");
  EXPECT_EQ(in_use.status, 409U);
  EXPECT_EQ(json::parse(in_use.body).at("functions"), json::array{"uses"}) << in_use.body;
  ASSERT_EQ(call(url_, "DELETE", "/v1/functions/uses").status, 204U);
  EXPECT_EQ(call(url_, "DELETE", "/v1/secrets/api-key").status, 204U);
  EXPECT_EQ(call(url_, "DELETE", "/v1/secrets/api-key").status, 404U);

  // Never in the server's log, and not in clear in its data directory.
  server_->stop();
  EXPECT_EQ(server_->log().find(value), std::string::npos);
  EXPECT_EQ(server_->log().find("rotated-2"), std::string::npos);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (!entry.is_regular_file()) continue;
    auto bytes = base::read_file(entry.path()).value_or("");
    EXPECT_EQ(bytes.find(value), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find("rotated-2"), std::string::npos) << entry.path();
  }
}

// Reads Server-Sent Events from GET …/logs?follow=true on a raw socket.
class SseReader {
 public:
  SseReader(const std::string& url, const std::string& function) {
    const auto colon = url.rfind(':');
    const int port = std::stoi(url.substr(colon + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    const std::string req =
        "GET /v1/functions/" + function +
        "/logs?follow=true HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    if (connected_) (void)!::write(fd_, req.data(), req.size());
    timeval tv{.tv_sec = 0, .tv_usec = 200'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~SseReader() { ::close(fd_); }
  // Everything received until `needle` appears or `limit` passes.
  std::string read_until(const std::string& needle, std::chrono::milliseconds limit) {
    const auto until = Clock::now() + limit;
    char buf[4096];
    while (Clock::now() < until && seen_.find(needle) == std::string::npos) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) seen_.append(buf, static_cast<std::size_t>(n));
      if (n == 0) break;
    }
    return seen_;
  }
  bool connected() const { return connected_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string seen_;
};

TEST_F(LifecycleTest, LiveLogsStreamEachInvocation) {
  start();
  ASSERT_EQ(deploy("chatty"), 201U);
  SseReader reader(url_, "chatty");
  ASSERT_TRUE(reader.connected());
  auto head = reader.read_until("\r\n\r\n", 3s);
  EXPECT_NE(head.find("200 OK"), std::string::npos) << head;
  EXPECT_NE(head.find("text/event-stream"), std::string::npos) << head;
  auto ok = invoke("chatty", "first");
  auto failed = invoke("chatty", "fail");
  EXPECT_EQ(failed.status, 502U);
  const std::string failed_id = failed.header("x-nebula-invocation-id");
  auto seen = reader.read_until(failed_id, 5s);
  EXPECT_NE(seen.find("event: invocation\nid: " + ok.header("x-nebula-invocation-id")),
            std::string::npos)
      << seen;
  EXPECT_NE(seen.find("id: " + failed_id), std::string::npos) << seen;
  EXPECT_NE(seen.find("\"outcome\":\"exit\""), std::string::npos) << seen;
  EXPECT_NE(seen.find("\"stderr\":\"failing\\n\""), std::string::npos) << seen;
  // Without follow: the latest, as JSON.
  auto recent = get_json("/v1/functions/chatty/logs?limit=1");
  ASSERT_EQ(recent.at("logs").as_array().size(), 1U);
  EXPECT_EQ(recent.at("logs").at(0).at("id").as_string(), failed_id);
  EXPECT_EQ(call(url_, "GET", "/v1/functions/nope/logs?follow=true").status, 404U);
}

TEST_F(LifecycleTest, ConcurrencyLimitQueuesThenRefuses) {
  start();
  ASSERT_EQ(
      deploy("single", {{"limits", json::object{{"max_concurrency", 1}, {"timeout_ms", 1500}}}}),
      201U)
      << last_deploy_;
  // Two calls of 300 ms: the second waits for the first's slot, then runs.
  std::atomic<unsigned> second_status{0};
  std::thread first([&] { (void)invoke("single", "wait 300"); });
  std::this_thread::sleep_for(50ms);
  const auto t0 = Clock::now();
  std::thread second([&] { second_status = invoke("single", "wait 300").status; });
  second.join();
  first.join();
  EXPECT_EQ(second_status.load(), 200U);
  EXPECT_GE(Clock::now() - t0, 450ms);  // it waited for the first

  // A holds the slot for 1 s; B, waiting since 50 ms (up to 1.5 s), takes
  // it next (the oldest waiter is woken) and holds it for another second;
  // C, waiting since 100 ms, reaches its 1.5 s timeout first: 429.
  std::atomic<unsigned> a_status{0};
  std::atomic<unsigned> b_status{0};
  std::thread a([&] { a_status = invoke("single", "wait 1000").status; });
  std::this_thread::sleep_for(50ms);
  std::thread b([&] { b_status = invoke("single", "wait 1000").status; });
  std::this_thread::sleep_for(50ms);
  auto refused = invoke("single", "x");
  a.join();
  b.join();
  EXPECT_EQ(a_status.load(), 200U);
  EXPECT_EQ(b_status.load(), 200U);
  EXPECT_EQ(refused.status, 429U) << refused.body;
  EXPECT_EQ(refused.header("retry-after"), "1");
  EXPECT_NE(refused.body.find("max_concurrency"), std::string::npos) << refused.body;
  EXPECT_EQ(json::parse(refused.body).at("type"), "urn:nebula:problem:concurrency-limit");
  auto metrics = call(url_, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("nebula_concurrency_limited_total{function=\"single\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("nebula_function_in_flight{function=\"single\"} 0"), std::string::npos);
}

TEST(LifecycleTwoNodes, ScheduleFiresOncePerDueTimeAcrossNodes) {
  auto pg = PostgresProcess::start();
  ASSERT_TRUE(pg) << pg.error().message;
  TempDir key_dir;
  const auto key = key_dir.path() / "secrets.key";
  ASSERT_TRUE(base::write_file(key, std::string(64, 'a')));
  std::filesystem::permissions(
      key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  TempDir d1;
  TempDir d2;
  ServerProcess n1(d1.path(), {"--no-docker", "--store", pg->dsn(), "--node-id", "n1",
                               "--secrets-key-file", key.string()});
  ServerProcess n2(d2.path(), {"--no-docker", "--store", pg->dsn(), "--node-id", "n2",
                               "--secrets-key-file", key.string()});
  ASSERT_TRUE(n1.start()) << n1.log();
  ASSERT_TRUE(n2.start()) << n2.log();
  auto up = call(n1.url(), "POST", "/v1/modules", guest(), "application/wasm");
  ASSERT_EQ(up.status, 201U) << up.body;
  json::object manifest{
      {"wasm", json::object{{"module", json::parse(up.body).at("digest")}}},
      {"triggers", json::array{json::object{{"schedule", "@every 1s"}, {"input", "beat"}}}}};
  ASSERT_EQ(
      call(n1.url(), "PUT", "/v1/functions/beat", json::serialize(manifest), "application/json")
          .status,
      201U);
  std::this_thread::sleep_for(6500ms);
  auto res = call(n2.url(), "GET", "/v1/invocations?function=beat&limit=100");
  ASSERT_EQ(res.status, 200U) << res.body;
  std::map<std::int64_t, int> per_due;
  std::set<std::string> nodes;
  const auto listed = json::parse(res.body);
  for (const auto& r : listed.at("invocations").as_array()) {
    EXPECT_EQ(r.at("trigger"), "cron");
    const std::int64_t started = r.at("started_at_us").as_int64();
    const std::int64_t due = started / 1'000'000 * 1'000'000;
    EXPECT_LT(started - due, 1'000'000);
    ++per_due[due];
    nodes.insert(std::string(r.at("node").as_string()));
  }
  EXPECT_GE(per_due.size(), 4U) << res.body;
  for (const auto& [due, n] : per_due)
    EXPECT_EQ(n, 1) << "due " << due << " fired " << n << " times";
  std::printf("%zu firings, by nodes:", per_due.size());
  for (const auto& n : nodes) std::printf(" %s", n.c_str());
  std::printf("\n");
  // Secrets with the shared key work across nodes.
  ASSERT_EQ(call(n1.url(), "PUT", "/v1/secrets/shared", "across-nodes").status, 201U);
  manifest.erase("triggers");
  manifest["env"] = json::object{{"S", json::object{{"secret", "shared"}}}};
  ASSERT_EQ(
      call(n2.url(), "PUT", "/v1/functions/reader", json::serialize(manifest), "application/json")
          .status,
      201U);
  ASSERT_TRUE(eventually(5s, [&] {
    return call(n1.url(), "POST", "/v1/functions/reader/invoke", "secret S across-nodes").body ==
           "equal";
  }));
}

}  // namespace
}  // namespace nebula::testing
