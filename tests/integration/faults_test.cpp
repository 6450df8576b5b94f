// Faults injected on purpose into a real server, each with the outcome it
// must have:
//   - the server killed with SIGKILL in the middle of invocations: after a
//     restart every acknowledged deploy is there, every record and blob is
//     whole, the database is sound and no container is left behind;
//   - the data directory's filesystem full (a small tmpfs): deploys answer
//     507, deployed functions keep answering, their records arrive once
//     space returns, nothing is corrupt;
//   - the SQLite database locked by another process: bounded waits and
//     503s, invocations unaffected, recovery when the lock goes;
//   - the Docker engine stopped and started again (a private dockerd with
//     its own sockets and directories, so that nothing else on the machine
//     notices): docker calls fail fast with 503 while it is down, wasm is
//     unaffected, /readyz says so, and the warm pool comes back by itself.
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sqlite3.h>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/files.hpp"
#include "base/subprocess.hpp"
#include "docker/api.hpp"
#include "docker/client.hpp"
#include "http/client.hpp"
#include "integration/server_process.hpp"
#include "store/blob_store.hpp"
#include "unit/docker/engine_support.hpp"
#include "integration/example_image.hpp"

namespace nebula::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string example(const std::string& name) {
  return base::read_file(std::string(NEBULA_EXAMPLES_DIR) + "/" + name + ".wasm").value_or("");
}

std::string guest(const std::string& name) {
  return base::read_file(std::string(NEBULA_TEST_GUESTS) + "/" + name + ".wasm").value_or("");
}

http::ClientResponse call(const http::Client& client, const std::string& method,
                          const std::string& target, std::string body = {},
                          const std::string& type = "application/octet-stream") {
  auto res = client.request(method, target, std::move(body), type);
  if (!res) return http::ClientResponse{};  // status 0: no answer
  return *res;
}

unsigned deploy_wasm(const http::Client& client, const std::string& name,
                     const std::string& module) {
  return call(client, "PUT", "/v1/functions/" + name, module, "application/wasm").status;
}

// Polls `probe` every 50 ms until it is true or `limit` passes.
template <class Probe>
bool eventually(std::chrono::milliseconds limit, Probe probe) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (probe()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return probe();
}

// PRAGMA integrity_check of a database no one else has open.
std::string integrity_of(const fs::path& db) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return "cannot open " + db.string();
  }
  std::string result;
  sqlite3_exec(
      raw, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) += values[0] != nullptr ? values[0] : "";
        return 0;
      },
      &result, nullptr);
  sqlite3_close(raw);
  return result;
}

// Every stored module blob hashes to its own name: none is half-written.
void expect_blobs_whole(const fs::path& data_dir) {
  std::error_code ec;
  std::size_t seen = 0;
  for (const auto& entry : fs::directory_iterator(data_dir / "blobs" / "sha256", ec)) {
    auto bytes = base::read_file(entry.path());
    ASSERT_TRUE(bytes) << entry.path();
    auto digest = store::sha256_digest(*bytes);
    ASSERT_TRUE(digest);
    EXPECT_EQ(*digest, "sha256:" + entry.path().filename().string()) << entry.path();
    ++seen;
  }
  EXPECT_GT(seen, 0U);
}

// How many records the server holds for `function`, page after page.
std::size_t record_count(const http::Client& client, const std::string& function) {
  std::size_t n = 0;
  std::string before;
  for (;;) {
    auto res = call(client, "GET",
                    "/v1/invocations?limit=1000&function=" + function +
                        (before.empty() ? "" : "&before=" + before));
    if (res.status != 200) return n;
    const json::value doc = json::parse(res.body);
    n += doc.at("invocations").as_array().size();
    const json::value& next = doc.at("next_before");
    if (!next.is_string()) return n;
    before = std::string(next.as_string());
  }
}

// Records as the server lists them (the newest thousand).
std::vector<json::object> records_of(const http::Client& client, const std::string& function) {
  std::vector<json::object> out;
  auto res = call(client, "GET", "/v1/invocations?limit=1000&function=" + function);
  if (res.status != 200) return out;
  const json::value doc = json::parse(res.body);
  for (const auto& r : doc.at("invocations").as_array()) out.push_back(r.as_object());
  return out;
}

// Wasm invocations from several clients for as long as it lives: the load
// a fault lands in. Counts what was answered 200 and what was not.
class BackgroundLoad {
 public:
  BackgroundLoad(const http::Client& client, std::string function, int clients = 8) {
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([this, &client, function] {
        while (!stop_.load()) {
          auto res = call(client, "POST", "/v1/functions/" + function + "/invoke", "load");
          if (res.status == 200) {
            ++ok_;
          } else if (++failed_ == 1) {
            std::lock_guard lock(mutex_);
            first_failure_ = std::to_string(res.status) + " " + res.body;
          }
        }
      });
    }
  }
  ~BackgroundLoad() { stop(); }
  BackgroundLoad(const BackgroundLoad&) = delete;
  BackgroundLoad& operator=(const BackgroundLoad&) = delete;

  void stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  [[nodiscard]] int ok() const { return ok_.load(); }
  [[nodiscard]] int failed() const { return failed_.load(); }
  [[nodiscard]] std::string first_failure() const {
    std::lock_guard lock(mutex_);
    return first_failure_;
  }

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0};
  std::atomic<int> failed_{0};
  mutable std::mutex mutex_;
  std::string first_failure_;
};

// --- SIGKILL ----------------------------------------------------------------

TEST(Faults, KilledMidInvocationTheServerComesBackWithEverythingAcknowledged) {
  const bool docker = docker::testing::engine_problem().empty() &&
                      docker::testing::fixture_image_problem().empty();
  TempDir dir;
  const fs::path data = dir.path() / "data";
  std::vector<std::string> args;
  if (!docker) args.emplace_back("--no-docker");
  std::set<std::string> acknowledged;
  {
    ServerProcess server(data, args);
    ASSERT_TRUE(server.start()) << server.log();
    const auto client = server.client();
    for (int i = 0; i < 5; ++i) {
      const std::string name = "kept-" + std::to_string(i);
      ASSERT_EQ(deploy_wasm(client, name, example("hello")), 201U);
      acknowledged.insert(name);
    }
    // Functions that run until stopped, on both runtimes.
    auto module = call(client, "POST", "/v1/modules", guest("spin"), "application/wasm");
    ASSERT_EQ(module.status, 201U) << module.body;
    const json::value digest = json::parse(module.body).at("digest");
    const json::object spin{{"wasm", json::object{{"module", digest}}},
                            {"limits", json::object{{"timeout_ms", 60000}}}};
    ASSERT_EQ(call(client, "PUT", "/v1/functions/spin", json::serialize(spin), "application/json")
                  .status,
              201U);
    acknowledged.insert("spin");
    if (docker) {
      const json::object sleeper{{"docker", json::object{{"image", docker::testing::kFixtureImage}}},
                                 {"args", json::array{"sleep"}},
                                 {"limits", json::object{{"timeout_ms", 60000}}}};
      ASSERT_EQ(call(client, "PUT", "/v1/functions/sleeper", json::serialize(sleeper),
                     "application/json")
                    .status,
                201U);
      acknowledged.insert("sleeper");
    }
    for (int i = 0; i < 10; ++i) {
      ASSERT_EQ(call(client, "POST", "/v1/functions/kept-0/invoke", "x").status, 200U);
    }
    std::vector<std::thread> calls;
    std::atomic<int> answered{0};
    for (const std::string target : {"spin", "sleeper"}) {
      if (target == "sleeper" && !docker) continue;
      calls.emplace_back([&client, target, &answered] {
        if (call(client, "POST", "/v1/functions/" + target + "/invoke", "x").status != 0) {
          ++answered;
        }
      });
    }
    // Let the container start and the wasm call get going, then the kill.
    std::this_thread::sleep_for(docker ? 2s : 500ms);
    server.kill9();
    for (auto& t : calls) t.join();
    EXPECT_EQ(answered.load(), 0) << "a call finished before the kill";
  }

  EXPECT_EQ(integrity_of(data / "nebula.db"), "ok");
  expect_blobs_whole(data);

  ServerProcess again(data, args);
  ASSERT_TRUE(again.start()) << again.log();
  const auto client = again.client();
  auto list = call(client, "GET", "/v1/functions");
  ASSERT_EQ(list.status, 200U) << list.body;
  std::set<std::string> listed;
  const json::value functions = json::parse(list.body);
  for (const auto& f : functions.at("functions").as_array()) {
    listed.insert(std::string(f.at("name").as_string()));
  }
  for (const auto& name : acknowledged) EXPECT_TRUE(listed.contains(name)) << name;
  // The ten answered calls were recorded within the durability window,
  // long before the kill; every record is whole.
  const auto records = records_of(client, "kept-0");
  EXPECT_EQ(records.size(), 10U);
  for (const auto& r : records) EXPECT_EQ(r.at("outcome").as_string(), "ok");
  // The interrupted container was removed by the restarted server.
  if (docker) {
    docker::Client engine;
    EXPECT_TRUE(eventually(10s, [&engine] {
      auto list = engine.list_containers(docker::kFunctionLabel, "sleeper");
      return list && list->empty();
    })) << "a container of sleeper outlived its server";
  }
  // And everything still runs.
  auto res = call(client, "POST", "/v1/functions/kept-4/invoke", "again");
  EXPECT_EQ(res.status, 200U) << res.body;
  EXPECT_NE(res.body.find("again"), std::string::npos) << res.body;
}

// --- a full disk ---------------------------------------------------------------

// A tmpfs of `megabytes` mounted on a fresh directory, unmounted at the end.
class SmallFilesystem {
 public:
  explicit SmallFilesystem(int megabytes) {
    mount_point_ = dir_.path() / "fs";
    fs::create_directories(mount_point_);
    const std::string options = "size=" + std::to_string(megabytes) + "m";
    mounted_ = ::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;
  [[nodiscard]] bool mounted() const { return mounted_; }
  [[nodiscard]] const fs::path& path() const { return mount_point_; }

  // Writes `name` until the filesystem is full; returns the bytes written.
  std::uint64_t fill(const std::string& name) const {
    std::FILE* f = std::fopen((mount_point_ / name).c_str(), "wb");
    if (f == nullptr) return 0;
    const std::string chunk(64 * 1024, 'z');
    std::uint64_t written = 0;
    while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) written += chunk.size();
    std::fclose(f);
    return written;
  }

 private:
  TempDir dir_;
  fs::path mount_point_;
  bool mounted_ = false;
};

TEST(Faults, AFullDiskRefusesDeploysWith507AndFunctionsKeepAnswering) {
  SmallFilesystem small(64);
  if (!small.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const fs::path data = small.path() / "data";
  {
    // Every record kept, so that all of them can be counted.
    ServerProcess server(data, {"--no-docker", "--max-records", "1000000"});
    ASSERT_TRUE(server.start()) << server.log();
    const auto client = server.client();
    ASSERT_EQ(deploy_wasm(client, "hello", example("hello")), 201U);
    ASSERT_EQ(call(client, "POST", "/v1/functions/hello/invoke", "a").status, 200U);

    ASSERT_GT(small.fill("filler"), 0U);
    BackgroundLoad load(client, "hello");
    auto refused = call(client, "PUT", "/v1/functions/echo", example("echo"), "application/wasm");
    EXPECT_EQ(refused.status, 507U) << refused.body;
    EXPECT_NE(refused.body.find("full"), std::string::npos) << refused.body;
    EXPECT_EQ(refused.headers["content-type"], "application/problem+json");
    // What is deployed keeps answering; its records wait in memory.
    for (int i = 0; i < 20; ++i) {
      auto res = call(client, "POST", "/v1/functions/hello/invoke", "b");
      ASSERT_EQ(res.status, 200U) << res.body;
    }
    EXPECT_EQ(call(client, "GET", "/v1/functions/hello").status, 200U);
    EXPECT_EQ(call(client, "GET", "/v1/functions/echo").status, 404U);

    load.stop();
    EXPECT_EQ(load.failed(), 0) << load.first_failure();
    EXPECT_GT(load.ok(), 0);
    // Space returns: the same deploy succeeds, and every record arrives.
    fs::remove(small.path() / "filler");
    EXPECT_EQ(deploy_wasm(client, "echo", example("echo")), 201U);
    const std::size_t expected = 21U + static_cast<std::size_t>(load.ok());
    EXPECT_TRUE(eventually(15s, [&client, expected] {
      return record_count(client, "hello") == expected;
    })) << record_count(client, "hello") << " records of " << expected;
    server.stop();
  }
  EXPECT_EQ(integrity_of(data / "nebula.db"), "ok");
  expect_blobs_whole(data);
}

// --- a locked database -----------------------------------------------------------

TEST(Faults, ALockedDatabaseGivesBoundedWaitsAnd503sThenRecovers) {
  TempDir dir;
  const fs::path data = dir.path() / "data";
  ServerProcess server(data, {"--no-docker", "--max-records", "1000000"});
  ASSERT_TRUE(server.start()) << server.log();
  const auto client = server.client();
  ASSERT_EQ(deploy_wasm(client, "hello", example("hello")), 201U);

  // Another process' write lock, held for longer than the server waits.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((data / "nebula.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  BackgroundLoad load(client, "hello");
  const auto begin = Clock::now();
  auto refused = call(client, "PUT", "/v1/functions/echo", example("echo"), "application/wasm");
  const auto waited = Clock::now() - begin;
  EXPECT_EQ(refused.status, 503U) << refused.body;
  EXPECT_EQ(refused.headers["retry-after"], "5");
  EXPECT_NE(refused.body.find("locked"), std::string::npos) << refused.body;
  // The server's wait is bounded (its busy timeout is 5 s).
  EXPECT_LT(waited, 30s);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(call(client, "POST", "/v1/functions/hello/invoke", "x").status, 200U);
  }

  load.stop();
  EXPECT_EQ(load.failed(), 0) << load.first_failure();
  EXPECT_GT(load.ok(), 0);
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_EQ(deploy_wasm(client, "echo", example("echo")), 201U);
  const std::size_t expected = 10U + static_cast<std::size_t>(load.ok());
  EXPECT_TRUE(eventually(15s, [&client, expected] {
    return record_count(client, "hello") == expected;
  })) << record_count(client, "hello") << " records of " << expected;
}

// --- the Docker engine going away ------------------------------------------------

// A dockerd of the test's own: its socket, data, exec root and pid file in
// a temp directory, no bridge, no iptables.
class PrivateEngine {
 public:
  PrivateEngine() = default;
  ~PrivateEngine() { stop(); }
  PrivateEngine(const PrivateEngine&) = delete;
  PrivateEngine& operator=(const PrivateEngine&) = delete;

  [[nodiscard]] std::string socket() const { return (dir_.path() / "docker.sock").string(); }

  bool start() {
    base::SpawnOptions options;
    options.in = base::Stdio::null();
    options.out = base::Stdio::file(dir_.path() / "dockerd.log");
    options.err = base::Stdio::to_stdout();
    auto child = base::Subprocess::start(
        {"dockerd", "--host", "unix://" + socket(), "--data-root",
         (dir_.path() / "root").string(), "--exec-root", (dir_.path() / "exec").string(),
         "--pidfile", (dir_.path() / "dockerd.pid").string(), "--bridge=none",
         "--iptables=false", "--ip6tables=false"},
        options);
    if (!child) return false;
    process_.emplace(std::move(*child));
    docker::Client client(docker::ClientOptions{.socket_path = socket()});
    return eventually(60s, [&client] { return static_cast<bool>(client.ping()); });
  }
  void stop() {
    if (process_) {
      (void)process_->terminate(std::chrono::seconds(30));
      process_.reset();
    }
  }
  [[nodiscard]] std::string log() const {
    return base::read_file(dir_.path() / "dockerd.log").value_or("");
  }

 private:
  TempDir dir_;
  std::optional<base::Subprocess> process_;
};

TEST(Faults, TheDockerEngineStoppingAndComingBack) {
  if (auto problem = example_image_problem("nebula-fn-hello:latest"); !problem.empty()) {
    GTEST_SKIP() << problem;
  }
  if (::geteuid() != 0) GTEST_SKIP() << "a private dockerd needs root";
  PrivateEngine engine;
  ASSERT_TRUE(engine.start()) << engine.log();
  // The image, from the machine's engine into ours.
  auto loaded = base::run({"sh", "-c",
                           "docker save nebula-fn-hello:latest | docker -H unix://" +
                               engine.socket() + " load"});
  ASSERT_TRUE(loaded && loaded->status == 0) << (loaded ? loaded->err : loaded.error().message);

  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--docker-socket", engine.socket()});
  ASSERT_TRUE(server.start()) << server.log();
  const auto client = server.client();
  ASSERT_EQ(deploy_wasm(client, "hello", example("hello")), 201U);
  const json::object warm{
      {"docker", json::object{{"image", "nebula-fn-hello:latest"}}},
      {"docker_pool", json::object{{"min_warm", 1}, {"max_warm", 2}, {"idle_timeout_s", 600}}}};
  ASSERT_EQ(call(client, "PUT", "/v1/functions/warm", json::serialize(warm), "application/json")
                .status,
            201U);
  ASSERT_EQ(call(client, "POST", "/v1/functions/warm/invoke", "x").status, 200U);
  EXPECT_EQ(call(client, "GET", "/readyz").status, 200U);

  BackgroundLoad load(client, "hello");
  engine.stop();
  // Down: docker calls fail fast with 503 and say why; wasm is untouched.
  const auto begin = Clock::now();
  auto refused = call(client, "POST", "/v1/functions/warm/invoke", "x");
  EXPECT_LT(Clock::now() - begin, 10s);
  EXPECT_EQ(refused.status, 503U) << refused.body;
  EXPECT_EQ(refused.headers["content-type"], "application/problem+json");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(call(client, "POST", "/v1/functions/hello/invoke", "x").status, 200U);
  }
  auto ready = call(client, "GET", "/readyz");
  EXPECT_EQ(ready.status, 503U) << ready.body;
  EXPECT_NE(ready.body.find("\"docker\":\"cannot reach the Docker engine"), std::string::npos)
      << ready.body;

  // Back: readiness returns and the pool starts new containers by itself.
  ASSERT_TRUE(engine.start()) << engine.log();
  EXPECT_TRUE(eventually(30s, [&client] { return call(client, "GET", "/readyz").status == 200; }));
  EXPECT_TRUE(eventually(30s, [&client] {
    return call(client, "POST", "/v1/functions/warm/invoke", "x").status == 200;
  })) << server.log();
  // Wasm answered throughout.
  load.stop();
  EXPECT_EQ(load.failed(), 0) << load.first_failure();
  EXPECT_GT(load.ok(), 0);
  server.stop();
  // The server removed its containers from the engine when it stopped.
  docker::Client engine_client(docker::ClientOptions{.socket_path = engine.socket()});
  auto left = engine_client.list_containers(docker::kFunctionLabel);
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
}

}  // namespace
}  // namespace nebula::testing
