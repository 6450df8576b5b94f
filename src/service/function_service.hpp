#pragma once

// The function service: the one owner of deployed functions.
//
// It holds the only in-memory table of functions and runs every sequence
// that touches a function across the store and the runtimes: deploy,
// replace, remove, invoke, list. The HTTP layer maps requests onto these
// calls and results onto responses; the runtimes see only the prepared
// variants the service hands them. Validation (name, manifest, variant,
// body size) happens here, once.
//
// Deploys are all-or-nothing: the new variants are prepared beside the old
// ones, the store is written, and only then is the table entry swapped and
// the old variants retired. A failure at any step retires what was
// prepared and leaves the old version serving; nothing needs re-preparing.
//
// Threads: admit() and input_limit() are cheap and never block (they run
// on I/O threads); everything else blocks on disk, the engine or the Docker
// socket and belongs on the worker pools the service owns. Deploys and
// removals are serialised; invocations run concurrently with everything.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/cgi.hpp"
#include "core/function.hpp"
#include "core/invoker.hpp"
#include "core/result.hpp"
#include "core/runtime.hpp"
#include "docker/runtime.hpp"
#include "metrics/process.hpp"
#include "metrics/registry.hpp"
#include "service/recorder.hpp"
#include "store/blob_store.hpp"
#include "store/store.hpp"
#include "wasm/module_cache.hpp"
#include "wasm/runtime.hpp"

namespace nebula::service {

using Clock = std::chrono::steady_clock;

// One deployed function: its stored definition and the variants the
// runtimes prepared for it. Immutable once published in the table.
struct Deployment {
  Function function;
  std::shared_ptr<PreparedVariant> wasm;    // null: none declared, or not ready
  std::shared_ptr<PreparedVariant> docker;  // null: none declared, or not ready
  // Why a declared variant is not ready (Docker disabled on this server, or
  // its preparation failed when the server started).
  std::string wasm_unready;
  std::string docker_unready;
};

// What GET /v1/functions[/{name}] shows of a function.
struct FunctionView {
  std::shared_ptr<const Deployment> deployment;
  // Unset in what a deploy returns (a new version has no history yet).
  std::optional<store::FunctionStats> stats;
  std::size_t warm_containers = 0;
};

struct DeployResult {
  FunctionView function;
  bool created = false;  // false: an existing function was replaced
};

struct ModuleInfo {
  std::string digest;  // "sha256:<hex>"
  std::size_t size = 0;
  WasmKind kind = WasmKind::kModule;
};

// An invocation as it arrives: transport-free.
struct InvokeInput {
  std::string function;
  std::optional<std::string> runtime;  // ?runtime=; unset: the function's default
  RequestMeta request;
  std::string authority = "localhost";  // the Host the client named
  std::string body;
  Clock::time_point received;  // when the body had been read
  // Where an HTTP function streams its response; borrowed until run()
  // returns. Command programs answer through the Invocation instead.
  ResponseSink* sink = nullptr;
};

// An admitted invocation, waiting for a worker. Holds its function's
// deployment, so replacing the function meanwhile does not affect it, and
// its admission ticket. Move-only.
class PendingInvocation {
 public:
  PendingInvocation(PendingInvocation&&) noexcept = default;
  PendingInvocation& operator=(PendingInvocation&&) = delete;
  PendingInvocation(const PendingInvocation&) = delete;
  PendingInvocation& operator=(const PendingInvocation&) = delete;
  ~PendingInvocation() = default;

  [[nodiscard]] RuntimeKind runtime() const noexcept { return kind_; }
  // An HTTP function's invocation: its response goes to the sink.
  [[nodiscard]] bool http() const noexcept { return request_.http.has_value(); }
  [[nodiscard]] const std::string& id() const noexcept { return request_.id; }

 private:
  friend class FunctionService;
  PendingInvocation(std::shared_ptr<const Deployment> deployment, RuntimeKind kind,
                    Invoker::Ticket ticket, InvocationRequest request, Clock::time_point received)
      : deployment_(std::move(deployment)),
        kind_(kind),
        ticket_(std::move(ticket)),
        request_(std::move(request)),
        received_(received) {}

  std::shared_ptr<const Deployment> deployment_;
  RuntimeKind kind_;
  Invoker::Ticket ticket_;
  InvocationRequest request_;
  Clock::time_point received_;
};

struct Readiness {
  bool ready = false;
  std::vector<std::pair<std::string, std::string>> checks;  // name -> "ok" or why not
};

struct ServerInfo {
  std::string version;
  std::string wasmtime;
  std::string node;
  bool docker_available = false;
  std::string docker_version;  // empty when unavailable
  std::string docker_api_version;
};

// What GET /v1/status shows: what this server costs and holds right now.
struct ServerStatus {
  std::string node;
  std::int64_t uptime_s = 0;
  metrics::Footprint process;  // this server
  std::size_t functions = 0;
  std::size_t wasm_ready = 0;      // prepared wasm variants
  std::size_t wasm_loaded = 0;     // compiled programs in memory (idle ones are let go)
  std::size_t instance_slots = 0;  // the pooling allocator's reserved slots
  bool docker_enabled = false;
  std::size_t warm_containers = 0;
  // The Docker engine's own processes (dockerd, containerd, shims); unset
  // without Docker.
  std::optional<metrics::Footprint> docker_engine;
  std::string store;
  std::size_t records_waiting = 0;
  std::uint64_t data_dir_bytes = 0;
};

struct ServiceOptions {
  // Invocations admitted (queued + running) at once; more get 429.
  std::size_t max_pending = 1024;
  // Threads for wasm invocations, SQLite and compilation.
  unsigned workers = 4;
  // Threads for docker invocations, which mostly wait on the engine: their
  // own pool, so that a burst of slow container starts never queues wasm.
  unsigned docker_workers = 16;
  // This server's name in GET /v1/info, in X-Nebula-Node and in every
  // record (the host name by default).
  std::string node;
  // For GET /v1/status only: the data directory and the engine's slots.
  std::filesystem::path data_dir;
  std::size_t instance_slots = 0;
};

// True for a header an HTTP function receives: not hop-by-hop (RFC 9110
// 7.6.1), which belongs to each connection, not to the request.
[[nodiscard]] bool forwarded_to_function(std::string_view header) noexcept;

// Borrowed parts; they outlive the service.
struct ServiceParts {
  store::Store& store;
  wasm::ModuleCache& modules;
  wasm::Runtime& wasm;
  docker::Runtime* docker = nullptr;  // null: started without Docker
  metrics::Registry& metrics;
};

class FunctionService {
 public:
  FunctionService(ServiceParts parts, ServiceOptions options);
  // Joins the worker pools (waiting for running work) and retires every
  // variant. The parts must still be alive.
  ~FunctionService();
  FunctionService(const FunctionService&) = delete;
  FunctionService& operator=(const FunctionService&) = delete;

  // Loads every stored function and prepares its variants (compiled
  // modules come from the on-disk cache; nothing recompiles). A variant
  // that cannot be prepared is logged and answers 503 with the reason; the
  // function stays listed. Blocking: call before serving.
  void restore();

  // With a shared store, follows the changes other nodes make: a function
  // deployed or replaced elsewhere is prepared here (compiled from the
  // stored module unless this node's cache has it) and swapped into the
  // table; one deleted elsewhere leaves it. A full comparison runs after
  // every reconnect and periodically. Changes are applied on the worker
  // pool, serialised with local deploys. Does nothing for a store only
  // this node writes.
  void follow();

  // --- modules ------------------------------------------------------------

  // Validates (compiles and links) a module and stores it by digest.
  [[nodiscard]] Result<ModuleInfo> upload_module(std::string_view bytes);

  // --- functions ----------------------------------------------------------

  // Creates or replaces `name` from a manifest document.
  [[nodiscard]] Result<DeployResult> deploy(std::string_view name, std::string_view manifest_json);
  // Uploads a module and deploys it as a wasm-only function with defaults.
  [[nodiscard]] Result<DeployResult> deploy_module(std::string_view name,
                                                   std::string_view module_bytes);
  [[nodiscard]] Result<FunctionView> get(std::string_view name);
  [[nodiscard]] Result<std::vector<FunctionView>> list();
  // kNotFound when no such function exists. Stops its warm containers.
  [[nodiscard]] Status remove(std::string_view name);

  // --- invocations --------------------------------------------------------

  // The body limit of an invocation of `name` (its max_input_bytes, or the
  // default for an unknown function, whose invocation fails anyway). Lets
  // the transport refuse an oversized body before reading it.
  [[nodiscard]] std::uint64_t input_limit(std::string_view name) const;

  // Looks the function up, picks and checks the variant, checks the body
  // size and admits the invocation. Never blocks.
  [[nodiscard]] Result<PendingInvocation> admit(InvokeInput input);
  // The pool an admitted invocation must run on.
  [[nodiscard]] boost::asio::thread_pool& pool_for(const PendingInvocation& pending) noexcept;
  // Runs it (blocking, on that pool) and records it.
  [[nodiscard]] Result<Invocation> run(PendingInvocation pending);

  [[nodiscard]] Result<std::vector<InvocationRecord>> invocations(
      const store::InvocationQuery& query);
  [[nodiscard]] Result<InvocationRecord> invocation(std::string_view id);

  // --- operations ---------------------------------------------------------

  [[nodiscard]] Readiness readiness();
  [[nodiscard]] ServerInfo info();
  // Blocking: reads /proc and walks the data directory.
  [[nodiscard]] ServerStatus status();
  // The Prometheus exposition, with the gauges brought up to date.
  [[nodiscard]] std::string metrics_text();

  [[nodiscard]] std::size_t function_count() const;
  // This node's name.
  [[nodiscard]] const std::string& node() const noexcept { return options_.node; }
  // Blocking work that is not an invocation (store, compilation).
  [[nodiscard]] boost::asio::thread_pool& workers() noexcept { return workers_; }
  // Waits for every queued and running job of both pools.
  void join();

 private:
  using DeploymentPtr = std::shared_ptr<const Deployment>;

  [[nodiscard]] DeploymentPtr find(std::string_view name) const;
  [[nodiscard]] Result<DeployResult> deploy_manifest(std::string_view name, Manifest manifest);
  [[nodiscard]] Result<std::shared_ptr<Deployment>> prepare(const Function& function);
  // Prepares a stored function variant by variant: a variant that fails is
  // kept as unready with the reason, the function stays.
  [[nodiscard]] std::shared_ptr<Deployment> prepare_stored(const Function& function,
                                                           std::string_view when);
  // Makes the table's entry for `stored` match it; callers hold
  // deploy_mutex_.
  void apply_stored(const Function& stored);
  // Removes `name` from the table (not from the store); callers hold
  // deploy_mutex_. False when it was not there.
  bool drop(std::string_view name);
  // The store's version of one function, or of all, applied to the table.
  void sync(const std::string& name);
  void sync_all();
  void retire(const Deployment& deployment);
  [[nodiscard]] std::size_t warm_containers(const Deployment& deployment) const;
  [[nodiscard]] Result<FunctionView> view(DeploymentPtr deployment);

  ServiceParts parts_;
  ServiceOptions options_;
  Recorder recorder_;
  Invoker invoker_;
  boost::asio::thread_pool workers_;
  boost::asio::thread_pool docker_workers_;

  std::mutex deploy_mutex_;  // serialises deploy and remove
  const Clock::time_point started_ = Clock::now();
  mutable std::shared_mutex table_mutex_;
  std::map<std::string, DeploymentPtr, std::less<>> table_;  // guarded by table_mutex_
};

}  // namespace nebula::service
