#include "core/function.hpp"

#include <limits>

#include "core/outbound.hpp"
#include "core/schedule.hpp"

#include <boost/json.hpp>

namespace nebula {
namespace {

namespace json = boost::json;

constexpr std::uint64_t kMaxPayloadBytes = 64ULL * 1024 * 1024;
constexpr std::uint32_t kMaxTimeoutMs = 15U * 60U * 1000U;  // 15 minutes, as Lambda
constexpr std::uint32_t kMaxMemoryMb = 4096;                // wasm32's 4 GiB address space
constexpr std::uint32_t kMaxWarm = 64;
constexpr std::size_t kMaxEnvEntries = 256;
constexpr std::size_t kMaxArgs = 256;
constexpr std::size_t kMaxOutboundHosts = 64;
constexpr std::uint32_t kMaxConcurrency = 100'000;
constexpr std::uint32_t kMaxAsyncRetries = 20;
constexpr std::uint32_t kMaxAsyncQueued = 100'000;
constexpr std::size_t kMaxTriggers = 16;
constexpr std::size_t kMaxTriggerInputBytes = 64 * 1024;

// The name rule of functions, which secrets share; said the same way
// wherever a name is checked.
constexpr std::string_view kNameRule =
    "use 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit";

Error field_error(std::string_view field, std::string_view what) {
  return make_error(ErrorKind::kInvalidArgument,
                    "manifest field '" + std::string(field) + "' " + std::string(what));
}

Result<std::uint64_t> read_uint(const json::value& v, std::string_view field, std::uint64_t min,
                                std::uint64_t max) {
  std::uint64_t n = 0;
  if (v.is_uint64()) {
    n = v.get_uint64();
  } else if (v.is_int64() && v.get_int64() >= 0) {
    n = static_cast<std::uint64_t>(v.get_int64());
  } else {
    return field_error(field, "must be a non-negative integer");
  }
  if (n < min || n > max) {
    return field_error(field, "must be between " + std::to_string(min) + " and " +
                                  std::to_string(max) + " (got " + std::to_string(n) + ")");
  }
  return n;
}

Result<const json::object*> read_object(const json::value& v, std::string_view field) {
  if (!v.is_object()) return field_error(field, "must be an object");
  return &v.get_object();
}

// Rejects keys a manifest section does not define, so that a typo
// ("timeout": 5) is reported instead of silently ignored.
Status check_keys(const json::object& obj, std::string_view section,
                  std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, _] : obj) {
    bool known = false;
    for (auto a : allowed) known = known || key == a;
    if (!known) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return field_error(
          std::string(section) + std::string(section.empty() ? "" : ".") + std::string(key),
          "is not a known field (expected one of: " + list + ")");
    }
  }
  return {};
}

bool is_valid_env_name(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  if (name[0] >= '0' && name[0] <= '9') return false;
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool is_valid_image_ref(std::string_view ref) {
  if (ref.empty() || ref.size() > 255) return false;
  for (char c : ref) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == '/' || c == ':' || c == '@';
    if (!ok) return false;
  }
  return ref[0] != '-' && ref[0] != '.' && ref[0] != '/';
}

Status parse_limits(const json::object& obj, Limits& limits) {
  if (auto st = check_keys(
          obj, "limits",
          {"timeout_ms", "memory_mb", "max_input_bytes", "max_output_bytes", "max_concurrency"});
      !st) {
    return st;
  }
  if (auto* v = obj.if_contains("timeout_ms")) {
    auto n = read_uint(*v, "limits.timeout_ms", 1, kMaxTimeoutMs);
    if (!n) return std::move(n).error();
    limits.timeout_ms = static_cast<std::uint32_t>(*n);
  }
  if (auto* v = obj.if_contains("memory_mb")) {
    auto n = read_uint(*v, "limits.memory_mb", 1, kMaxMemoryMb);
    if (!n) return std::move(n).error();
    limits.memory_mb = static_cast<std::uint32_t>(*n);
  }
  if (auto* v = obj.if_contains("max_input_bytes")) {
    auto n = read_uint(*v, "limits.max_input_bytes", 0, kMaxPayloadBytes);
    if (!n) return std::move(n).error();
    limits.max_input_bytes = *n;
  }
  if (auto* v = obj.if_contains("max_output_bytes")) {
    auto n = read_uint(*v, "limits.max_output_bytes", 0, kMaxPayloadBytes);
    if (!n) return std::move(n).error();
    limits.max_output_bytes = *n;
  }
  if (auto* v = obj.if_contains("max_concurrency")) {
    auto n = read_uint(*v, "limits.max_concurrency", 0, kMaxConcurrency);
    if (!n) return std::move(n).error();
    limits.max_concurrency = static_cast<std::uint32_t>(*n);
  }
  return {};
}

Status parse_pool(const json::object& obj, DockerPool& pool) {
  if (auto st = check_keys(obj, "docker_pool", {"min_warm", "max_warm", "idle_timeout_s"}); !st) {
    return st;
  }
  if (auto* v = obj.if_contains("min_warm")) {
    auto n = read_uint(*v, "docker_pool.min_warm", 0, kMaxWarm);
    if (!n) return std::move(n).error();
    pool.min_warm = static_cast<std::uint32_t>(*n);
  }
  if (auto* v = obj.if_contains("max_warm")) {
    auto n = read_uint(*v, "docker_pool.max_warm", 0, kMaxWarm);
    if (!n) return std::move(n).error();
    pool.max_warm = static_cast<std::uint32_t>(*n);
  }
  if (auto* v = obj.if_contains("idle_timeout_s")) {
    auto n = read_uint(*v, "docker_pool.idle_timeout_s", 1, 24U * 3600U);
    if (!n) return std::move(n).error();
    pool.idle_timeout_s = static_cast<std::uint32_t>(*n);
  }
  if (pool.min_warm > pool.max_warm) {
    return field_error("docker_pool.min_warm", "must not exceed docker_pool.max_warm");
  }
  return {};
}

Status parse_async(const json::object& obj, AsyncSettings& async) {
  if (auto st = check_keys(obj, "async", {"max_retries", "max_queued"}); !st) return st;
  if (auto* v = obj.if_contains("max_retries")) {
    auto n = read_uint(*v, "async.max_retries", 0, kMaxAsyncRetries);
    if (!n) return std::move(n).error();
    async.max_retries = static_cast<std::uint32_t>(*n);
  }
  if (auto* v = obj.if_contains("max_queued")) {
    auto n = read_uint(*v, "async.max_queued", 1, kMaxAsyncQueued);
    if (!n) return std::move(n).error();
    async.max_queued = static_cast<std::uint32_t>(*n);
  }
  return {};
}

const char* to_string(MissedFirings missed) noexcept {
  return missed == MissedFirings::kCatchUp ? "catch_up" : "skip";
}

std::optional<MissedFirings> parse_missed(std::string_view text) noexcept {
  if (text == "skip") return MissedFirings::kSkip;
  if (text == "catch_up") return MissedFirings::kCatchUp;
  return std::nullopt;
}

// {"schedule": "<cron or @every>", "input": "<body>", "missed": "skip"}.
// The schedule is parsed here so that a deploy with one that cannot work
// is refused, not discovered when it never fires.
Result<Trigger> parse_trigger(const json::value& v, const std::string& field) {
  auto obj = read_object(v, field);
  if (!obj) return std::move(obj).error();
  if (auto st = check_keys(**obj, field, {"schedule", "input", "missed"}); !st) {
    return std::move(st).error();
  }
  Trigger t;
  auto* schedule = (*obj)->if_contains("schedule");
  if (!schedule || !schedule->is_string()) {
    return field_error(field + ".schedule",
                       "must be a cron expression such as \"*/5 * * * *\" or \"@every 30s\"");
  }
  if (auto parsed = Schedule::parse(schedule->get_string()); !parsed) {
    return field_error(field + ".schedule", "is not a valid schedule: " + parsed.error().message);
  }
  t.schedule = std::string(schedule->get_string());
  if (auto* input = (*obj)->if_contains("input")) {
    if (!input->is_string()) return field_error(field + ".input", "must be a string");
    if (input->get_string().size() > kMaxTriggerInputBytes) {
      return field_error(field + ".input",
                         "is longer than " + std::to_string(kMaxTriggerInputBytes) + " bytes");
    }
    t.input = std::string(input->get_string());
  }
  if (auto* missed = (*obj)->if_contains("missed")) {
    auto parsed = missed->is_string() ? parse_missed(missed->get_string()) : std::nullopt;
    if (!parsed) return field_error(field + ".missed", "must be \"skip\" or \"catch_up\"");
    t.missed = *parsed;
  }
  return t;
}

// "env": literal strings, or {"secret": "<name>"} for a variable whose value
// is a stored secret. Both kinds share one namespace and one size limit.
Status parse_env(const json::object& obj, Manifest& m) {
  if (obj.size() > kMaxEnvEntries) {
    return field_error("env", "has more than " + std::to_string(kMaxEnvEntries) + " entries");
  }
  for (const auto& [key, val] : obj) {
    const std::string field = "env." + std::string(key);
    if (!is_valid_env_name(key)) {
      return field_error(field, "is not a valid variable name (letters, digits, '_')");
    }
    // JSON objects cannot repeat a key once parsed (the last one wins), but
    // the check keeps the rule where it is stated.
    for (const auto& [name, _] : m.env) {
      if (name == key) return field_error(field, "appears more than once");
    }
    for (const auto& s : m.secret_env) {
      if (s.env == key) return field_error(field, "appears more than once");
    }
    if (val.is_string()) {
      m.env.emplace_back(std::string(key), std::string(val.get_string()));
      continue;
    }
    if (!val.is_object()) {
      return field_error(field, "must be a string or {\"secret\": \"<secret name>\"}");
    }
    const auto& ref = val.get_object();
    if (auto st = check_keys(ref, field, {"secret"}); !st) return st;
    auto* secret = ref.if_contains("secret");
    if (!secret || !secret->is_string()) {
      return field_error(field + ".secret", "must be the name of a secret");
    }
    if (!is_valid_function_name(secret->get_string())) {
      return field_error(field + ".secret",
                         "is not a valid secret name: " + std::string(kNameRule));
    }
    m.secret_env.push_back(SecretEnv{std::string(key), std::string(secret->get_string())});
  }
  return {};
}

}  // namespace

const char* to_string(WasmKind kind) noexcept {
  switch (kind) {
    case WasmKind::kModule: return "module";
    case WasmKind::kCommand: return "command";
    case WasmKind::kHttp: return "http";
  }
  return "module";
}

std::optional<WasmKind> parse_wasm_kind(std::string_view text) noexcept {
  for (auto kind : {WasmKind::kModule, WasmKind::kCommand, WasmKind::kHttp}) {
    if (text == to_string(kind)) return kind;
  }
  return std::nullopt;
}

const char* to_string(RuntimeKind kind) noexcept {
  return kind == RuntimeKind::kWasm ? "wasm" : "docker";
}

std::optional<RuntimeKind> parse_runtime_kind(std::string_view text) noexcept {
  if (text == "wasm") return RuntimeKind::kWasm;
  if (text == "docker") return RuntimeKind::kDocker;
  return std::nullopt;
}

bool is_valid_function_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name[0])) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

Status check_function_name(std::string_view name) {
  if (is_valid_function_name(name)) return {};
  return make_error(
      ErrorKind::kInvalidArgument,
      "invalid function name '" + std::string(name.substr(0, 80)) + "': " + std::string(kNameRule));
}

bool is_valid_digest(std::string_view digest) noexcept {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || digest.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  for (char c : digest.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<Manifest> parse_manifest(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) {
    return make_error(ErrorKind::kInvalidArgument, "manifest is not valid JSON: " + ec.message());
  }
  if (!doc.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "manifest must be a JSON object");
  }
  const auto& root = doc.get_object();
  if (auto st = check_keys(root, "",
                           {"wasm", "docker", "default_runtime", "env", "args", "limits",
                            "docker_pool", "allowed_outbound_hosts", "async", "triggers"});
      !st) {
    return std::move(st).error();
  }

  Manifest m;
  if (auto* v = root.if_contains("wasm"); v && !v->is_null()) {
    auto obj = read_object(*v, "wasm");
    if (!obj) return std::move(obj).error();
    if (auto st = check_keys(**obj, "wasm", {"module", "kind"}); !st) {
      return std::move(st).error();
    }
    auto* mod = (*obj)->if_contains("module");
    if (!mod || !mod->is_string() || !is_valid_digest(mod->get_string())) {
      return field_error("wasm.module", "must be a module digest \"sha256:<64 hex digits>\"");
    }
    m.wasm_module = std::string(mod->get_string());
    if (auto* kind = (*obj)->if_contains("kind"); kind && !kind->is_null()) {
      auto parsed = kind->is_string() ? parse_wasm_kind(kind->get_string()) : std::nullopt;
      if (!parsed) return field_error("wasm.kind", "must be \"module\", \"command\" or \"http\"");
      m.wasm_kind = *parsed;
    }
  }
  if (auto* v = root.if_contains("docker"); v && !v->is_null()) {
    auto obj = read_object(*v, "docker");
    if (!obj) return std::move(obj).error();
    if (auto st = check_keys(**obj, "docker", {"image"}); !st) return std::move(st).error();
    auto* img = (*obj)->if_contains("image");
    if (!img || !img->is_string() || !is_valid_image_ref(img->get_string())) {
      return field_error("docker.image", "must be an image reference such as \"name:tag\"");
    }
    m.docker_image = std::string(img->get_string());
  }
  if (!m.wasm_module && !m.docker_image) {
    return make_error(ErrorKind::kInvalidArgument,
                      "manifest needs at least one variant: \"wasm\" or \"docker\"");
  }
  m.default_runtime = m.wasm_module ? RuntimeKind::kWasm : RuntimeKind::kDocker;
  if (auto* v = root.if_contains("default_runtime")) {
    auto kind = v->is_string() ? parse_runtime_kind(v->get_string()) : std::nullopt;
    if (!kind) return field_error("default_runtime", "must be \"wasm\" or \"docker\"");
    if (!m.has(*kind)) {
      return field_error("default_runtime", std::string("names the ") + to_string(*kind) +
                                                " variant, which the manifest does not define");
    }
    m.default_runtime = *kind;
  }
  if (auto* v = root.if_contains("env")) {
    auto obj = read_object(*v, "env");
    if (!obj) return std::move(obj).error();
    if (auto st = parse_env(**obj, m); !st) return std::move(st).error();
  }
  if (auto* v = root.if_contains("args")) {
    if (!v->is_array()) return field_error("args", "must be an array of strings");
    if (v->get_array().size() > kMaxArgs) {
      return field_error("args", "has more than " + std::to_string(kMaxArgs) + " entries");
    }
    for (const auto& a : v->get_array()) {
      if (!a.is_string()) return field_error("args", "must be an array of strings");
      m.args.emplace_back(a.get_string());
    }
  }
  if (auto* v = root.if_contains("allowed_outbound_hosts")) {
    if (!v->is_array()) {
      return field_error("allowed_outbound_hosts", "must be an array of strings");
    }
    if (v->get_array().size() > kMaxOutboundHosts) {
      return field_error("allowed_outbound_hosts",
                         "has more than " + std::to_string(kMaxOutboundHosts) + " entries");
    }
    for (const auto& item : v->get_array()) {
      if (!item.is_string()) {
        return field_error("allowed_outbound_hosts", "must be an array of strings");
      }
      auto pattern = OutboundPattern::parse(item.get_string());
      if (!pattern) {
        return field_error("allowed_outbound_hosts", "has an invalid entry: " +
                                                         pattern.error().message);
      }
      m.allowed_outbound_hosts.emplace_back(item.get_string());
    }
  }
  if (auto* v = root.if_contains("limits")) {
    auto obj = read_object(*v, "limits");
    if (!obj) return std::move(obj).error();
    if (auto st = parse_limits(**obj, m.limits); !st) return std::move(st).error();
  }
  if (auto* v = root.if_contains("docker_pool")) {
    auto obj = read_object(*v, "docker_pool");
    if (!obj) return std::move(obj).error();
    if (auto st = parse_pool(**obj, m.docker_pool); !st) return std::move(st).error();
  }
  if (auto* v = root.if_contains("async")) {
    auto obj = read_object(*v, "async");
    if (!obj) return std::move(obj).error();
    if (auto st = parse_async(**obj, m.async); !st) return std::move(st).error();
  }
  if (auto* v = root.if_contains("triggers")) {
    if (!v->is_array()) return field_error("triggers", "must be an array of objects");
    if (v->get_array().size() > kMaxTriggers) {
      return field_error("triggers", "has more than " + std::to_string(kMaxTriggers) + " entries");
    }
    std::size_t i = 0;
    for (const auto& item : v->get_array()) {
      auto t = parse_trigger(item, "triggers[" + std::to_string(i++) + "]");
      if (!t) return std::move(t).error();
      m.triggers.push_back(std::move(t).value());
    }
  }
  return m;
}

std::string manifest_to_json(const Manifest& m) {
  json::object root;
  if (m.wasm_module) {
    json::object wasm{{"module", *m.wasm_module}};
    if (m.wasm_kind) wasm["kind"] = to_string(*m.wasm_kind);
    root["wasm"] = std::move(wasm);
  }
  if (m.docker_image) root["docker"] = json::object{{"image", *m.docker_image}};
  root["default_runtime"] = to_string(m.default_runtime);
  json::object env;
  for (const auto& [k, v] : m.env) env[k] = v;
  for (const auto& s : m.secret_env) env[s.env] = json::object{{"secret", s.secret}};
  root["env"] = std::move(env);
  json::array args;
  for (const auto& a : m.args) args.emplace_back(a);
  root["args"] = std::move(args);
  root["limits"] = json::object{{"timeout_ms", m.limits.timeout_ms},
                                {"memory_mb", m.limits.memory_mb},
                                {"max_input_bytes", m.limits.max_input_bytes},
                                {"max_output_bytes", m.limits.max_output_bytes},
                                {"max_concurrency", m.limits.max_concurrency}};
  json::array outbound;
  for (const auto& host : m.allowed_outbound_hosts) outbound.emplace_back(host);
  root["allowed_outbound_hosts"] = std::move(outbound);
  root["docker_pool"] = json::object{{"min_warm", m.docker_pool.min_warm},
                                     {"max_warm", m.docker_pool.max_warm},
                                     {"idle_timeout_s", m.docker_pool.idle_timeout_s}};
  root["async"] =
      json::object{{"max_retries", m.async.max_retries}, {"max_queued", m.async.max_queued}};
  json::array triggers;
  for (const auto& t : m.triggers) {
    triggers.emplace_back(json::object{
        {"schedule", t.schedule}, {"input", t.input}, {"missed", to_string(t.missed)}});
  }
  root["triggers"] = std::move(triggers);
  return json::serialize(root);
}

}  // namespace nebula
