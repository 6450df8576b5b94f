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
#include "service/concurrency.hpp"
#include "service/log_hub.hpp"
#include "service/recorder.hpp"
#include "service/secret_box.hpp"
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

// A kept version of a function, for GET /v1/functions/{name}/versions.
struct VersionList {
  std::string function;
  std::uint64_t serving = 0;
  std::vector<store::FunctionVersion> versions;  // newest first
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
  // ?version=N: a kept version other than the serving one, which must have
  // been loaded with load_version() first.
  std::optional<std::uint64_t> version;
  TriggerKind trigger = TriggerKind::kHttp;
  // The function's concurrency slot, taken with try_enter(); admit() takes
  // one itself (or refuses) when this is unset.
  std::optional<Slot> slot;
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
  [[nodiscard]] std::uint64_t version() const noexcept { return deployment_->function.version; }

 private:
  friend class FunctionService;
  PendingInvocation(std::shared_ptr<const Deployment> deployment, RuntimeKind kind,
                    Invoker::Ticket ticket, InvocationRequest request, Clock::time_point received,
                    Slot slot)
      : deployment_(std::move(deployment)),
        kind_(kind),
        ticket_(std::move(ticket)),
        request_(std::move(request)),
        received_(received),
        slot_(std::move(slot)) {}

  std::shared_ptr<const Deployment> deployment_;
  RuntimeKind kind_;
  Invoker::Ticket ticket_;
  InvocationRequest request_;
  Clock::time_point received_;
  Slot slot_;  // released when the invocation is done with
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
  // Threads that run queued async calls and schedule firings.
  unsigned async_workers = 2;
  // With a shared store, how often this node looks for tasks other nodes
  // queued (a local enqueue wakes it at once).
  std::chrono::milliseconds task_poll{1000};
  // Old versions prepared for ?version=N, kept ready at once (least
  // recently used ones are let go).
  std::size_t pinned_versions = 8;
};

// POSTs a finished async call (as GET /v1/invocations/{id} shows it) to its
// callback URL; supplied by the HTTP layer, which owns the client and the
// JSON form. Blocking, on a task thread.
using CallbackPoster = std::function<Status(const store::AsyncTask& task)>;

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
  // Seals and opens secrets; null: secrets are not configured (their routes
  // answer 503 and a manifest naming one is refused).
  const SecretBox* secrets = nullptr;
  CallbackPoster post_callback;  // unset: callbacks are refused
};

class TaskRunner;
class Scheduler;

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

  // Starts the threads that run queued async calls and schedule firings
  // (first taking back the tasks this node held when it last stopped).
  // Call once, after restore().
  void start_background();
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

  // --- versions -------------------------------------------------------------

  [[nodiscard]] Result<VersionList> versions(std::string_view name);
  // Makes a kept version serve: `version`, or the newest kept one below
  // the serving one (kConflict when there is none).
  [[nodiscard]] Result<FunctionView> rollback(std::string_view name,
                                              std::optional<std::uint64_t> version);
  // Prepares a kept version for ?version=N (blocking: reads the store and
  // may compile); nothing to do for the serving one.
  [[nodiscard]] Status load_version(std::string_view name, std::uint64_t version);

  // --- secrets --------------------------------------------------------------

  // Creates or replaces a secret: true when created.
  [[nodiscard]] Result<store::SecretInfo> put_secret(std::string_view name, std::string_view value,
                                                     bool* created);
  [[nodiscard]] Result<std::vector<store::SecretInfo>> secrets();
  // kConflict (naming them) while deployed functions use it.
  [[nodiscard]] Status delete_secret(std::string_view name);
  // The functions whose serving version reads the secret.
  [[nodiscard]] Result<std::vector<std::string>> secret_users(std::string_view name);

  // --- async calls and schedules ---------------------------------------------

  // Checks the call as admit() would, then queues it durably (blocking).
  // `callback_url` (optional) must be a host the function may reach.
  [[nodiscard]] Result<store::AsyncTask> enqueue(InvokeInput input, std::string callback_url);
  // kNotFound when no task has that id.
  [[nodiscard]] Result<store::AsyncTask> task(std::string_view id);
  // Runs a claimed task once (blocking, on a task thread) and fills in its
  // outcome: done, queued again for a retry, or dead.
  void run_task(store::AsyncTask& task);
  // Claims the firing due at `due_us` of a function's trigger (`key` names
  // it) and queues it as a task, both or neither (blocking): true when this
  // caller did, false when another node (or an earlier run) fired that due
  // time already; kOverloaded when the function's queue is full.
  [[nodiscard]] Result<bool> fire(const std::string& function, const Trigger& trigger,
                                  std::uint64_t version, std::string_view key, std::int64_t due_us);
  // Every deployed function's triggers with its serving version, for the
  // scheduler.
  struct Schedules {
    std::string function;
    std::uint64_t version = 0;
    std::vector<Trigger> triggers;
  };
  [[nodiscard]] std::vector<Schedules> schedules() const;
  [[nodiscard]] store::Store& store() noexcept { return parts_.store; }
  [[nodiscard]] const CallbackPoster& callback_poster() const noexcept {
    return parts_.post_callback;
  }

  // --- concurrency and live logs --------------------------------------------

  // A slot of `name`'s concurrency limit: an empty one when it has none or
  // is unknown (admit() answers that), nullopt when the limit is reached.
  [[nodiscard]] std::optional<Slot> try_enter(std::string_view name);
  // Calls `wake` once when a slot of `name` frees; see ConcurrencyGate.
  [[nodiscard]] ConcurrencyGate::WaiterId on_slot_free(std::string_view name,
                                                       ConcurrencyGate::Wake wake);
  void forget_waiter(std::string_view name, ConcurrencyGate::WaiterId id);
  // The 429 for a call that waited its function's whole timeout for a slot
  // (and counts it).
  [[nodiscard]] Error concurrency_refusal(std::string_view name);
  // The timeout of `name` (the longest a call waits for a slot).
  [[nodiscard]] std::chrono::milliseconds timeout_of(std::string_view name) const;
  // The longest timeout of any deployed function.
  [[nodiscard]] std::chrono::milliseconds longest_timeout() const;
  // Counts a task that ended (done or dead).
  void task_finished(const store::AsyncTask& task);
  [[nodiscard]] LogHub& logs() noexcept { return logs_; }
  [[nodiscard]] bool shared_store() const noexcept { return parts_.store.shared(); }

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
  // The task enqueue() and fire() queue, checked as they describe; its
  // queue bound in `max_queued`.
  [[nodiscard]] Result<store::AsyncTask> make_task(InvokeInput input, std::string callback_url,
                                                   std::size_t& max_queued);
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
  // The deployment of ?version=N: the serving one, or a pinned old one.
  [[nodiscard]] DeploymentPtr find_version(std::string_view name, std::uint64_t version) const;
  // kInvalidArgument when the manifest names a secret that does not exist.
  [[nodiscard]] Status check_secrets(const Manifest& manifest);
  // Adds the function's secrets to the request's env (and redact list).
  [[nodiscard]] Status resolve_secrets(const Manifest& manifest, InvocationRequest& request);
  // Takes the table entry for `stored` after a store change; callers hold
  // deploy_mutex_.
  void publish(std::shared_ptr<Deployment> next);
  void wake_scheduler();

  ServiceParts parts_;
  ServiceOptions options_;
  Recorder recorder_;
  Invoker invoker_;
  boost::asio::thread_pool workers_;
  boost::asio::thread_pool docker_workers_;

  LogHub logs_;
  ConcurrencyGates gates_;
  // Old versions prepared for ?version=N, most recently used last.
  mutable std::mutex pinned_mutex_;
  mutable std::vector<DeploymentPtr> pinned_;  // guarded by pinned_mutex_

  std::mutex deploy_mutex_;  // serialises deploy and remove
  const Clock::time_point started_ = Clock::now();
  mutable std::shared_mutex table_mutex_;
  std::map<std::string, DeploymentPtr, std::less<>> table_;  // guarded by table_mutex_

  // Declared last: stopped (in the destructor) before anything they use.
  std::unique_ptr<TaskRunner> tasks_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace nebula::service
