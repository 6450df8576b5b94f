#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include <boost/asio/thread_pool.hpp>

#include "core/function.hpp"
#include "core/invoker.hpp"
#include "core/runtime.hpp"
#include "http/server.hpp"
#include "metrics/registry.hpp"
#include "store/blob_store.hpp"
#include "store/registry.hpp"
#include "wasm/module_cache.hpp"
#include "wasm/runtime.hpp"

namespace nebula::http {

// Everything the API handlers use; owned by `nebula serve`'s wiring and
// outliving the Api.
struct ApiDeps {
  store::Registry& registry;
  store::BlobStore& blobs;
  wasm::ModuleCache& modules;
  wasm::Runtime& wasm;
  Runtime* docker = nullptr;  // null when started with --no-docker
  Invoker& invoker;
  metrics::Registry& metrics;
  // Blocking work: wasm invocations, SQLite, compilation.
  boost::asio::thread_pool& workers;
  // Docker invocations, which mostly wait on the engine: their own pool, so
  // that a burst of slow container starts never queues wasm behind it.
  boost::asio::thread_pool& docker_workers;
  std::string token;  // empty: management routes are open
  // Warm containers of a function (docker pool), for /metrics.
  std::function<std::size_t(std::string_view)> warm_containers;
  // Whether the Docker engine answers, for /readyz.
  std::function<bool()> docker_reachable;
};

// The HTTP API v1 (DESIGN §3). Keeps the deployed functions in memory for
// the invoke path; the registry is the durable copy.
//
// Thread-safety: handle() runs concurrently on the I/O threads; blocking
// work is offloaded to the worker pool. Deploys and deletes are serialised
// by deploy_mutex_ so that the runtimes, the table and the registry agree.
//
// Coroutine parameters are references and no class-type temporary appears in
// a co_await expression: GCC 12 destroys such temporaries twice.
class Api final : public Handler {
 public:
  explicit Api(ApiDeps deps);

  // Loads every function from the registry and prepares its variants
  // (compiled modules come from the cache; nothing recompiles). Failures
  // are logged; the function stays listed. Blocking: call before serving.
  void restore();

  [[nodiscard]] std::uint64_t body_limit(const RequestHeader& header) const override;
  boost::asio::awaitable<Response> handle(Request& request) override;

  [[nodiscard]] std::size_t function_count() const;

 private:
  using FunctionPtr = std::shared_ptr<const Function>;

  [[nodiscard]] FunctionPtr find(std::string_view name) const;

  boost::asio::awaitable<Response> upload_module(Request& request);
  boost::asio::awaitable<Response> put_function(Request& request, const std::string& name);
  boost::asio::awaitable<Response> get_function(const std::string& name);
  boost::asio::awaitable<Response> list_functions();
  boost::asio::awaitable<Response> delete_function(const std::string& name);
  boost::asio::awaitable<Response> invoke(Request& request, const std::string& name,
                                          const std::string& path_info, const std::string& query);
  boost::asio::awaitable<Response> list_invocations(const std::string& query);
  boost::asio::awaitable<Response> get_invocation(const std::string& id);
  boost::asio::awaitable<Response> readiness();
  Response render_metrics();

  // Blocking halves, run on the worker pool.
  Result<std::pair<Function, bool>> deploy(std::string name, Manifest manifest);
  Result<std::string> store_module(const std::string& bytes);

  [[nodiscard]] bool authorized(const Request& request) const;

  ApiDeps deps_;
  std::mutex deploy_mutex_;
  mutable std::shared_mutex table_mutex_;
  std::map<std::string, FunctionPtr, std::less<>> functions_;  // guarded by table_mutex_
};

}  // namespace nebula::http
