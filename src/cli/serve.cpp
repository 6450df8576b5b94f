#include "cli/serve.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <malloc.h>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "base/console.hpp"
#include "base/files.hpp"
#include "http/api.hpp"
#include "http/callback.hpp"
#include "http/server.hpp"
#include "service/platform.hpp"

namespace nebula::cli {
namespace {

using base::fail;

// glibc raises its mmap and trim thresholds as large blocks come and go
// (up to 32 and 64 MiB): after compiling a large component, tens of MiB of
// freed heap then stay in the arenas of the threads that compiled, and an
// idle server keeps them resident. Fixed thresholds keep large blocks in
// mappings of their own and let arenas shrink once their top is free.
// Measured: a server that deployed the Python example went from 63 to
// 8 MiB of anonymous memory at rest. And one arena per core rather than
// eight: each arena a thread ever used keeps about a MiB of live scraps.
// Called before any thread starts.
void return_memory_promptly() {
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
  ::mallopt(M_ARENA_MAX, static_cast<int>(std::max(2U, std::thread::hardware_concurrency())));
}

bool split_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  try {
    unsigned long p = std::stoul(listen.substr(colon + 1));
    if (p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// Every connection holds a file descriptor, and the soft limit (often
// 1024) would cap a server long before its memory does. Raising it to the
// hard limit needs no privilege. Returns the soft limit now in force (0:
// unknown, RLIM_INFINITY: none).
rlim_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("cannot read the open file limit: {}", std::strerror(errno));
    return 0;
  }
  if (limit.rlim_cur >= limit.rlim_max) {
    spdlog::info("open file limit: {} (the hard limit)", limit.rlim_cur);
    return limit.rlim_cur;
  }
  rlimit raised = limit;
  raised.rlim_cur = limit.rlim_max;
  if (raised.rlim_cur == RLIM_INFINITY) {
    // The kernel refuses an unlimited soft limit for descriptors: its own
    // ceiling is fs.nr_open.
    raised.rlim_cur = 1U << 20U;
    if (auto text = base::read_file("/proc/sys/fs/nr_open")) {
      try {
        raised.rlim_cur = std::stoull(*text);
      } catch (const std::exception&) {
      }
    }
  }
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    spdlog::warn("open file limit stays {}: raising it to the hard limit {} failed: {}",
                 limit.rlim_cur, limit.rlim_max, std::strerror(errno));
    return limit.rlim_cur;
  }
  spdlog::info("open file limit raised from {} to {} (the hard limit)", limit.rlim_cur,
               raised.rlim_cur);
  return raised.rlim_cur;
}

// At most as many connections as descriptors are left once the server's
// own (store, Docker engine connections, compiled-module files, log) are
// set aside.
std::size_t fit_connections(std::size_t wanted, rlim_t open_files) {
  constexpr rlim_t kReserved = 512;
  if (open_files == 0 || open_files == RLIM_INFINITY) return wanted;
  const auto room = static_cast<std::size_t>(
      open_files > 2 * kReserved ? open_files - kReserved : std::max<rlim_t>(open_files / 2, 1));
  if (wanted <= room) return wanted;
  spdlog::warn("--max-connections {} lowered to {}: the open file limit is {} (raise it with "
               "ulimit -n, or the hard limit of the service manager)",
               wanted, room, open_files);
  return room;
}

void setup_logging(const std::string& level) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("nebula"));
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

// Serves `api` until SIGINT/SIGTERM, then finishes in-flight requests and
// joins every thread. `describe` adds to the "listening" log line.
int run_server(service::Platform& platform, http::Handler& api,
               http::ServerOptions server_options, unsigned io_threads,
               const std::string& describe) {
  server_options.max_connections =
      fit_connections(server_options.max_connections, raise_open_file_limit());
  boost::asio::io_context ioc(static_cast<int>(io_threads));
  http::Server server(ioc, server_options, api);
  auto endpoint = server.listen();
  if (!endpoint) return fail(endpoint.error().message);
  server.start();

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&server](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("received signal {}: finishing in-flight requests, then stopping", signal);
    server.stop();
  });

  const auto url =
      "http://" + endpoint->address().to_string() + ":" + std::to_string(endpoint->port());
  spdlog::info("listening on {} ({}, at most {} connections)", url, describe,
               server_options.max_connections);
  std::printf("listening on %s\n", url.c_str());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (unsigned i = 1; i < io_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  platform.service().join();
  spdlog::info("stopped");
  return 0;
}

unsigned default_workers(unsigned given) {
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  return given != 0 ? given : 2 * cores + 4;
}

unsigned default_io_threads(unsigned given) {
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  return given != 0 ? given : std::min(cores, 4U);
}

}  // namespace

int serve(const ServeOptions& options, const std::string& self_path) {
  setup_logging(options.log_level);
  return_memory_promptly();
  http::ServerOptions server_options;
  if (!split_listen(options.listen, server_options.address, server_options.port)) {
    return fail("--listen expects HOST:PORT (e.g. 127.0.0.1:8080), got '" + options.listen + "'");
  }
  const unsigned workers = default_workers(options.workers);
  const unsigned io_threads = default_io_threads(options.io_threads);

  service::PlatformOptions platform_options;
  platform_options.data_dir = options.data_dir;
  platform_options.store = options.store;
  platform_options.node = options.node_id;
  platform_options.max_records = options.max_records;
  platform_options.max_pending = options.max_queue;
  platform_options.workers = workers;
  platform_options.wasm_unload_after = std::chrono::seconds(options.wasm_idle_s);
  platform_options.max_versions = options.max_versions;
  platform_options.secrets_key_file = options.secrets_key_file;
  platform_options.async_workers = options.async_workers;
  platform_options.post_callback = http::post_task_callback;
  // A docker invocation holds its thread for hundreds of ms while the
  // engine works; these threads mostly sleep.
  platform_options.docker_workers = std::max(16U, workers);
  if (!options.no_docker) {
    docker::RuntimeOptions docker_options;
    docker_options.client.socket_path = options.docker_socket;
    docker_options.watchdog_path = options.watchdog;
    if (docker_options.watchdog_path.empty()) {
      // Beside this executable: the build puts nebula-watchdog there.
      std::error_code ec;
      auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
      if (ec) self = self_path;
      docker_options.watchdog_path = (self.parent_path() / "nebula-watchdog").string();
    }
    platform_options.docker = std::move(docker_options);
  }
  auto platform = service::Platform::open(std::move(platform_options));
  if (!platform) return fail(platform.error().message);
  http::Api api((*platform)->service(),
                http::ApiOptions{.token = options.token, .single_function = {}});
  server_options.node = (*platform)->service().node();
  server_options.max_connections = options.max_connections;
  const std::string describe = "node " + server_options.node + ", " +
                               (*platform)->store().describe() + ", cache " + options.data_dir +
                               ", " + std::to_string(workers) + " workers, " +
                               std::to_string(io_threads) + " I/O threads, docker " +
                               ((*platform)->docker() != nullptr ? "on" : "off") +
                               (options.token.empty() ? "" : ", token required for management");
  return run_server(**platform, api, server_options, io_threads, describe);
}

int serve_one(const ServeOneOptions& options) {
  setup_logging(options.log_level);
  return_memory_promptly();
  http::ServerOptions server_options;
  if (!split_listen(options.listen, server_options.address, server_options.port)) {
    return fail("--listen expects HOST:PORT (e.g. 127.0.0.1:8080), got '" + options.listen + "'");
  }
  auto bytes = base::read_file(options.module_path);
  if (!bytes) return fail("cannot read " + options.module_path);

  service::PlatformOptions platform_options;
  platform_options.data_dir = options.data_dir;
  platform_options.workers = default_workers(options.workers);
  auto platform = service::Platform::open(std::move(platform_options));
  if (!platform) return fail(platform.error().message);
  service::FunctionService& service = (*platform)->service();

  auto module = service.upload_module(*bytes);
  if (!module) return fail(options.module_path + ": " + module.error().message);
  if (module->kind != WasmKind::kHttp) {
    return fail(options.module_path +
                " is not an HTTP handler (it exports no wasi:http/incoming-handler): run it with "
                "`nebula run " +
                options.module_path + "`");
  }
  boost::json::object manifest{{"wasm", boost::json::object{{"module", module->digest}}}};
  boost::json::object env;
  for (const auto& kv : options.env) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail("--env expects KEY=VALUE, got '" + kv + "'");
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  manifest["env"] = std::move(env);
  boost::json::array outbound;
  for (const auto& host : options.allowed_outbound_hosts) outbound.emplace_back(host);
  manifest["allowed_outbound_hosts"] = std::move(outbound);
  boost::json::object limits;
  if (options.timeout_ms) limits["timeout_ms"] = *options.timeout_ms;
  if (options.memory_mb) limits["memory_mb"] = *options.memory_mb;
  manifest["limits"] = std::move(limits);
  const std::string name = "serve-one";
  auto deployed = service.deploy(name, boost::json::serialize(manifest));
  if (!deployed) return fail(deployed.error().message);

  // Every request goes to the one function, its path as the guest's.
  http::Api api(service, http::ApiOptions{.token = {}, .single_function = name});
  return run_server(**platform, api, server_options, default_io_threads(options.io_threads),
                    options.module_path + " as the only route, data " + options.data_dir);
}

}  // namespace nebula::cli
