// nebula-soak: hours of mixed load against a server of its own, with every
// answer checked and the server's footprint sampled, to show that nothing
// leaks and nothing is lost.
//
//   nebula-soak [--clients 100] [--duration-s 600] [--sample-s 10] [--no-docker]
//               [--out soak.json]
//
// It starts `nebula serve` (the binary beside its own directory, or
// --nebula) on a free loopback port with a fresh data directory, deploys
// its functions, and runs `clients` threads that each loop over a weighted
// mix: wasm invocations, docker warm-pool and cold invocations, a deploy,
// invoke and delete of a throwaway function, record queries, function
// reads and /metrics scrapes. Every `sample-s` it samples the server
// (GET /v1/status: resident memory, threads, descriptors), the SQLite
// database and WAL sizes, and the containers on the engine. At the end it
// stops the server and counts the containers left behind.
//
// Pass (exit 0): no platform 5xx, no wrong answer, no transport error, no
// container left behind, a SQLite WAL that never passed 64 MiB (the server
// bounds it at 16 MiB plus a second of writes), and resident memory and
// descriptors flat after warm-up: the mean over the last half of the final window (the last
// 5 minutes, or half the run when shorter) at most 10 % above the mean
// over its first half. A 502 whose problem says the function itself failed
// would be the guest's, not the platform's; these functions never fail, so
// any answer but the expected one counts as wrong.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "base/files.hpp"
#include "bench/server_child.hpp"
#include "docker/api.hpp"
#include "docker/client.hpp"
#include "http/client.hpp"

namespace nebula::soak {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  unsigned clients = 100;
  double duration_s = 600;
  double sample_s = 10;
  bool no_docker = false;
  std::string nebula;    // default: ../nebula from this binary's directory
  std::string examples;  // default: ../examples
  std::string docker_socket = "/var/run/docker.sock";
  std::string out = "soak.json";
};

// The kinds of work a client does, and how often (weights out of 100).
enum class Kind { kWasm, kWarm, kCold, kThrowaway, kRecords, kRead, kMetrics, kCount };
constexpr const char* kKindNames[] = {"wasm",    "docker-warm", "docker-cold", "deploy-invoke-delete",
                                      "records", "read",        "metrics"};
constexpr int kWeights[] = {50, 15, 3, 5, 12, 10, 5};
constexpr int kWeightsWithoutDocker[] = {68, 0, 0, 5, 12, 10, 5};

constexpr std::string_view kInput = "soak";

// What happened to the requests of one kind.
struct Tally {
  std::uint64_t ok = 0;
  std::uint64_t platform_5xx = 0;
  std::uint64_t wrong = 0;  // an unexpected status below 500, or a wrong body
  std::uint64_t transport = 0;
};

struct Sample {
  double t_s = 0;
  std::uint64_t rss_bytes = 0;
  std::uint64_t threads = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t db_bytes = 0;
  std::uint64_t wal_bytes = 0;
  std::uint64_t warm_containers = 0;
  std::int64_t engine_containers = -1;  // ours on the engine; -1 without Docker
  std::uint64_t requests = 0;           // completed so far
};

// Shared by the client threads; each failure keeps its first few
// descriptions for the report.
class Results {
 public:
  void count(Kind kind, const Tally& add) {
    std::lock_guard lock(mutex_);
    Tally& t = tallies_[static_cast<std::size_t>(kind)];
    t.ok += add.ok;
    t.platform_5xx += add.platform_5xx;
    t.wrong += add.wrong;
    t.transport += add.transport;
  }
  void failure(const std::string& what) {
    std::lock_guard lock(mutex_);
    if (failures_.size() < 20) failures_.push_back(what);
  }
  [[nodiscard]] std::vector<Tally> tallies() const {
    std::lock_guard lock(mutex_);
    return {std::begin(tallies_), std::end(tallies_)};
  }
  [[nodiscard]] std::vector<std::string> failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  mutable std::mutex mutex_;
  Tally tallies_[static_cast<std::size_t>(Kind::kCount)];
  std::vector<std::string> failures_;
};

std::string excerpt(const std::string& text) {
  std::string out = text.substr(0, 160);
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

// Checks one answer: `expected_status`, and `body_ok` on its body.
template <class BodyCheck>
Tally check(Results& results, const char* what, const Result<http::ClientResponse>& res,
            unsigned expected_status, BodyCheck body_ok) {
  Tally t;
  if (!res) {
    ++t.transport;
    results.failure(std::string(what) + ": transport: " + res.error().message);
  } else if (res->status >= 500) {
    ++t.platform_5xx;
    results.failure(std::string(what) + ": " + std::to_string(res->status) + " " +
                    excerpt(res->body));
  } else if (res->status != expected_status || !body_ok(res->body)) {
    ++t.wrong;
    results.failure(std::string(what) + ": " + std::to_string(res->status) + " " +
                    excerpt(res->body));
  } else {
    ++t.ok;
  }
  return t;
}

struct Setup {
  std::string digest;                                // hello's module
  std::map<std::string, std::string, std::less<>> reference;  // function -> its answer
};

Status put_function(const http::Client& client, const std::string& name,
                    const json::object& manifest) {
  auto res = client.request("PUT", "/v1/functions/" + name, json::serialize(manifest),
                            "application/json");
  if (!res) return std::move(res).error();
  if (res->status != 200 && res->status != 201) {
    return make_error(ErrorKind::kInvalidArgument,
                      "deploying " + name + ": " + std::to_string(res->status) + " " + res->body);
  }
  return {};
}

Result<Setup> deploy(const http::Client& client, const fs::path& examples, bool docker) {
  auto bytes = base::read_file(examples / "hello.wasm");
  if (!bytes) return make_error(ErrorKind::kNotFound, "cannot read " + (examples / "hello.wasm").string());
  auto up = client.request("POST", "/v1/modules", std::move(*bytes), "application/wasm");
  if (!up) return std::move(up).error();
  if (up->status != 201) return make_error(ErrorKind::kInternal, "module upload: " + up->body);
  Setup setup;
  setup.digest = std::string(json::parse(up->body).as_object().at("digest").as_string());
  const json::object wasm{{"module", setup.digest}};
  const json::object image{{"image", "nebula-fn-hello:latest"}};
  if (auto st = put_function(client, "soak-hello", {{"wasm", wasm}}); !st) return std::move(st).error();
  std::vector<std::string> names = {"soak-hello"};
  if (docker) {
    json::object warm{{"docker", image},
                      {"docker_pool", json::object{{"min_warm", 1}, {"max_warm", 4}, {"idle_timeout_s", 60}}}};
    if (auto st = put_function(client, "soak-warm", warm); !st) return std::move(st).error();
    if (auto st = put_function(client, "soak-cold", {{"docker", image}}); !st) {
      return std::move(st).error();
    }
    names.insert(names.end(), {"soak-warm", "soak-cold"});
  }
  // Each function's first answer is the one every later call must repeat.
  for (const auto& name : names) {
    auto res = client.request("POST", "/v1/functions/" + name + "/invoke", std::string(kInput),
                              "application/octet-stream");
    if (!res || res->status != 200) {
      return make_error(ErrorKind::kInternal,
                        "the first call of " + name + " failed: " +
                            (res ? std::to_string(res->status) + " " + res->body : res.error().message));
    }
    setup.reference[name] = res->body;
  }
  return setup;
}

// One client: the weighted mix until `until`.
void client_loop(const http::Client& client, const Setup& setup, unsigned id, bool docker,
                 SteadyClock::time_point until, Results& results,
                 std::atomic<std::uint64_t>& completed) {
  std::mt19937 rng(id * 7919U + 17U);
  const int* weights = docker ? kWeights : kWeightsWithoutDocker;
  std::discrete_distribution<int> pick(weights, weights + static_cast<int>(Kind::kCount));
  std::uint64_t throwaways = 0;
  auto invoke = [&client](const std::string& name) {
    return client.request("POST", "/v1/functions/" + name + "/invoke", std::string(kInput),
                          "application/octet-stream");
  };
  auto same_as = [&setup](const std::string& name) {
    const std::string& want = setup.reference.at(name);
    return [&want](const std::string& body) { return body == want; };
  };
  auto is_json = [](char open) {
    return [open](const std::string& body) {
      boost::system::error_code ec;
      auto doc = json::parse(body, ec);
      return !ec && (open == '[' ? doc.is_array() : doc.is_object());
    };
  };
  while (SteadyClock::now() < until) {
    const auto kind = static_cast<Kind>(pick(rng));
    Tally t;
    switch (kind) {
      case Kind::kWasm:
        t = check(results, "wasm", invoke("soak-hello"), 200, same_as("soak-hello"));
        break;
      case Kind::kWarm:
        t = check(results, "docker-warm", invoke("soak-warm"), 200, same_as("soak-warm"));
        break;
      case Kind::kCold:
        t = check(results, "docker-cold", invoke("soak-cold"), 200, same_as("soak-cold"));
        break;
      case Kind::kThrowaway: {
        const std::string name =
            "soak-tmp-" + std::to_string(id) + "-" + std::to_string(throwaways++);
        const json::object manifest{{"wasm", json::object{{"module", setup.digest}}}};
        auto put = client.request("PUT", "/v1/functions/" + name, json::serialize(manifest),
                                  "application/json");
        t = check(results, "deploy", put, 201, [](const std::string&) { return true; });
        if (t.ok == 1) {
          const Tally call =
              check(results, "throwaway invoke", invoke(name), 200, same_as("soak-hello"));
          const Tally del = check(results, "delete", client.request("DELETE", "/v1/functions/" + name),
                                  204, [](const std::string&) { return true; });
          t.ok = call.ok & del.ok;
          t.platform_5xx += call.platform_5xx + del.platform_5xx;
          t.wrong += call.wrong + del.wrong;
          t.transport += call.transport + del.transport;
        }
        break;
      }
      case Kind::kRecords:
        t = check(results, "records",
                  client.request("GET", "/v1/invocations?function=soak-hello&limit=20"), 200,
                  is_json('{'));
        break;
      case Kind::kRead:
        t = check(results, "read", client.request("GET", "/v1/functions/soak-hello"), 200,
                  is_json('{'));
        break;
      case Kind::kMetrics:
        t = check(results, "metrics", client.request("GET", "/metrics"), 200,
                  [](const std::string& body) {
                    return body.find("nebula_invocations_total") != std::string::npos;
                  });
        break;
      case Kind::kCount: break;
    }
    results.count(kind, t);
    completed.fetch_add(1, std::memory_order_relaxed);
  }
}

std::uint64_t file_size_or_zero(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// Our containers on the engine: every one labelled with a soak- function.
std::int64_t our_containers(docker::Client* engine) {
  if (engine == nullptr) return -1;
  auto list = engine->list_containers(docker::kFunctionLabel);
  if (!list) return -1;
  std::int64_t n = 0;
  for (const auto& c : *list) {
    auto it = c.labels.find(docker::kFunctionLabel);
    if (it != c.labels.end() && it->second.starts_with("soak-")) ++n;
  }
  return n;
}

std::optional<Sample> take_sample(const http::Client& client, const fs::path& data_dir,
                                  docker::Client* engine, double t_s, std::uint64_t requests) {
  auto res = client.request("GET", "/v1/status");
  if (!res || res->status != 200) return std::nullopt;
  boost::system::error_code ec;
  auto doc = json::parse(res->body, ec);
  if (ec || !doc.is_object()) return std::nullopt;
  const auto& st = doc.as_object();
  const auto& process = st.at("process").as_object();
  Sample s;
  s.t_s = t_s;
  s.rss_bytes = process.at("rss_bytes").to_number<std::uint64_t>();
  s.threads = process.at("threads").to_number<std::uint64_t>();
  s.open_fds = process.at("open_fds").to_number<std::uint64_t>();
  s.warm_containers = st.at("docker").as_object().at("warm_containers").to_number<std::uint64_t>();
  s.db_bytes = file_size_or_zero(data_dir / "nebula.db");
  s.wal_bytes = file_size_or_zero(data_dir / "nebula.db-wal");
  s.engine_containers = our_containers(engine);
  s.requests = requests;
  return s;
}

// Growth of `field` over the final window: the mean of its second half
// against the mean of its first half.
template <class Field>
double growth(const std::vector<Sample>& samples, double end_s, double window_s, Field field) {
  double first = 0, second = 0;
  int n_first = 0, n_second = 0;
  for (const auto& s : samples) {
    if (s.t_s < end_s - window_s) continue;
    if (s.t_s < end_s - window_s / 2) {
      first += static_cast<double>(field(s));
      ++n_first;
    } else {
      second += static_cast<double>(field(s));
      ++n_second;
    }
  }
  if (n_first == 0 || n_second == 0 || first <= 0) return 0;
  return (second / n_second) / (first / n_first) - 1.0;
}

json::object sample_json(const Sample& s) {
  return {{"t_s", s.t_s},           {"rss_bytes", s.rss_bytes},
          {"threads", s.threads},   {"open_fds", s.open_fds},
          {"db_bytes", s.db_bytes}, {"wal_bytes", s.wal_bytes},
          {"warm_containers", s.warm_containers},
          {"engine_containers", s.engine_containers},
          {"requests", s.requests}};
}

int run(const Options& o) {
  std::error_code ec;
  const fs::path self_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  const fs::path nebula = o.nebula.empty() ? self_dir.parent_path() / "nebula" : fs::path(o.nebula);
  const fs::path examples =
      o.examples.empty() ? self_dir.parent_path() / "examples" : fs::path(o.examples);
  auto work = base::TempDir::create("nebula-soak-");
  if (!work) {
    std::fprintf(stderr, "nebula-soak: %s\n", work.error().message.c_str());
    return 2;
  }
  std::vector<std::string> args;
  if (o.no_docker) {
    args.emplace_back("--no-docker");
  } else {
    args.insert(args.end(), {"--docker-socket", o.docker_socket});
  }
  // Enough room that 100 clients never meet the admission limit.
  args.insert(args.end(), {"--max-queue", "4096"});
  auto server = bench::ServerChild::start(nebula.string(), work->path(), args);
  if (!server) {
    std::fprintf(stderr, "nebula-soak: %s\n", server.error().message.c_str());
    return 2;
  }
  const fs::path data_dir = work->path() / "data";
  const http::Client client(server->url(), "", std::chrono::seconds(60));
  std::optional<docker::Client> engine;
  if (!o.no_docker) engine.emplace(docker::ClientOptions{.socket_path = o.docker_socket});
  docker::Client* engine_ptr = engine ? &*engine : nullptr;

  auto setup = deploy(client, examples, !o.no_docker);
  if (!setup) {
    std::fprintf(stderr, "nebula-soak: %s\nserver log:\n%s\n", setup.error().message.c_str(),
                 server->log_tail().c_str());
    return 2;
  }
  std::fprintf(stderr, "soak: %u clients for %.0f s against %s (%s)\n", o.clients, o.duration_s,
               server->url().c_str(), o.no_docker ? "wasm only" : "wasm and docker");

  Results results;
  std::atomic<std::uint64_t> completed{0};
  const auto start = SteadyClock::now();
  const auto until = start + std::chrono::milliseconds(static_cast<long>(o.duration_s * 1000));
  std::vector<std::thread> clients;
  clients.reserve(o.clients);
  for (unsigned i = 0; i < o.clients; ++i) {
    clients.emplace_back([&client, &setup, i, &o, until, &results, &completed] {
      client_loop(client, *setup, i, !o.no_docker, until, results, completed);
    });
  }
  std::vector<Sample> samples;
  std::uint64_t missed_samples = 0;
  auto elapsed = [&start] {
    return std::chrono::duration<double>(SteadyClock::now() - start).count();
  };
  for (double next = 0; SteadyClock::now() < until; next += o.sample_s) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(static_cast<long>(next * 1000)));
    if (auto s = take_sample(client, data_dir, engine_ptr, elapsed(), completed.load())) {
      std::fprintf(stderr, "  %5.0fs  %8llu requests  rss %6.1f MiB  %3llu threads  %4llu fds  "
                           "db %llu KiB  wal %llu KiB  containers %lld\n",
                   s->t_s, static_cast<unsigned long long>(s->requests),
                   static_cast<double>(s->rss_bytes) / (1 << 20),
                   static_cast<unsigned long long>(s->threads),
                   static_cast<unsigned long long>(s->open_fds),
                   static_cast<unsigned long long>(s->db_bytes >> 10),
                   static_cast<unsigned long long>(s->wal_bytes >> 10),
                   static_cast<long long>(s->engine_containers));
      samples.push_back(*s);
    } else {
      ++missed_samples;
    }
  }
  for (auto& t : clients) t.join();
  const double run_s = elapsed();
  if (auto s = take_sample(client, data_dir, engine_ptr, run_s, completed.load())) {
    samples.push_back(*s);
  }

  const int server_exit = server->stop();
  // A server that stopped cleanly removed its warm containers; anything of
  // ours still on the engine leaked.
  const std::int64_t leaked = our_containers(engine_ptr);

  const double window_s = std::min(300.0, run_s / 2);
  const double rss_growth =
      growth(samples, run_s, window_s, [](const Sample& s) { return s.rss_bytes; });
  const double fd_growth =
      growth(samples, run_s, window_s, [](const Sample& s) { return s.open_fds; });
  std::uint64_t max_wal = 0;
  for (const auto& s : samples) max_wal = std::max(max_wal, s.wal_bytes);
  constexpr std::uint64_t kWalBound = 64ULL << 20;
  Tally total;
  json::object kinds;
  const auto tallies = results.tallies();
  for (std::size_t k = 0; k < tallies.size(); ++k) {
    const Tally& t = tallies[k];
    total.ok += t.ok;
    total.platform_5xx += t.platform_5xx;
    total.wrong += t.wrong;
    total.transport += t.transport;
    kinds[kKindNames[k]] = json::object{{"ok", t.ok},
                                        {"platform_5xx", t.platform_5xx},
                                        {"wrong", t.wrong},
                                        {"transport", t.transport}};
  }
  const bool pass = total.platform_5xx == 0 && total.wrong == 0 && total.transport == 0 &&
                    leaked <= 0 && rss_growth < 0.10 && fd_growth < 0.10 && server_exit == 0 &&
                    max_wal <= kWalBound && total.ok > 0;
  json::array sample_list;
  for (const auto& s : samples) sample_list.push_back(sample_json(s));
  json::array failure_list;
  for (const auto& f : results.failures()) failure_list.emplace_back(f);
  const json::object report{
      {"clients", o.clients},
      {"duration_s", run_s},
      {"docker", !o.no_docker},
      {"requests", total.ok + total.platform_5xx + total.wrong + total.transport},
      {"ok", total.ok},
      {"platform_5xx", total.platform_5xx},
      {"wrong", total.wrong},
      {"transport_errors", total.transport},
      {"by_kind", std::move(kinds)},
      {"window_s", window_s},
      {"rss_growth", rss_growth},
      {"fd_growth", fd_growth},
      {"max_wal_bytes", max_wal},
      {"leaked_containers", leaked},
      {"server_exit", server_exit},
      {"missed_samples", missed_samples},
      {"samples", std::move(sample_list)},
      {"failures", std::move(failure_list)},
      {"pass", pass}};
  if (auto st = base::write_file(o.out, json::serialize(report) + "\n"); !st) {
    std::fprintf(stderr, "nebula-soak: %s\n", st.error().message.c_str());
  }

  const Sample* first = samples.empty() ? nullptr : &samples.front();
  const Sample* last = samples.empty() ? nullptr : &samples.back();
  std::printf("soak: %llu requests in %.0f s (%.0f/s) from %u clients: %llu ok, %llu platform 5xx, "
              "%llu wrong, %llu transport errors\n",
              static_cast<unsigned long long>(total.ok + total.platform_5xx + total.wrong +
                                              total.transport),
              run_s, static_cast<double>(total.ok) / run_s, o.clients,
              static_cast<unsigned long long>(total.ok),
              static_cast<unsigned long long>(total.platform_5xx),
              static_cast<unsigned long long>(total.wrong),
              static_cast<unsigned long long>(total.transport));
  if (first != nullptr && last != nullptr) {
    std::printf("server: rss %.1f → %.1f MiB, fds %llu → %llu, threads %llu → %llu, "
                "wal %llu → %llu KiB\n",
                static_cast<double>(first->rss_bytes) / (1 << 20),
                static_cast<double>(last->rss_bytes) / (1 << 20),
                static_cast<unsigned long long>(first->open_fds),
                static_cast<unsigned long long>(last->open_fds),
                static_cast<unsigned long long>(first->threads),
                static_cast<unsigned long long>(last->threads),
                static_cast<unsigned long long>(first->wal_bytes >> 10),
                static_cast<unsigned long long>(last->wal_bytes >> 10));
  }
  std::printf("growth over the last %.0f s (second half vs first): rss %+.1f %%, fds %+.1f %%; "
              "largest WAL %.1f MiB; containers left behind: %lld; server exit %d\n",
              window_s, 100 * rss_growth, 100 * fd_growth,
              static_cast<double>(max_wal) / (1 << 20), static_cast<long long>(leaked),
              server_exit);
  for (const auto& f : results.failures()) std::printf("  failure: %s\n", f.c_str());
  std::printf("%s (%s)\n", pass ? "PASS" : "FAIL", o.out.c_str());
  return pass ? 0 : 1;
}

}  // namespace
}  // namespace nebula::soak

int main(int argc, char** argv) {
  nebula::soak::Options o;
  CLI::App app{"Mixed load for a long time against a nebula server of its own; checks that "
               "nothing leaks and every answer is right"};
  app.add_option("--clients", o.clients, "Concurrent clients")->capture_default_str();
  app.add_option("--duration-s", o.duration_s, "Seconds of load")->capture_default_str();
  app.add_option("--sample-s", o.sample_s, "Seconds between samples")->capture_default_str();
  app.add_flag("--no-docker", o.no_docker, "wasm only");
  app.add_option("--nebula", o.nebula, "The nebula binary (default: ../nebula)");
  app.add_option("--examples", o.examples, "The built examples (default: ../examples)");
  app.add_option("--docker-socket", o.docker_socket, "Docker Engine API socket")
      ->capture_default_str();
  app.add_option("--out", o.out, "Where the JSON report goes")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.clients == 0 || o.duration_s <= 0 || o.sample_s <= 0) {
    std::fprintf(stderr, "nebula-soak: --clients, --duration-s and --sample-s must be positive\n");
    return 2;
  }
  return nebula::soak::run(o);
}
