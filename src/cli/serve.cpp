#include "cli/serve.hpp"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "base/console.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "service/platform.hpp"

namespace nebula::cli {
namespace {

using base::fail;

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

}  // namespace

int serve(const ServeOptions& options, const std::string& self_path) {
  auto level = spdlog::level::from_str(options.log_level);
  spdlog::set_default_logger(spdlog::stderr_color_mt("nebula"));
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  http::ServerOptions server_options;
  if (!split_listen(options.listen, server_options.address, server_options.port)) {
    return fail("--listen expects HOST:PORT (e.g. 127.0.0.1:8080), got '" + options.listen + "'");
  }
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  const unsigned workers = options.workers != 0 ? options.workers : 2 * cores + 4;
  const unsigned io_threads = options.io_threads != 0 ? options.io_threads : std::min(cores, 4U);

  service::PlatformOptions platform_options;
  platform_options.data_dir = options.data_dir;
  platform_options.max_records = options.max_records;
  platform_options.max_pending = options.max_queue;
  platform_options.workers = workers;
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
  http::Api api((*platform)->service(), http::ApiOptions{.token = options.token});

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
  spdlog::info("listening on {} (data {}, {} workers, {} I/O threads, docker {}{})", url,
               options.data_dir, workers, io_threads, (*platform)->docker() != nullptr ? "on" : "off",
               options.token.empty() ? "" : ", token required for management");
  std::printf("listening on %s\n", url.c_str());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (unsigned i = 1; i < io_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  (*platform)->service().join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace nebula::cli
