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

#include "core/invoker.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "metrics/registry.hpp"
#include "store/blob_store.hpp"
#include "store/invocation_id.hpp"
#include "store/registry.hpp"
#include "wasm/engine.hpp"
#include "wasm/module_cache.hpp"
#include "wasm/runtime.hpp"

#ifdef NEBULA_HAVE_DOCKER
#include "docker/runtime.hpp"
#endif

namespace nebula::cli {
namespace {

int fail(const std::string& message) {
  spdlog::critical("{}", message);
  return 1;
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

  // Storage.
  auto blobs = store::BlobStore::open(options.data_dir);
  if (!blobs) return fail("cannot open the blob store: " + blobs.error().message);
  auto registry = store::Registry::open(
      options.data_dir, store::RegistryOptions{.max_records_per_function = options.max_records});
  if (!registry) return fail("cannot open the registry: " + registry.error().message);

  // The wasm runtime: one engine for the process, compiled modules cached
  // beside the blobs under the engine's compatibility key.
  wasm::EngineOptions engine_options;
  engine_options.max_instances = workers + 16;
  auto engine = wasm::Engine::create(engine_options);
  if (!engine) return fail(engine.error().message);
  const std::string engine_key = wasm::Engine::compatibility_key();
  wasm::ModuleCache modules(
      **engine, wasm::ArtifactStorage{
                    .find = [&blobs, &engine_key](
                                std::string_view digest) -> std::optional<std::filesystem::path> {
                      auto path = blobs->compiled_path(digest, engine_key);
                      std::error_code ec;
                      if (path && std::filesystem::exists(*path, ec)) return *path;
                      return std::nullopt;
                    },
                    .save =
                        [&blobs, &engine_key](std::string_view digest, std::string_view bytes) {
                          return blobs->put_compiled(digest, engine_key, bytes);
                        }});
  wasm::Runtime wasm_runtime(**engine, [&modules, &blobs](const std::string& digest) {
    return modules.load(digest, [&blobs, &digest] { return blobs->get(digest); });
  });

  // The docker runtime, unless disabled.
  Runtime* docker = nullptr;
  std::function<std::size_t(std::string_view)> warm_containers;
  std::function<bool()> docker_reachable;
#ifdef NEBULA_HAVE_DOCKER
  std::unique_ptr<docker::Runtime> docker_runtime;
  if (!options.no_docker) {
    std::string watchdog = options.watchdog;
    if (watchdog.empty()) {
      std::error_code ec;
      auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
      if (ec) self = self_path;
      watchdog = (self.parent_path() / "nebula-watchdog").string();
    }
    docker::RuntimeOptions docker_options;
    docker_options.client.socket_path = options.docker_socket;
    docker_options.watchdog_path = watchdog;
    docker_runtime = std::make_unique<docker::Runtime>(std::move(docker_options));
    if (auto st = docker_runtime->ping(); !st) {
      return fail("Docker engine: " + st.error().message);
    }
    // Containers a crashed server left behind.
    if (auto st = docker_runtime->cleanup_leftovers(); !st) {
      spdlog::warn("could not remove leftover containers: {}", st.error().message);
    }
    docker = docker_runtime.get();
    warm_containers = [&docker_runtime](std::string_view fn) {
      return docker_runtime->warm_containers(fn);
    };
    docker_reachable = [&docker_runtime] { return docker_runtime->ping().has_value(); };
  }
#else
  (void)self_path;
  if (!options.no_docker) {
    spdlog::warn("this build has no docker runtime; serving wasm only");
  }
#endif

  metrics::Registry metrics;
  Invoker invoker(
      Invoker::Options{.max_pending = options.max_queue}, &wasm_runtime, docker,
      [] { return store::new_invocation_id(); },
      [&registry, &metrics](const Invocation& inv) {
        const auto& r = inv.record;
        metrics.record_invocation(r.function, r.runtime, r.outcome, r.cold, r.timings);
        if (auto st = (*registry)->add_invocation(r); !st) {
          spdlog::error("invocation {} of {} not recorded: {}", r.id, r.function,
                        st.error().message);
        }
        spdlog::debug(
            "invoke {} {} {} outcome={} exit={} cold={} queue={}us startup={}us "
            "exec={}us total={}us cpu={}us mem={}B",
            r.id, r.function, to_string(r.runtime), to_string(r.outcome), r.exit_code, r.cold,
            r.timings.queue_us, r.timings.startup_us, r.timings.exec_us, r.timings.total_us,
            r.cpu_us, r.max_memory_bytes);
      });

  boost::asio::thread_pool pool(workers);
  // A docker invocation holds its thread for hundreds of ms while the engine
  // works; these threads mostly sleep.
  const unsigned docker_workers = std::max(16U, workers);
  boost::asio::thread_pool docker_pool(docker != nullptr ? docker_workers : 1);
  http::Api api(http::ApiDeps{.registry = **registry,
                              .blobs = *blobs,
                              .modules = modules,
                              .wasm = wasm_runtime,
                              .docker = docker,
                              .invoker = invoker,
                              .metrics = metrics,
                              .workers = pool,
                              .docker_workers = docker_pool,
                              .token = options.token,
                              .warm_containers = warm_containers,
                              .docker_reachable = docker_reachable});
  api.restore();

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
               options.data_dir, workers, io_threads, docker != nullptr ? "on" : "off",
               options.token.empty() ? "" : ", token required for management");
  std::printf("listening on %s\n", url.c_str());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (unsigned i = 1; i < io_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  pool.join();
  docker_pool.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace nebula::cli
