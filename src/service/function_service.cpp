#include "service/function_service.hpp"

#include <chrono>
#include <set>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <wasmtime.h>

#include "core/version.hpp"
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
          [this](const Invocation& invocation) { recorder_.record(invocation); }),
      workers_(std::max(1U, options_.workers)),
      // Without Docker nothing runs here; one idle thread costs nothing.
      docker_workers_(parts.docker != nullptr ? std::max(1U, options_.docker_workers) : 1U) {}

FunctionService::~FunctionService() {
  // No change may arrive once the pools are joined.
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
  parts_.metrics.remove_function(name);
  parts_.metrics.set_functions(static_cast<std::int64_t>(function_count()));
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
  auto created = parts_.store.put_function(function);
  if (!created) {
    retire(*next);
    return std::move(created).error();
  }
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
  DeploymentPtr previous;
  {
    std::unique_lock lock(table_mutex_);
    auto& slot = table_[function.name];
    previous = std::exchange(slot, next);
  }
  if (previous) retire(*previous);
  parts_.metrics.set_functions(static_cast<std::int64_t>(function_count()));
  spdlog::info("function {} {}", function.name, *created ? "created" : "replaced");

  DeployResult result;
  result.created = *created;
  result.function.deployment = std::move(next);
  return result;
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
  auto ticket = invoker_.admit();
  if (!ticket) return std::move(ticket).error();

  InvocationRequest request;
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
                           input.received);
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
  for (const auto& deployment : all) {
    if (deployment->docker) {
      parts_.metrics.set_warm_containers(deployment->function.name,
                                         static_cast<std::int64_t>(warm_containers(*deployment)));
    }
  }
  return parts_.metrics.render();
}

}  // namespace nebula::service
