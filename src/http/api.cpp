#include "http/api.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <malloc.h>

#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "http/dashboard/assets.hpp"
#include "http/offload.hpp"
#include "http/problem.hpp"
#include "http/target.hpp"
#include "metrics/process.hpp"
#include "store/blob_store.hpp"
#include "store/invocation_id.hpp"
#include "wasm/module.hpp"

namespace nebula::http {
namespace {

namespace json = boost::json;
namespace bhttp = beast::http;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kModuleBodyLimit = 64ULL << 20;
constexpr std::uint64_t kDefaultBodyLimit = 1ULL << 20;
constexpr std::size_t kMaxCgiHeaders = 64;

Error bad_name(std::string_view name) {
  return make_error(ErrorKind::kInvalidArgument,
                    "invalid function name '" + std::string(name.substr(0, 80)) +
                        "': use 1-63 lowercase letters, digits and '-', starting with a letter "
                        "or digit");
}

std::string ms_text(std::int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(us) / 1000.0);
  return buf;
}

json::value optional_json(const std::optional<std::int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::object record_json(const InvocationRecord& r, bool with_stderr) {
  json::object o;
  o["id"] = r.id;
  o["function"] = r.function;
  o["runtime"] = to_string(r.runtime);
  o["outcome"] = to_string(r.outcome);
  o["exit_code"] = r.exit_code;
  o["cold"] = r.cold;
  o["queue_us"] = r.timings.queue_us;
  o["startup_us"] = r.timings.startup_us;
  o["exec_us"] = r.timings.exec_us;
  o["teardown_us"] = r.timings.teardown_us;
  o["total_us"] = r.timings.total_us;
  o["cpu_us"] = r.cpu_us;
  o["max_memory_bytes"] = r.max_memory_bytes;
  o["input_bytes"] = r.input_bytes;
  o["output_bytes"] = r.output_bytes;
  o["started_at_us"] = r.started_at_us;
  o["message"] = r.message;
  if (with_stderr) o["stderr_tail"] = r.stderr_tail;
  return o;
}

json::object function_json(const Function& f, const store::FunctionStats* stats) {
  json::object o;
  o["name"] = f.name;
  o["manifest"] = json::parse(manifest_to_json(f.manifest));
  json::object variants;
  if (f.manifest.wasm_module) variants["wasm"] = *f.manifest.wasm_module;
  if (f.manifest.docker_image) variants["docker"] = *f.manifest.docker_image;
  o["artifacts"] = std::move(variants);
  o["created_at_us"] = f.created_at_us;
  o["updated_at_us"] = f.updated_at_us;
  if (stats != nullptr) {
    json::object counts{{"wasm", stats->wasm.invocations}, {"docker", stats->docker.invocations}};
    json::object cold{{"wasm", stats->wasm.cold_starts}, {"docker", stats->docker.cold_starts}};
    json::object p50{{"wasm", optional_json(stats->wasm.p50_startup_us)},
                     {"docker", optional_json(stats->docker.p50_cold_startup_us)}};
    json::object outcomes;
    for (auto kind : {RuntimeKind::kWasm, RuntimeKind::kDocker}) {
      json::object per;
      const auto& rs = stats->of(kind);
      for (auto o2 : {Outcome::kOk, Outcome::kExit, Outcome::kTrap, Outcome::kTimeout,
                      Outcome::kMemory, Outcome::kRejected}) {
        if (rs.count(o2) > 0) per[to_string(o2)] = rs.count(o2);
      }
      outcomes[to_string(kind)] = std::move(per);
    }
    o["stats"] = json::object{{"invocations", std::move(counts)},
                              {"cold_starts", std::move(cold)},
                              {"p50_startup_us", std::move(p50)},
                              {"outcomes", std::move(outcomes)}};
  }
  return o;
}

// "Content-Type" → "HTTP_CONTENT_TYPE" (CGI meta-variable names).
std::string cgi_name(std::string_view header) {
  std::string name = "HTTP_";
  for (char c : header) {
    if (c == '-') {
      name += '_';
    } else if (c >= 'a' && c <= 'z') {
      name += static_cast<char>(c - 'a' + 'A');
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
      name += c;
    } else {
      return {};  // not representable; skip the header
    }
  }
  return name;
}

// The request's CGI variables followed by the manifest's env (which cannot
// override a CGI variable).
EnvList cgi_env(const Request& req, const Function& fn, RuntimeKind kind,
                std::string_view path_info, std::string_view query) {
  EnvList env;
  env.emplace_back("REQUEST_METHOD", std::string(req.method_string()));
  env.emplace_back("PATH_INFO", path_info.empty() ? "/" : std::string(path_info));
  env.emplace_back("QUERY_STRING", std::string(query));
  env.emplace_back("CONTENT_LENGTH", std::to_string(req.body().size()));
  if (auto it = req.find(bhttp::field::content_type); it != req.end()) {
    env.emplace_back("CONTENT_TYPE", std::string(it->value()));
  }
  env.emplace_back("SERVER_SOFTWARE", "nebula");
  env.emplace_back("NEBULA_FUNCTION", fn.name);
  env.emplace_back("NEBULA_RUNTIME", to_string(kind));
  std::size_t headers = 0;
  for (const auto& field : req) {
    auto name = field.name();
    // Credentials never reach a function.
    if (name == bhttp::field::authorization || name == bhttp::field::cookie ||
        name == bhttp::field::proxy_authorization || name == bhttp::field::content_type ||
        name == bhttp::field::content_length) {
      continue;
    }
    if (++headers > kMaxCgiHeaders) break;
    auto var = cgi_name(field.name_string());
    if (!var.empty()) env.emplace_back(std::move(var), std::string(field.value()));
  }
  for (const auto& [k, v] : fn.manifest.env) {
    bool taken = std::any_of(env.begin(), env.end(), [&k](const auto& e) { return e.first == k; });
    if (!taken) env.emplace_back(k, v);
  }
  return env;
}

Response method_not_allowed(std::string_view allow) {
  auto res = problem(bhttp::status::method_not_allowed, "Method not allowed",
                     "this route accepts: " + std::string(allow));
  res.set(bhttp::field::allow, allow);
  return res;
}

Response not_found_route(std::string_view target) {
  return problem(bhttp::status::not_found, "Not found",
                 "no route for " + std::string(target.substr(0, 200)) +
                     " (the API lives under /v1; see GET /)");
}

}  // namespace

Api::Api(ApiDeps deps) : deps_(std::move(deps)) {}

std::size_t Api::function_count() const {
  std::shared_lock lock(table_mutex_);
  return functions_.size();
}

Api::FunctionPtr Api::find(std::string_view name) const {
  std::shared_lock lock(table_mutex_);
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : it->second;
}

void Api::restore() {
  auto all = deps_.registry.list_functions();
  if (!all) {
    spdlog::error("cannot list functions from the registry: {}", all.error().message);
    return;
  }
  for (auto& fn : *all) {
    if (fn.manifest.wasm_module) {
      if (auto st = deps_.wasm.prepare(fn); !st) {
        spdlog::error("function {}: wasm variant not ready: {}", fn.name, st.error().message);
      }
    }
    if (fn.manifest.docker_image && deps_.docker != nullptr) {
      if (auto st = deps_.docker->prepare(fn); !st) {
        spdlog::error("function {}: docker variant not ready: {}", fn.name, st.error().message);
      }
    }
    std::unique_lock lock(table_mutex_);
    auto name = fn.name;
    functions_[name] = std::make_shared<const Function>(std::move(fn));
  }
  spdlog::info("restored {} function(s)", function_count());
}

bool Api::authorized(const Request& request) const {
  if (deps_.token.empty()) return true;
  auto it = request.find(bhttp::field::authorization);
  if (it == request.end()) return false;
  std::string_view value = it->value();
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() != kBearer.size() + deps_.token.size() ||
      value.substr(0, kBearer.size()) != kBearer) {
    return false;
  }
  // Constant-time comparison: no early exit on the first differing byte.
  unsigned char diff = 0;
  auto given = value.substr(kBearer.size());
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ deps_.token[i]);
  }
  return diff == 0;
}

std::uint64_t Api::body_limit(const RequestHeader& header) const {
  auto target = parse_target(header.target());
  const auto& s = target.segments;
  if (s.size() >= 4 && s[0] == "v1" && s[1] == "functions" && s[3] == "invoke") {
    if (auto fn = find(s[2])) return fn->manifest.limits.max_input_bytes;
    return Limits::kDefaultPayloadBytes;
  }
  if ((s.size() == 2 && s[0] == "v1" && s[1] == "modules") ||
      (s.size() == 3 && s[0] == "v1" && s[1] == "functions")) {
    return kModuleBodyLimit;
  }
  return kDefaultBodyLimit;
}

asio::awaitable<Response> Api::handle(Request& request) {
  const auto target = parse_target(request.target());
  if (!target.ok) {
    co_return problem(bhttp::status::bad_request, "Bad request", "malformed request target");
  }
  const auto& s = target.segments;
  const auto method = request.method();
  try {
    if (!s.empty() && s[0] == "v1") {
      if (s.size() == 2 && s[1] == "modules") {
        if (method != bhttp::verb::post) co_return method_not_allowed("POST");
        if (!authorized(request)) {
          co_return problem(make_error(ErrorKind::kUnauthorized,
                                       "this route needs 'Authorization: Bearer <token>'"));
        }
        co_return co_await upload_module(request);
      }
      if (s.size() == 2 && s[1] == "functions") {
        if (method != bhttp::verb::get) co_return method_not_allowed("GET");
        co_return co_await list_functions();
      }
      if (s.size() >= 3 && s[1] == "functions") {
        if (!is_valid_function_name(s[2])) co_return problem(bad_name(s[2]));
        if (s.size() == 3) {
          if (method == bhttp::verb::get) co_return co_await get_function(s[2]);
          if (method == bhttp::verb::put || method == bhttp::verb::delete_) {
            if (!authorized(request)) {
              co_return problem(make_error(ErrorKind::kUnauthorized,
                                           "this route needs 'Authorization: Bearer <token>'"));
            }
            if (method == bhttp::verb::put) co_return co_await put_function(request, s[2]);
            co_return co_await delete_function(s[2]);
          }
          co_return method_not_allowed("GET, PUT, DELETE");
        }
        if (s[3] == "invoke") {
          if (method != bhttp::verb::post && method != bhttp::verb::get) {
            co_return method_not_allowed("POST, GET");
          }
          std::string path_info;
          for (std::size_t i = 4; i < s.size(); ++i) path_info += "/" + s[i];
          co_return co_await invoke(request, s[2], path_info, target.query);
        }
      }
      if (s.size() == 2 && s[1] == "invocations") {
        if (method != bhttp::verb::get) co_return method_not_allowed("GET");
        co_return co_await list_invocations(target.query);
      }
      if (s.size() == 3 && s[1] == "invocations") {
        if (method != bhttp::verb::get) co_return method_not_allowed("GET");
        co_return co_await get_invocation(s[2]);
      }
      co_return not_found_route(request.target());
    }
    if (s.size() == 1 && s[0] == "metrics") {
      if (method != bhttp::verb::get) co_return method_not_allowed("GET");
      co_return render_metrics();
    }
    if (s.size() == 1 && s[0] == "healthz") {
      co_return json_response(bhttp::status::ok, json::object{{"status", "ok"}});
    }
    if (s.size() == 1 && s[0] == "readyz") co_return co_await readiness();
    if (method == bhttp::verb::get || method == bhttp::verb::head) {
      std::string path = "/";
      for (std::size_t i = 0; i < s.size(); ++i) path += (i ? "/" : "") + s[i];
      if (const auto* asset = dashboard::find_asset(path)) {
        Response res{bhttp::status::ok, 11};
        res.set(bhttp::field::content_type, asset->content_type);
        res.set(bhttp::field::etag, asset->etag);
        res.set(bhttp::field::cache_control, "no-cache");
        if (auto inm = request.find(bhttp::field::if_none_match);
            inm != request.end() && inm->value() == asset->etag) {
          res.result(bhttp::status::not_modified);
          co_return res;
        }
        res.body() = std::string(asset->body);
        co_return res;
      }
    }
    co_return not_found_route(request.target());
  } catch (const std::exception& e) {
    spdlog::error("unhandled error on {} {}: {}", std::string(request.method_string()),
                  std::string(request.target()), e.what());
    co_return problem(bhttp::status::internal_server_error, "Internal error",
                      "the server failed to handle this request; see its log");
  }
}

// --- modules -------------------------------------------------------------

Result<std::string> Api::store_module(const std::string& bytes) {
  auto digest = store::sha256_digest(bytes);
  if (!digest) return digest;
  // Validate before storing anything: compile and check it is a command.
  auto module = deps_.modules.compile(*digest, bytes);
  if (!module) return std::move(module).error();
  if (auto program = wasm::Program::link(deps_.wasm.engine(), std::move(*module)); !program) {
    return std::move(program).error();
  }
  if (auto stored = deps_.blobs.put(bytes); !stored) return stored;
  // Compilation leaves megabytes of freed heap in this worker's malloc
  // arena; hand them back so an idle server stays small.
  ::malloc_trim(0);
  return digest;
}

asio::awaitable<Response> Api::upload_module(Request& request) {
  if (request.body().empty()) {
    co_return problem(bhttp::status::bad_request, "Bad request",
                      "empty body: send the module's bytes with Content-Type: application/wasm");
  }
  auto bytes = std::make_shared<std::string>(std::move(request.body()));
  auto work = [this, bytes] { return store_module(*bytes); };
  auto digest = co_await offload(deps_.workers, std::move(work));
  if (!digest) co_return problem(digest.error());
  co_return json_response(bhttp::status::created,
                          json::object{{"digest", *digest}, {"size", bytes->size()}});
}

// --- functions -----------------------------------------------------------

Result<std::pair<Function, bool>> Api::deploy(std::string name, Manifest manifest) {
  std::lock_guard deploy_lock(deploy_mutex_);
  if (manifest.wasm_module && !deps_.blobs.contains(*manifest.wasm_module)) {
    return make_error(
        ErrorKind::kInvalidArgument,
        "module " + *manifest.wasm_module + " has not been uploaded: POST it to /v1/modules first");
  }
  Function fn;
  fn.name = name;
  fn.manifest = std::move(manifest);
  // Prepare before committing: a variant that cannot run is never recorded
  // as deployed.
  if (fn.manifest.wasm_module) {
    if (auto st = deps_.wasm.prepare(fn); !st) return std::move(st).error();
  }
  if (fn.manifest.docker_image) {
    if (deps_.docker != nullptr) {
      if (auto st = deps_.docker->prepare(fn); !st) return std::move(st).error();
    } else {
      spdlog::warn("function {}: docker variant recorded but not prepared (--no-docker)", name);
    }
  }
  auto previous = find(name);
  auto created = deps_.registry.put_function(fn);
  if (!created) {
    // Put the runtimes back as they were.
    if (previous) {
      (void)deps_.wasm.prepare(*previous);
      if (deps_.docker != nullptr && previous->manifest.docker_image) {
        (void)deps_.docker->prepare(*previous);
      }
    } else {
      deps_.wasm.remove(name);
      if (deps_.docker != nullptr) deps_.docker->remove(name);
    }
    return std::move(created).error();
  }
  if (!fn.manifest.wasm_module) deps_.wasm.remove(name);
  if (!fn.manifest.docker_image && deps_.docker != nullptr) deps_.docker->remove(name);
  auto stored = deps_.registry.get_function(name);
  if (!stored) return std::move(stored).error();
  {
    std::unique_lock lock(table_mutex_);
    functions_[name] = std::make_shared<const Function>(*stored);
  }
  deps_.metrics.set_functions(static_cast<std::int64_t>(function_count()));
  return std::pair<Function, bool>(std::move(*stored), *created);
}

asio::awaitable<Response> Api::put_function(Request& request, const std::string& name) {
  std::string content_type;
  if (auto it = request.find(bhttp::field::content_type); it != request.end()) {
    content_type = std::string(it->value());
  }
  auto body = std::make_shared<std::string>(std::move(request.body()));
  auto work = [this, body, name, content_type]() -> Result<std::pair<Function, bool>> {
    Manifest manifest;
    if (content_type.rfind("application/wasm", 0) == 0) {
      // One call: upload the module and deploy it with defaults.
      auto digest = store_module(*body);
      if (!digest) return std::move(digest).error();
      manifest.wasm_module = *digest;
    } else {
      auto parsed = parse_manifest(*body);
      if (!parsed) return std::move(parsed).error();
      manifest = std::move(*parsed);
    }
    return deploy(name, std::move(manifest));
  };
  auto result = co_await offload(deps_.workers, std::move(work));
  if (!result) co_return problem(result.error());
  auto& [fn, created] = *result;
  spdlog::info("function {} {}", fn.name, created ? "created" : "replaced");
  auto res = json_response(created ? bhttp::status::created : bhttp::status::ok,
                           function_json(fn, nullptr));
  res.set(bhttp::field::location, "/v1/functions/" + fn.name);
  co_return res;
}

asio::awaitable<Response> Api::get_function(const std::string& name) {
  auto fn = find(name);
  if (!fn) {
    co_return problem(make_error(ErrorKind::kNotFound, "no function named '" + name + "'"));
  }
  auto work = [this, name] { return deps_.registry.function_stats(name); };
  auto stats = co_await offload(deps_.workers, std::move(work));
  if (!stats) co_return problem(stats.error());
  co_return json_response(bhttp::status::ok, function_json(*fn, &*stats));
}

asio::awaitable<Response> Api::list_functions() {
  std::vector<FunctionPtr> all;
  {
    std::shared_lock lock(table_mutex_);
    for (const auto& [name, fn] : functions_) all.push_back(fn);
  }
  auto work = [this, all]() -> Result<json::array> {
    json::array out;
    for (const auto& fn : all) {
      auto stats = deps_.registry.function_stats(fn->name);
      if (!stats) return std::move(stats).error();
      out.push_back(function_json(*fn, &*stats));
    }
    return out;
  };
  auto body = co_await offload(deps_.workers, std::move(work));
  if (!body) co_return problem(body.error());
  co_return json_response(bhttp::status::ok, json::object{{"functions", std::move(*body)}});
}

asio::awaitable<Response> Api::delete_function(const std::string& name) {
  auto work = [this, name]() -> Result<bool> {
    std::lock_guard deploy_lock(deploy_mutex_);
    auto removed = deps_.registry.delete_function(name);
    if (!removed) return removed;
    deps_.wasm.remove(name);
    if (deps_.docker != nullptr) deps_.docker->remove(name);  // stops warm containers
    {
      std::unique_lock lock(table_mutex_);
      functions_.erase(name);
    }
    deps_.metrics.remove_function(name);
    deps_.metrics.set_functions(static_cast<std::int64_t>(function_count()));
    return *removed;
  };
  auto existed = co_await offload(deps_.workers, std::move(work));
  if (!existed) co_return problem(existed.error());
  if (!*existed) {
    co_return problem(make_error(ErrorKind::kNotFound, "no function named '" + name + "'"));
  }
  spdlog::info("function {} deleted", name);
  Response res{bhttp::status::no_content, 11};
  co_return res;
}

// --- invoke --------------------------------------------------------------

asio::awaitable<Response> Api::invoke(Request& request, const std::string& name,
                                      const std::string& path_info, const std::string& query) {
  const auto received = Clock::now();
  auto fn = find(name);
  if (!fn) {
    co_return problem(make_error(ErrorKind::kNotFound, "no function named '" + name + "'"));
  }
  RuntimeKind kind = fn->manifest.default_runtime;
  auto params = parse_query(query);
  if (auto it = params.find("runtime"); it != params.end()) {
    auto parsed = parse_runtime_kind(it->second);
    if (!parsed) {
      co_return problem(
          make_error(ErrorKind::kInvalidArgument,
                     "runtime must be 'wasm' or 'docker', got '" + it->second.substr(0, 40) + "'"));
    }
    kind = *parsed;
  }
  if (!fn->manifest.has(kind)) {
    co_return problem(make_error(ErrorKind::kNotFound,
                                 "function '" + name + "' has no " + to_string(kind) + " variant"));
  }
  if (request.body().size() > fn->manifest.limits.max_input_bytes) {
    co_return problem(make_error(ErrorKind::kTooLarge,
                                 "request body of " + std::to_string(request.body().size()) +
                                     " bytes exceeds this function's max_input_bytes (" +
                                     std::to_string(fn->manifest.limits.max_input_bytes) + ")"));
  }
  auto ticket = deps_.invoker.admit();
  if (!ticket) co_return problem(ticket.error());

  InvocationRequest req;
  req.function = fn->name;
  req.env = cgi_env(request, *fn, kind, path_info, query);
  req.args = fn->manifest.args;
  req.limits = fn->manifest.limits;
  req.body = std::move(request.body());

  auto work = [this, fn, kind, received, req = std::move(req),
               ticket = std::make_shared<Invoker::Ticket>(std::move(*ticket))]() mutable {
    return deps_.invoker.run(std::move(*ticket), *fn, kind, std::move(req), received);
  };
  auto& pool = kind == RuntimeKind::kDocker ? deps_.docker_workers : deps_.workers;
  auto outcome = co_await offload(pool, std::move(work));
  if (!outcome) co_return problem(outcome.error());

  const auto& result = outcome->result;
  const auto& rec = outcome->record;
  Response res;
  switch (result.outcome) {
    case Outcome::kOk:
      res = Response{bhttp::status::ok, 11};
      res.set(bhttp::field::content_type, "application/octet-stream");
      res.body() = std::move(outcome->result.stdout_data);
      break;
    case Outcome::kTimeout:
      res = problem(bhttp::status::gateway_timeout, "Function timed out", result.message,
                    json::object{{"type", "urn:nebula:problem:function-timeout"},
                                 {"kind", "timeout"},
                                 {"invocation_id", rec.id},
                                 {"stderr", rec.stderr_tail}});
      break;
    default:
      res = problem(bhttp::status::bad_gateway, "Function failed",
                    result.message.empty() ? std::string("the function failed") : result.message,
                    json::object{{"type", "urn:nebula:problem:function-failed"},
                                 {"kind", to_string(result.outcome)},
                                 {"exit_code", result.exit_code},
                                 {"invocation_id", rec.id},
                                 {"stderr", rec.stderr_tail}});
      break;
  }
  const auto& t = rec.timings;
  res.set("X-Nebula-Invocation-Id", rec.id);
  res.set("X-Nebula-Runtime", to_string(kind));
  res.set("X-Nebula-Cold-Start", rec.cold ? "true" : "false");
  res.set("Server-Timing",
          "queue;dur=" + ms_text(t.queue_us) + ", startup;dur=" + ms_text(t.startup_us) +
              ", exec;dur=" + ms_text(t.exec_us) + ", total;dur=" + ms_text(t.total_us));
  co_return res;
}

// --- invocations ---------------------------------------------------------

asio::awaitable<Response> Api::list_invocations(const std::string& query) {
  auto params = parse_query(query);
  store::InvocationQuery q;
  if (auto it = params.find("function"); it != params.end() && !it->second.empty()) {
    if (!is_valid_function_name(it->second)) co_return problem(bad_name(it->second));
    q.function = it->second;
  }
  if (auto it = params.find("runtime"); it != params.end() && !it->second.empty()) {
    q.runtime = parse_runtime_kind(it->second);
    if (!q.runtime) {
      co_return problem(
          make_error(ErrorKind::kInvalidArgument, "runtime must be 'wasm' or 'docker'"));
    }
  }
  if (auto it = params.find("outcome"); it != params.end() && !it->second.empty()) {
    q.outcome = parse_outcome(it->second);
    if (!q.outcome) {
      co_return problem(make_error(ErrorKind::kInvalidArgument,
                                   "outcome must be one of ok, exit, trap, timeout, memory, "
                                   "rejected"));
    }
  }
  if (auto it = params.find("limit"); it != params.end() && !it->second.empty()) {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
    if (ec != std::errc() || ptr != it->second.data() + it->second.size() || n < 1 ||
        n > store::InvocationQuery::kMaxLimit) {
      co_return problem(make_error(ErrorKind::kInvalidArgument,
                                   "limit must be a whole number from 1 to " +
                                       std::to_string(store::InvocationQuery::kMaxLimit)));
    }
    q.limit = n;
  }
  if (auto it = params.find("before"); it != params.end() && !it->second.empty()) {
    if (!store::is_valid_invocation_id(it->second)) {
      co_return problem(make_error(ErrorKind::kInvalidArgument,
                                   "before must be an invocation id from a previous page"));
    }
    q.before = it->second;
  }
  auto work = [this, q] { return deps_.registry.list_invocations(q); };
  auto records = co_await offload(deps_.workers, std::move(work));
  if (!records) co_return problem(records.error());
  json::array items;
  for (const auto& r : *records) items.push_back(record_json(r, false));
  json::value next = nullptr;
  if (records->size() == q.limit && !records->empty()) next = json::value(records->back().id);
  co_return json_response(bhttp::status::ok,
                          json::object{{"invocations", std::move(items)}, {"next_before", next}});
}

asio::awaitable<Response> Api::get_invocation(const std::string& id) {
  if (!store::is_valid_invocation_id(id)) {
    co_return problem(make_error(ErrorKind::kInvalidArgument,
                                 "'" + id.substr(0, 40) + "' is not an invocation id"));
  }
  auto work = [this, id] { return deps_.registry.get_invocation(id); };
  auto record = co_await offload(deps_.workers, std::move(work));
  if (!record) co_return problem(record.error());
  co_return json_response(bhttp::status::ok, record_json(*record, true));
}

// --- operations ----------------------------------------------------------

Response Api::render_metrics() {
  const auto pending = static_cast<std::int64_t>(deps_.invoker.pending());
  const auto running = static_cast<std::int64_t>(deps_.invoker.running());
  deps_.metrics.set_queue_depth(std::max<std::int64_t>(0, pending - running));
  deps_.metrics.set_functions(static_cast<std::int64_t>(function_count()));
  if (deps_.warm_containers) {
    std::shared_lock lock(table_mutex_);
    for (const auto& [name, fn] : functions_) {
      if (fn->manifest.docker_image) {
        deps_.metrics.set_warm_containers(name,
                                          static_cast<std::int64_t>(deps_.warm_containers(name)));
      }
    }
  }
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.body() = deps_.metrics.render();
  return res;
}

asio::awaitable<Response> Api::readiness() {
  auto work = [this]() -> json::object {
    json::object checks;
    bool ok = true;
    store::InvocationQuery probe;
    probe.limit = 1;
    auto fns = deps_.registry.list_invocations(probe);
    checks["store"] = fns ? "ok" : fns.error().message;
    ok = ok && fns.has_value();
    if (deps_.docker == nullptr) {
      checks["docker"] = "disabled";
    } else {
      bool reachable = deps_.docker_reachable && deps_.docker_reachable();
      checks["docker"] = reachable ? "ok" : "unreachable";
      ok = ok && reachable;
    }
    return json::object{{"status", ok ? "ready" : "not ready"}, {"checks", std::move(checks)}};
  };
  auto ready = co_await offload(deps_.workers, std::move(work));
  const bool ok = ready["status"] == "ready";
  co_return json_response(ok ? bhttp::status::ok : bhttp::status::service_unavailable, ready);
}

}  // namespace nebula::http
