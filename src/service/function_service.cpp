#include "service/function_service.hpp"

#include <cctype>
#include <chrono>
#include <set>
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>
#include <wasmtime.h>

#include "core/outbound.hpp"
#include "core/version.hpp"
#include "service/scheduler.hpp"
#include "service/task_runner.hpp"
#include "store/invocation_id.hpp"
#include "wasm/module.hpp"

namespace nebula::service {
namespace {

Error no_such_function(std::string_view name) {
  return make_error(ErrorKind::kNotFound,
                    "no function named '" + std::string(name) + "' (see GET /v1/functions)");
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

ServiceOptions with_node(ServiceOptions options) {
  if (options.node.empty()) options.node = host_name();
  return options;
}

}  // namespace

bool forwarded_to_function(std::string_view header) noexcept {
  for (std::string_view hop :
       {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade", "host"}) {
    if (iequals(header, hop)) return false;
  }
  return true;
}

FunctionService::FunctionService(ServiceParts parts, ServiceOptions options)
    : parts_(parts),
      options_(with_node(std::move(options))),
      recorder_(parts.store, parts.metrics, RecorderOptions{.node = options_.node}),
      invoker_(
          Invoker::Options{.max_pending = options_.max_pending},
          [] { return store::new_invocation_id(); },
          [this](const Invocation& invocation) {
            recorder_.record(invocation);
            logs_.publish(invocation.record);
          }),
      workers_(std::max(1U, options_.workers)),
      // Without Docker nothing runs here; one idle thread costs nothing.
      docker_workers_(parts.docker != nullptr ? std::max(1U, options_.docker_workers) : 1U) {}

FunctionService::~FunctionService() {
  // Nothing new may start: no firing, no task, no change from the store.
  scheduler_.reset();
  tasks_.reset();
  parts_.store.stop_watching();
  join();
  std::map<std::string, DeploymentPtr, std::less<>> table;
  {
    std::unique_lock lock(table_mutex_);
    table.swap(table_);
  }
  for (const auto& [name, deployment] : table) retire(*deployment);
}

void FunctionService::join() {
  workers_.join();
  docker_workers_.join();
}

std::size_t FunctionService::function_count() const {
  std::shared_lock lock(table_mutex_);
  return table_.size();
}

FunctionService::DeploymentPtr FunctionService::find(std::string_view name) const {
  std::shared_lock lock(table_mutex_);
  auto it = table_.find(name);
  return it == table_.end() ? nullptr : it->second;
}

// --- preparing variants ----------------------------------------------------

Result<std::shared_ptr<Deployment>> FunctionService::prepare(const Function& function) {
  auto deployment = std::make_shared<Deployment>();
  deployment->function = function;
  const Manifest& manifest = function.manifest;
  if (manifest.wasm_module) {
    auto variant = parts_.wasm.prepare(function);
    if (!variant) return std::move(variant).error();
    const WasmKind kind = wasm::Runtime::kind_of(**variant);
    if (manifest.wasm_kind && *manifest.wasm_kind != kind) {
      return make_error(ErrorKind::kInvalidArgument,
                        std::string("manifest field 'wasm.kind' says \"") +
                            to_string(*manifest.wasm_kind) + "\", but " + *manifest.wasm_module +
                            " is " + (kind == WasmKind::kModule ? "a core module" : "a component") +
                            " of kind \"" + to_string(kind) + "\"");
    }
    // The kind is part of what is stored and shown.
    deployment->function.manifest.wasm_kind = kind;
    deployment->wasm = std::move(*variant);
  }
  if (manifest.docker_image) {
    if (parts_.docker == nullptr) {
      deployment->docker_unready =
          "this server runs without Docker (--no-docker), so the docker variant of '" +
          function.name + "' cannot run here";
    } else {
      auto variant = parts_.docker->prepare(function);
      if (!variant) return std::move(variant).error();
      deployment->docker = std::move(*variant);
    }
  }
  return deployment;
}

void FunctionService::retire(const Deployment& deployment) {
  if (deployment.wasm) parts_.wasm.retire(*deployment.wasm);
  if (deployment.docker && parts_.docker != nullptr) parts_.docker->retire(*deployment.docker);
}

std::size_t FunctionService::warm_containers(const Deployment& deployment) const {
  if (!deployment.docker || parts_.docker == nullptr) return 0;
  return parts_.docker->warm_containers(*deployment.docker);
}

std::shared_ptr<Deployment> FunctionService::prepare_stored(const Function& function,
                                                            std::string_view when) {
  auto deployment = std::make_shared<Deployment>();
  deployment->function = function;
  const Manifest& manifest = function.manifest;
  // Each variant on its own: a missing image must not take the wasm
  // variant down with it.
  if (manifest.wasm_module) {
    if (auto variant = parts_.wasm.prepare(function)) {
      deployment->function.manifest.wasm_kind = wasm::Runtime::kind_of(**variant);
      deployment->wasm = std::move(*variant);
    } else {
      deployment->wasm_unready = "the wasm variant of '" + function.name +
                                 "' could not be prepared " + std::string(when) + ": " +
                                 variant.error().message;
      spdlog::error("{}", deployment->wasm_unready);
    }
  }
  if (manifest.docker_image) {
    if (parts_.docker == nullptr) {
      deployment->docker_unready =
          "this server runs without Docker (--no-docker), so the docker variant of '" +
          function.name + "' cannot run here";
    } else if (auto variant = parts_.docker->prepare(function)) {
      deployment->docker = std::move(*variant);
    } else {
      deployment->docker_unready = "the docker variant of '" + function.name +
                                   "' could not be prepared " + std::string(when) + ": " +
                                   variant.error().message + "; deploy it again to retry";
      spdlog::error("{}", deployment->docker_unready);
    }
  }
  return deployment;
}

void FunctionService::restore() {
  auto all = parts_.store.list_functions();
  if (!all) {
    spdlog::error("cannot list functions from the store: {}", all.error().message);
    return;
  }
  for (const Function& function : *all) {
    auto deployment = prepare_stored(function, "at start-up");
    std::unique_lock lock(table_mutex_);
    table_[function.name] = std::move(deployment);
  }
  parts_.metrics.set_functions(static_cast<std::int64_t>(function_count()));
  spdlog::info("restored {} function(s)", function_count());
}

// --- following a shared store ------------------------------------------------

void FunctionService::follow() {
  if (!parts_.store.shared()) return;
  parts_.store.watch([this](const std::optional<std::string>& name) {
    boost::asio::post(workers_, [this, name] {
      if (name) {
        sync(*name);
      } else {
        sync_all();
      }
    });
  });
}

void FunctionService::apply_stored(const Function& stored) {
  auto current = find(stored.name);
  // The store moves updated_at_us forward with every deploy: the same stamp
  // is the same version (this node's own deploys come back this way).
  if (current && current->function.updated_at_us == stored.updated_at_us) return;
  const auto started = Clock::now();
  auto next = prepare_stored(stored, "on this node");
  DeploymentPtr previous;
  {
    std::unique_lock lock(table_mutex_);
    previous = std::exchange(table_[stored.name], std::move(next));
  }
  if (previous) retire(*previous);
  parts_.metrics.set_functions(static_cast<std::int64_t>(function_count()));
  wake_scheduler();
  spdlog::info(
      "function {} {} by another node; ready here in {} ms", stored.name,
      previous ? "replaced" : "created",
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
}

bool FunctionService::drop(std::string_view name) {
  DeploymentPtr removed;
  {
    std::unique_lock lock(table_mutex_);
    if (auto it = table_.find(name); it != table_.end()) {
      removed = std::move(it->second);
      table_.erase(it);
    }
  }
  if (!removed) return false;
  retire(*removed);
  {
    // Its pinned old versions go with it.
    std::lock_guard lock(pinned_mutex_);
    std::erase_if(pinned_, [&](const DeploymentPtr& d) {
      if (d->function.name != name) return false;
      retire(*d);
      return true;
    });
  }
  gates_.drop(name);
  parts_.metrics.remove_function(name);
  parts_.metrics.set_functions(static_cast<std::int64_t>(function_count()));
  wake_scheduler();
  return true;
}

void FunctionService::sync(const std::string& name) {
  if (!check_function_name(name)) return;
  // Read under the deploy lock: a local deploy in between would otherwise
  // be overwritten by the older version read before it.
  std::lock_guard deploy_lock(deploy_mutex_);
  auto stored = parts_.store.get_function(name);
  if (stored) return apply_stored(*stored);
  if (stored.error().kind != ErrorKind::kNotFound) {
    // The periodic comparison catches up once the store answers.
    spdlog::warn("cannot follow a change of {}: {}", name, stored.error().message);
    return;
  }
  if (drop(name)) spdlog::info("function {} deleted by another node", name);
}

void FunctionService::sync_all() {
  std::lock_guard deploy_lock(deploy_mutex_);
  auto all = parts_.store.list_functions();
  if (!all) {
    spdlog::warn("cannot compare functions with the store: {}", all.error().message);
    return;
  }
  std::set<std::string, std::less<>> names;
  for (const Function& stored : *all) {
    names.insert(stored.name);
    apply_stored(stored);
  }
  std::vector<std::string> gone;
  {
    std::shared_lock lock(table_mutex_);
    for (const auto& [name, deployment] : table_) {
      if (!names.contains(name)) gone.push_back(name);
    }
  }
  for (const std::string& name : gone) {
    if (drop(name)) spdlog::info("function {} deleted by another node", name);
  }
}

// --- modules ---------------------------------------------------------------

Result<ModuleInfo> FunctionService::upload_module(std::string_view bytes) {
  if (bytes.empty()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "empty body: send the module's bytes with Content-Type: application/wasm");
  }
  auto digest = store::sha256_digest(bytes);
  if (!digest) return std::move(digest).error();
  // Validate before storing anything: compile, and check that it links as
  // a command.
  auto module = parts_.modules.compile(*digest, bytes);
  if (!module) return std::move(module).error();
  auto program = wasm::Program::link(parts_.wasm.engine(), std::move(*module));
  if (!program) return std::move(program).error();
  if (auto stored = parts_.store.put_blob(bytes); !stored) return std::move(stored).error();
  return ModuleInfo{std::move(*digest), bytes.size(), (*program)->kind()};
}

// --- functions -------------------------------------------------------------

Result<DeployResult> FunctionService::deploy(std::string_view name,
                                             std::string_view manifest_json) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  auto manifest = parse_manifest(manifest_json);
  if (!manifest) return std::move(manifest).error();
  return deploy_manifest(name, std::move(*manifest));
}

Result<DeployResult> FunctionService::deploy_module(std::string_view name,
                                                    std::string_view module_bytes) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  auto module = upload_module(module_bytes);
  if (!module) return std::move(module).error();
  Manifest manifest;
  manifest.wasm_module = module->digest;
  manifest.wasm_kind = module->kind;
  return deploy_manifest(name, std::move(manifest));
}

Result<DeployResult> FunctionService::deploy_manifest(std::string_view name, Manifest manifest) {
  std::lock_guard deploy_lock(deploy_mutex_);
  if (manifest.wasm_module) {
    auto present = parts_.store.has_blob(*manifest.wasm_module);
    if (!present) return std::move(present).error();
    if (!*present) {
      return make_error(ErrorKind::kInvalidArgument,
                        "module " + *manifest.wasm_module +
                            " has not been uploaded: POST it to /v1/modules first");
    }
  }
  if (auto st = check_secrets(manifest); !st) return std::move(st).error();
  Function function;
  function.name = std::string(name);
  function.manifest = std::move(manifest);

  // 1. Prepare the new variants beside the old ones, which keep serving.
  auto prepared = prepare(function);
  if (!prepared) return std::move(prepared).error();
  std::shared_ptr<Deployment> next = std::move(*prepared);

  // 2. Commit to the store (with the detected kind). On failure only the
  // new variants go.
  function.manifest.wasm_kind = next->function.manifest.wasm_kind;
  auto put = parts_.store.put_function(function);
  if (!put) {
    retire(*next);
    return std::move(put).error();
  }
  next->function.version = put->version;
  // The store stamped the times; read them back. Should that read fail the
  // function is stored all the same: keep it, with this node's clock.
  if (auto stored = parts_.store.get_function(name)) {
    next->function = std::move(*stored);
  } else {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    next->function.created_at_us = next->function.updated_at_us = now;
    spdlog::warn("function {} stored, but reading it back failed: {}", name,
                 stored.error().message);
  }

  // 3. Publish, then retire the old variants.
  publish(next);
  spdlog::info("function {} {} (version {})", function.name, put->created ? "created" : "replaced",
               put->version);

  DeployResult result;
  result.created = put->created;
  result.function.deployment = std::move(next);
  return result;
}

void FunctionService::publish(std::shared_ptr<Deployment> next) {
  DeploymentPtr previous;
  {
    std::unique_lock lock(table_mutex_);
    auto& slot = table_[next->function.name];
    previous = std::exchange(slot, std::move(next));
  }
  if (previous) retire(*previous);
  parts_.metrics.set_functions(static_cast<std::int64_t>(function_count()));
  wake_scheduler();
}

void FunctionService::wake_scheduler() {
  if (scheduler_) scheduler_->wake();
}

Result<FunctionView> FunctionService::view(DeploymentPtr deployment) {
  recorder_.flush();
  auto stats = parts_.store.function_stats(deployment->function.name);
  if (!stats) return std::move(stats).error();
  FunctionView v;
  v.warm_containers = warm_containers(*deployment);
  v.deployment = std::move(deployment);
  v.stats = std::move(*stats);
  return v;
}

Result<FunctionView> FunctionService::get(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  auto deployment = find(name);
  if (!deployment) return no_such_function(name);
  return view(std::move(deployment));
}

Result<std::vector<FunctionView>> FunctionService::list() {
  std::vector<DeploymentPtr> all;
  {
    std::shared_lock lock(table_mutex_);
    all.reserve(table_.size());
    for (const auto& [name, deployment] : table_) all.push_back(deployment);
  }
  std::vector<FunctionView> views;
  views.reserve(all.size());
  for (auto& deployment : all) {
    auto v = view(std::move(deployment));
    if (!v) return std::move(v).error();
    views.push_back(std::move(*v));
  }
  return views;
}

Status FunctionService::remove(std::string_view name) {
  if (auto st = check_function_name(name); !st) return st;
  std::lock_guard deploy_lock(deploy_mutex_);
  // Records still on their way belong to the function being removed.
  recorder_.flush();
  auto existed = parts_.store.delete_function(name);
  if (!existed) return std::move(existed).error();
  const bool dropped = drop(name);
  if (!*existed && !dropped) return no_such_function(name);
  spdlog::info("function {} deleted", name);
  return {};
}

// --- invocations -----------------------------------------------------------

std::uint64_t FunctionService::input_limit(std::string_view name) const {
  if (auto deployment = find(name)) return deployment->function.manifest.limits.max_input_bytes;
  return Limits::kDefaultPayloadBytes;
}

Result<PendingInvocation> FunctionService::admit(InvokeInput input) {
  if (auto st = check_function_name(input.function); !st) return std::move(st).error();
  auto deployment = find(input.function);
  if (!deployment) return no_such_function(input.function);
  if (input.version && *input.version != deployment->function.version) {
    deployment = find_version(input.function, *input.version);
    if (!deployment) {
      return make_error(ErrorKind::kNotFound,
                        "function '" + input.function + "' has no kept version " +
                            std::to_string(*input.version) + " (see GET /v1/functions/" +
                            input.function + "/versions)");
    }
  }
  const Function& function = deployment->function;
  const Manifest& manifest = function.manifest;

  RuntimeKind kind = manifest.default_runtime;
  if (input.runtime) {
    auto parsed = parse_runtime_kind(*input.runtime);
    if (!parsed) {
      return make_error(ErrorKind::kInvalidArgument, "runtime must be 'wasm' or 'docker', got '" +
                                                         input.runtime->substr(0, 40) + "'");
    }
    kind = *parsed;
  }
  if (!manifest.has(kind)) {
    return make_error(ErrorKind::kNotFound,
                      "function '" + function.name + "' has no " + to_string(kind) + " variant");
  }
  const auto& variant = kind == RuntimeKind::kWasm ? deployment->wasm : deployment->docker;
  if (!variant) {
    const auto& why =
        kind == RuntimeKind::kWasm ? deployment->wasm_unready : deployment->docker_unready;
    return make_error(ErrorKind::kUnavailable, why);
  }
  if (input.body.size() > manifest.limits.max_input_bytes) {
    return make_error(ErrorKind::kTooLarge, "request body of " + std::to_string(input.body.size()) +
                                                " bytes exceeds this function's max_input_bytes (" +
                                                std::to_string(manifest.limits.max_input_bytes) +
                                                ")");
  }
  if (recorder_.backlogged()) {
    return make_error(ErrorKind::kUnavailable,
                      std::to_string(recorder_.waiting()) +
                          " invocation records are waiting for the store, which does not keep "
                          "up or cannot be reached; try again shortly");
  }
  if (!input.slot) {
    input.slot = try_enter(function.name);
    if (!input.slot) return concurrency_refusal(function.name);
  }
  auto ticket = invoker_.admit();
  if (!ticket) return std::move(ticket).error();

  InvocationRequest request;
  request.trigger = input.trigger;
  request.id = store::new_invocation_id();
  request.function = function.name;
  request.args = manifest.args;
  request.limits = manifest.limits;
  request.allowed_outbound_hosts = manifest.allowed_outbound_hosts;
  if (kind == RuntimeKind::kWasm && manifest.wasm_kind == WasmKind::kHttp) {
    // An HTTP function gets the request itself, below its route.
    HttpExchange http;
    http.method = input.request.method;
    http.authority = input.authority;
    http.path_with_query = input.request.path_info.empty() ? "/" : input.request.path_info;
    if (!input.request.query.empty()) http.path_with_query += "?" + input.request.query;
    for (auto& [name, value] : input.request.headers) {
      if (forwarded_to_function(name)) http.headers.emplace_back(name, value);
    }
    http.sink = input.sink;
    request.http = std::move(http);
    // Its own environment: the manifest's, plus its name.
    request.env = manifest.env;
    request.env.emplace_back("NEBULA_FUNCTION", function.name);
  } else {
    request.env = cgi_environment(input.request, function, kind);
  }
  request.body = std::move(input.body);
  return PendingInvocation(std::move(deployment), kind, std::move(*ticket), std::move(request),
                           input.received, std::move(*input.slot));
}

boost::asio::thread_pool& FunctionService::pool_for(const PendingInvocation& pending) noexcept {
  return pending.runtime() == RuntimeKind::kDocker ? docker_workers_ : workers_;
}

Result<Invocation> FunctionService::run(PendingInvocation pending) {
  const Deployment& deployment = *pending.deployment_;
  const bool wasm = pending.kind_ == RuntimeKind::kWasm;
  Runtime* runtime = wasm ? static_cast<Runtime*>(&parts_.wasm) : parts_.docker;
  PreparedVariant* variant = wasm ? deployment.wasm.get() : deployment.docker.get();
  // admit() made sure both exist.
  if (runtime == nullptr || variant == nullptr) std::abort();
  if (auto st = resolve_secrets(deployment.function.manifest, pending.request_); !st) {
    return std::move(st).error();
  }
  return invoker_.run(std::move(pending.ticket_),
                      Invoker::Target{*runtime, *variant, deployment.function, pending.kind_},
                      pending.request_, pending.received_);
}

Result<std::vector<InvocationRecord>> FunctionService::invocations(
    const store::InvocationQuery& query) {
  recorder_.flush();  // every answered invocation is listed
  return parts_.store.list_invocations(query);
}

Result<InvocationRecord> FunctionService::invocation(std::string_view id) {
  if (!store::is_valid_invocation_id(id)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "'" + std::string(id.substr(0, 40)) + "' is not an invocation id");
  }
  recorder_.flush();
  return parts_.store.get_invocation(id);
}

// --- operations ------------------------------------------------------------

Readiness FunctionService::readiness() {
  Readiness r;
  r.ready = true;
  auto store = parts_.store.ping();
  r.checks.emplace_back("store", store ? "ok" : store.error().message);
  r.ready = r.ready && store.has_value();
  if (parts_.docker == nullptr) {
    r.checks.emplace_back("docker", "disabled");
  } else {
    auto ping = parts_.docker->ping();
    r.checks.emplace_back("docker", ping ? "ok" : ping.error().message);
    r.ready = r.ready && ping.has_value();
  }
  return r;
}

ServerInfo FunctionService::info() {
  ServerInfo info;
  info.version = std::string(kVersion);
  info.wasmtime = WASMTIME_VERSION;
  info.node = options_.node;
  if (parts_.docker != nullptr) {
    if (auto version = parts_.docker->version()) {
      info.docker_available = true;
      info.docker_version = version->version;
      info.docker_api_version = version->api.to_string();
    }
  }
  return info;
}

ServerStatus FunctionService::status() {
  ServerStatus st;
  st.node = options_.node;
  st.uptime_s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
  if (auto self = metrics::footprint_of(0)) st.process = *self;
  std::vector<DeploymentPtr> all;
  {
    std::shared_lock lock(table_mutex_);
    for (const auto& [name, deployment] : table_) all.push_back(deployment);
  }
  st.functions = all.size();
  for (const auto& deployment : all) {
    if (deployment->wasm) ++st.wasm_ready;
    st.warm_containers += warm_containers(*deployment);
  }
  st.wasm_loaded = parts_.wasm.live_programs();
  st.instance_slots = options_.instance_slots;
  st.docker_enabled = parts_.docker != nullptr;
  if (st.docker_enabled) {
    st.docker_engine =
        metrics::footprint_of_named({"dockerd", "containerd", "containerd-shim*", "docker-proxy"});
  }
  st.store = parts_.store.describe();
  st.records_waiting = recorder_.waiting();
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(options_.data_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) st.data_dir_bytes += it->file_size(size_ec);
  }
  return st;
}

std::string FunctionService::metrics_text() {
  const auto pending = static_cast<std::int64_t>(invoker_.pending());
  const auto running = static_cast<std::int64_t>(invoker_.running());
  parts_.metrics.set_queue_depth(std::max<std::int64_t>(0, pending - running));
  std::vector<DeploymentPtr> all;
  {
    std::shared_lock lock(table_mutex_);
    for (const auto& [name, deployment] : table_) all.push_back(deployment);
  }
  parts_.metrics.set_functions(static_cast<std::int64_t>(all.size()));
  for (const auto& [name, count] : gates_.in_flight()) {
    parts_.metrics.set_in_flight(name, static_cast<std::int64_t>(count));
  }
  for (const auto& deployment : all) {
    if (deployment->docker) {
      parts_.metrics.set_warm_containers(deployment->function.name,
                                         static_cast<std::int64_t>(warm_containers(*deployment)));
    }
  }
  return parts_.metrics.render();
}

// --- versions ----------------------------------------------------------------

Result<VersionList> FunctionService::versions(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  auto kept = parts_.store.list_versions(name);
  if (!kept) return std::move(kept).error();
  auto stored = parts_.store.get_function(name);
  if (!stored) return std::move(stored).error();
  return VersionList{std::string(name), stored->version, std::move(*kept)};
}

Result<FunctionView> FunctionService::rollback(std::string_view name,
                                               std::optional<std::uint64_t> version) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  std::lock_guard deploy_lock(deploy_mutex_);
  auto current = parts_.store.get_function(name);
  if (!current) return std::move(current).error();
  if (!version) {
    auto kept = parts_.store.list_versions(name);
    if (!kept) return std::move(kept).error();
    for (const auto& v : *kept) {  // newest first
      if (v.version < current->version) {
        version = v.version;
        break;
      }
    }
    if (!version) {
      return make_error(ErrorKind::kConflict,
                        "function '" + std::string(name) + "' serves version " +
                            std::to_string(current->version) +
                            " and keeps no earlier one to roll back to (name a version with "
                            "{\"version\": N}; see GET /v1/functions/" +
                            std::string(name) + "/versions)");
    }
  }
  auto target = parts_.store.get_version(name, *version);
  if (!target) return std::move(target).error();
  if (auto st = check_secrets(target->manifest); !st) return std::move(st).error();

  // As a deploy: prepare beside the serving version, switch the store, then
  // the table.
  Function function = *current;
  function.manifest = target->manifest;
  function.version = target->version;
  auto prepared = prepare(function);
  if (!prepared) return std::move(prepared).error();
  std::shared_ptr<Deployment> next = std::move(*prepared);
  auto activated = parts_.store.activate_version(name, *version);
  if (!activated) {
    retire(*next);
    return std::move(activated).error();
  }
  next->function = std::move(*activated);
  publish(next);
  spdlog::info("function {} rolled back to version {}", name, *version);
  return view(std::move(next));
}

FunctionService::DeploymentPtr FunctionService::find_version(std::string_view name,
                                                             std::uint64_t version) const {
  if (auto serving = find(name); serving && serving->function.version == version) return serving;
  std::lock_guard lock(pinned_mutex_);
  for (auto it = pinned_.begin(); it != pinned_.end(); ++it) {
    if ((*it)->function.name == name && (*it)->function.version == version) {
      // Most recently used last.
      auto found = *it;
      pinned_.erase(it);
      pinned_.push_back(found);
      return found;
    }
  }
  return nullptr;
}

Status FunctionService::load_version(std::string_view name, std::uint64_t version) {
  if (auto st = check_function_name(name); !st) return st;
  if (!find(name)) return no_such_function(name);
  if (find_version(name, version)) return {};
  auto kept = parts_.store.get_version(name, version);
  if (!kept) return std::move(kept).error();
  auto serving = find(name);
  if (!serving) return no_such_function(name);
  Function function = serving->function;
  function.manifest = kept->manifest;
  function.version = kept->version;
  auto prepared = prepare(function);
  if (!prepared) return std::move(prepared).error();
  std::vector<DeploymentPtr> evicted;
  {
    std::lock_guard lock(pinned_mutex_);
    // Two callers may have prepared the same version at once: keep one.
    for (const auto& d : pinned_) {
      if (d->function.name == name && d->function.version == version) {
        evicted.push_back(*prepared);
        break;
      }
    }
    if (evicted.empty()) pinned_.push_back(*prepared);
    while (pinned_.size() > std::max<std::size_t>(1, options_.pinned_versions)) {
      evicted.push_back(pinned_.front());
      pinned_.erase(pinned_.begin());
    }
  }
  for (const auto& d : evicted) retire(*d);
  return {};
}

// --- secrets -------------------------------------------------------------------

namespace {

constexpr std::size_t kMaxSecretBytes = 64 * 1024;

Error secrets_off() {
  return make_error(ErrorKind::kUnavailable,
                    "secrets are not configured on this server: start it with "
                    "--secrets-key-file PATH (the same key on every node)");
}

}  // namespace

Status FunctionService::check_secrets(const Manifest& manifest) {
  if (manifest.secret_env.empty()) return {};
  if (parts_.secrets == nullptr) return secrets_off();
  for (const SecretEnv& ref : manifest.secret_env) {
    auto sealed = parts_.store.get_secret(ref.secret);
    if (sealed) continue;
    if (sealed.error().kind != ErrorKind::kNotFound) return std::move(sealed).error();
    return make_error(ErrorKind::kInvalidArgument,
                      "manifest field 'env." + ref.env + "' names secret '" + ref.secret +
                          "', which does not exist: PUT /v1/secrets/" + ref.secret + " first");
  }
  return {};
}

Status FunctionService::resolve_secrets(const Manifest& manifest, InvocationRequest& request) {
  if (manifest.secret_env.empty()) return {};
  if (parts_.secrets == nullptr) return secrets_off();
  // Read at every invocation: a rotated secret takes effect on the next
  // call, on every node.
  for (const SecretEnv& ref : manifest.secret_env) {
    auto sealed = parts_.store.get_secret(ref.secret);
    if (!sealed) {
      if (sealed.error().kind != ErrorKind::kNotFound) return std::move(sealed).error();
      return make_error(ErrorKind::kUnavailable, "secret '" + ref.secret + "' (env." + ref.env +
                                                     ") was deleted; put it again or redeploy "
                                                     "without it");
    }
    auto value = parts_.secrets->open(*sealed);
    if (!value) return std::move(value).error();
    request.redact.push_back(*value);
    request.env.emplace_back(ref.env, std::move(*value));
  }
  return {};
}

Result<store::SecretInfo> FunctionService::put_secret(std::string_view name, std::string_view value,
                                                      bool* created) {
  if (auto st = check_function_name(name); !st) {
    return make_error(ErrorKind::kInvalidArgument,
                      "a secret's name follows the function name rule: " + st.error().message);
  }
  if (parts_.secrets == nullptr) return secrets_off();
  if (value.size() > kMaxSecretBytes) {
    return make_error(ErrorKind::kTooLarge,
                      "a secret holds at most " + std::to_string(kMaxSecretBytes) + " bytes");
  }
  auto put = parts_.store.put_secret(name, parts_.secrets->seal(value));
  if (!put) return std::move(put).error();
  if (created != nullptr) *created = *put;
  auto all = parts_.store.list_secrets();
  if (!all) return std::move(all).error();
  for (auto& info : *all) {
    if (info.name == name) return std::move(info);
  }
  return make_error(ErrorKind::kUnavailable, "secret '" + std::string(name) +
                                                 "' was stored but deleted at once by another "
                                                 "request");
}

Result<std::vector<store::SecretInfo>> FunctionService::secrets() {
  if (parts_.secrets == nullptr) return secrets_off();
  return parts_.store.list_secrets();
}

Result<std::vector<std::string>> FunctionService::secret_users(std::string_view name) {
  auto all = parts_.store.list_functions();
  if (!all) return std::move(all).error();
  std::vector<std::string> users;
  for (const Function& f : *all) {
    for (const SecretEnv& ref : f.manifest.secret_env) {
      if (ref.secret == name) {
        users.push_back(f.name);
        break;
      }
    }
  }
  return users;
}

Status FunctionService::delete_secret(std::string_view name) {
  if (auto st = check_function_name(name); !st) return st;
  std::lock_guard deploy_lock(deploy_mutex_);
  auto users = secret_users(name);
  if (!users) return std::move(users).error();
  if (!users->empty()) {
    std::string list;
    for (const auto& u : *users) list += (list.empty() ? "" : ", ") + u;
    return make_error(ErrorKind::kConflict, "secret '" + std::string(name) +
                                                "' is used by the serving version of: " + list +
                                                "; deploy them without it first");
  }
  auto existed = parts_.store.delete_secret(name);
  if (!existed) return std::move(existed).error();
  if (!*existed) {
    return make_error(ErrorKind::kNotFound,
                      "no secret named '" + std::string(name) + "' (see GET /v1/secrets)");
  }
  return {};
}

// --- concurrency -----------------------------------------------------------------

std::optional<Slot> FunctionService::try_enter(std::string_view name) {
  auto deployment = find(name);
  if (!deployment || deployment->function.manifest.limits.max_concurrency == 0) return Slot();
  return gates_.gate(name)->try_enter(deployment->function.manifest.limits.max_concurrency);
}

ConcurrencyGate::WaiterId FunctionService::on_slot_free(std::string_view name,
                                                        ConcurrencyGate::Wake wake) {
  return gates_.gate(name)->on_release(std::move(wake));
}

void FunctionService::forget_waiter(std::string_view name, ConcurrencyGate::WaiterId id) {
  gates_.gate(name)->forget(id);
}

Error FunctionService::concurrency_refusal(std::string_view name) {
  parts_.metrics.count_concurrency_limited(name);
  std::uint32_t limit = 0;
  if (auto d = find(name)) limit = d->function.manifest.limits.max_concurrency;
  return make_error(ErrorKind::kOverloaded,
                    "function '" + std::string(name) + "' already runs " + std::to_string(limit) +
                        " invocation(s) on this node, its limits.max_concurrency; retry shortly");
}

std::chrono::milliseconds FunctionService::timeout_of(std::string_view name) const {
  if (auto d = find(name)) return std::chrono::milliseconds(d->function.manifest.limits.timeout_ms);
  return std::chrono::milliseconds(Limits::kDefaultTimeoutMs);
}

std::chrono::milliseconds FunctionService::longest_timeout() const {
  std::uint32_t longest = 0;
  std::shared_lock lock(table_mutex_);
  for (const auto& [name, d] : table_)
    longest = std::max(longest, d->function.manifest.limits.timeout_ms);
  return std::chrono::milliseconds(longest);
}

// --- async calls and schedules -----------------------------------------------------

void FunctionService::task_finished(const store::AsyncTask& task) {
  parts_.metrics.count_task_finished(task.function, task.state == store::TaskState::kDone);
}

void FunctionService::start_background() {
  if (auto st = parts_.store.release_tasks(options_.node); !st) {
    spdlog::warn("cannot take back the tasks this node held: {}", st.error().message);
  }
  tasks_ = std::make_unique<TaskRunner>(*this, TaskRunnerOptions{.node = options_.node,
                                                                 .threads = options_.async_workers,
                                                                 .poll = options_.task_poll});
  scheduler_ = std::make_unique<Scheduler>(*this);
}

Result<store::AsyncTask> FunctionService::enqueue(InvokeInput input, std::string callback_url) {
  std::size_t max_queued = 0;
  auto task = make_task(std::move(input), std::move(callback_url), max_queued);
  if (!task) return task;
  if (auto st = parts_.store.enqueue_task(*task, max_queued); !st) return std::move(st).error();
  if (tasks_) tasks_->wake();
  return task;
}

Result<store::AsyncTask> FunctionService::make_task(InvokeInput input, std::string callback_url,
                                                    std::size_t& max_queued) {
  if (auto st = check_function_name(input.function); !st) return std::move(st).error();
  auto deployment = find(input.function);
  if (!deployment) return no_such_function(input.function);
  if (input.version && *input.version != deployment->function.version) {
    auto kept = parts_.store.get_version(input.function, *input.version);
    if (!kept) return std::move(kept).error();
  }
  const Manifest& manifest = deployment->function.manifest;
  if (input.runtime) {
    auto kind = parse_runtime_kind(*input.runtime);
    if (!kind) {
      return make_error(ErrorKind::kInvalidArgument, "runtime must be 'wasm' or 'docker', got '" +
                                                         input.runtime->substr(0, 40) + "'");
    }
    if (!manifest.has(*kind)) {
      return make_error(ErrorKind::kNotFound, "function '" + input.function + "' has no " +
                                                  to_string(*kind) + " variant");
    }
  }
  if (input.body.size() > manifest.limits.max_input_bytes) {
    return make_error(ErrorKind::kTooLarge, "request body of " + std::to_string(input.body.size()) +
                                                " bytes exceeds this function's max_input_bytes (" +
                                                std::to_string(manifest.limits.max_input_bytes) +
                                                ")");
  }
  if (!callback_url.empty()) {
    if (!parts_.post_callback) {
      return make_error(ErrorKind::kInvalidArgument, "this server does not make callbacks");
    }
    auto url = boost::urls::parse_absolute_uri(callback_url);
    if (!url || url->scheme() != "http" || url->host().empty()) {
      return make_error(
          ErrorKind::kInvalidArgument,
          "callback must be an absolute http:// URL, got '" + callback_url.substr(0, 200) + "'");
    }
    const std::uint16_t port =
        url->has_port() ? static_cast<std::uint16_t>(url->port_number()) : std::uint16_t{80};
    std::string host = url->encoded_host_address().decode();
    for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!OutboundPolicy(manifest.allowed_outbound_hosts).allows("http", host, port)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "callback " + callback_url.substr(0, 200) +
                            " is not among the function's allowed_outbound_hosts; add its "
                            "origin (e.g. http://" +
                            host + ":" + std::to_string(port) + ") to the manifest");
    }
  }
  store::AsyncTask task;
  task.id = store::new_invocation_id();
  task.function = input.function;
  task.version = input.version.value_or(deployment->function.version);
  if (input.runtime) task.runtime = parse_runtime_kind(*input.runtime);
  task.trigger = input.trigger;
  task.body = std::move(input.body);
  for (const auto& [header, value] : input.request.headers) {
    if (iequals(header, "content-type")) task.content_type = value;
  }
  task.query = input.request.query;
  task.callback_url = std::move(callback_url);
  task.max_retries = manifest.async.max_retries;
  task.created_at_us = task.next_run_at_us = store::now_unix_us();
  max_queued = manifest.async.max_queued;
  return task;
}

Result<store::AsyncTask> FunctionService::task(std::string_view id) {
  if (!store::is_valid_invocation_id(id)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "'" + std::string(id.substr(0, 40)) + "' is not an invocation id");
  }
  return parts_.store.get_task(id);
}

namespace {

// How long a failed task waits before its next run: 1 s, 2 s, 4 s … 60 s.
std::int64_t backoff_us(std::uint32_t attempts) {
  const std::uint32_t doublings = std::min<std::uint32_t>(attempts > 0 ? attempts - 1 : 0, 6);
  return std::min<std::int64_t>(1'000'000LL << doublings, 60'000'000LL);
}

// Captures an HTTP function's response for an async call, which has no
// client waiting.
class CapturedResponse final : public ResponseSink {
 public:
  void head(int status, HeaderList headers) override {
    std::lock_guard lock(mutex_);
    status_ = status;
    for (auto& [name, value] : headers) {
      if (iequals(name, "content-type")) {
        content_type_ = value;
      }
    }
  }
  bool body(std::string_view chunk) override {
    std::lock_guard lock(mutex_);
    const std::size_t room =
        store::kMaxTaskResultBytes - std::min(body_.size(), store::kMaxTaskResultBytes);
    body_.append(chunk.substr(0, room));
    return true;
  }
  int status() {
    std::lock_guard lock(mutex_);
    return status_;
  }
  std::string take_body() {
    std::lock_guard lock(mutex_);
    return std::move(body_);
  }
  std::string content_type() {
    std::lock_guard lock(mutex_);
    return content_type_;
  }

 private:
  std::mutex mutex_;
  int status_ = 0;
  std::string content_type_;
  std::string body_;
};

std::string problem_json(int status, std::string_view title, std::string_view detail) {
  return boost::json::serialize(boost::json::object{{"type", "about:blank"},
                                                    {"title", title},
                                                    {"status", status},
                                                    {"detail", valid_utf8(detail)}});
}

int status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return 400;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kUnauthorized: return 401;
    case ErrorKind::kTooLarge: return 413;
    case ErrorKind::kOverloaded: return 429;
    case ErrorKind::kTimeout: return 504;
    case ErrorKind::kUnavailable: return 503;
    case ErrorKind::kNoSpace: return 507;
    case ErrorKind::kConflict: return 409;
    case ErrorKind::kInternal: break;
  }
  return 500;
}

}  // namespace

void FunctionService::run_task(store::AsyncTask& task) {
  auto fail = [&](int status, std::string result, bool retry) {
    task.status = status;
    task.result = std::move(result);
    task.result_type = "application/problem+json";
    if (retry && task.attempts <= task.max_retries) {
      task.state = store::TaskState::kQueued;
      task.next_run_at_us = store::now_unix_us() + backoff_us(task.attempts);
    } else {
      task.state = store::TaskState::kDead;
      task.finished_at_us = store::now_unix_us();
    }
  };

  InvokeInput input;
  input.function = task.function;
  if (task.runtime) input.runtime = to_string(*task.runtime);
  input.version = task.version;
  input.trigger = task.trigger;
  input.request.method = "POST";
  if (!task.content_type.empty())
    input.request.headers.emplace_back("Content-Type", task.content_type);
  input.request.content_length = task.body.size();
  input.request.query = task.query;
  input.body = task.body;
  input.received = Clock::now();
  CapturedResponse captured;
  input.sink = &captured;

  // The version named may be an old one: load it as ?version=N would.
  if (auto serving = find(task.function); serving && serving->function.version != task.version) {
    if (auto st = load_version(task.function, task.version); !st) {
      const bool gone = st.error().kind == ErrorKind::kNotFound;
      fail(status_of(st.error().kind),
           problem_json(status_of(st.error().kind), "Not runnable", st.error().message), !gone);
      return;
    }
  }
  // Wait for a concurrency slot as an HTTP call would (this thread is ours).
  if (auto d = find(task.function); d && d->function.manifest.limits.max_concurrency != 0) {
    auto slot = gates_.gate(task.function)
                    ->enter_until(d->function.manifest.limits.max_concurrency,
                                  Clock::now() + timeout_of(task.function));
    if (!slot) {
      auto refusal = concurrency_refusal(task.function);
      fail(429, problem_json(429, "Too many requests", refusal.message), true);
      return;
    }
    input.slot = std::move(*slot);
  }
  auto pending = admit(std::move(input));
  if (!pending) {
    const auto& e = pending.error();
    const bool retry = e.kind != ErrorKind::kNotFound && e.kind != ErrorKind::kInvalidArgument &&
                       e.kind != ErrorKind::kTooLarge;
    fail(status_of(e.kind), problem_json(status_of(e.kind), "Not admitted", e.message), retry);
    return;
  }
  auto done = run(std::move(*pending));
  if (!done) {
    const auto& e = done.error();
    fail(status_of(e.kind), problem_json(status_of(e.kind), "Not run", e.message), true);
    return;
  }
  const Invocation& inv = *done;
  task.invocation_id = inv.record.id;
  if (inv.result.outcome == Outcome::kOk) {
    task.state = store::TaskState::kDone;
    task.finished_at_us = store::now_unix_us();
    if (inv.result.responded) {
      task.status = captured.status();
      task.result = captured.take_body();
      task.result_type = captured.content_type();
    } else {
      task.status = 200;
      task.result = inv.result.stdout_data.substr(0, store::kMaxTaskResultBytes);
      task.result_type = "application/octet-stream";
    }
    return;
  }
  const int status = inv.result.outcome == Outcome::kTimeout ? 504 : 502;
  std::string detail =
      inv.result.message.empty() ? std::string("the function failed") : inv.result.message;
  detail += " (outcome " + std::string(to_string(inv.result.outcome)) + ", exit code " +
            std::to_string(inv.result.exit_code) + ", record " + inv.record.id + ")";
  fail(status,
       problem_json(status, status == 504 ? "Function timed out" : "Function failed", detail),
       true);
}

Result<bool> FunctionService::fire(const std::string& function, const Trigger& trigger,
                                   std::uint64_t version, std::string_view key,
                                   std::int64_t due_us) {
  InvokeInput input;
  input.function = function;
  input.version = version;
  input.trigger = TriggerKind::kCron;
  input.body = trigger.input;
  input.request.method = "POST";
  std::size_t max_queued = 0;
  auto task = make_task(std::move(input), {}, max_queued);
  if (!task) return std::move(task).error();
  auto fired = parts_.store.fire_task(*task, max_queued, key, due_us);
  if (!fired || !*fired) return fired;
  parts_.metrics.count_firing(function);
  if (tasks_) tasks_->wake();
  return true;
}

std::vector<FunctionService::Schedules> FunctionService::schedules() const {
  std::vector<Schedules> out;
  std::shared_lock lock(table_mutex_);
  for (const auto& [name, deployment] : table_) {
    if (deployment->function.manifest.triggers.empty()) continue;
    out.push_back(
        Schedules{name, deployment->function.version, deployment->function.manifest.triggers});
  }
  return out;
}

}  // namespace nebula::service
