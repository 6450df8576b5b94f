#include "docker/api.hpp"

#include <charconv>

#include <boost/json.hpp>

namespace nebula::docker {
namespace json = boost::json;

namespace {

Error bad_reply(std::string_view what) {
  return make_error(ErrorKind::kInternal,
                    "the Docker engine answered with unexpected JSON (" + std::string(what) + ")");
}

Result<json::value> parse_json(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) return bad_reply(std::string(what) + ": " + ec.message());
  return value;
}

// A JSON array of strings; null or missing is an empty list (the engine
// writes `"Entrypoint": null` for images without one).
std::vector<std::string> strings_of(const json::object& object, std::string_view key) {
  std::vector<std::string> out;
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_array()) return out;
  for (const json::value& item : value->get_array()) {
    if (item.is_string()) out.emplace_back(item.get_string());
  }
  return out;
}

std::string string_of(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return {};
  return std::string(value->get_string());
}

std::int64_t int_of(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->get_uint64());
  return 0;
}

bool bool_of(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_bool() && value->get_bool();
}

json::array array_of(const std::vector<std::string>& items) {
  json::array out;
  out.reserve(items.size());
  for (const std::string& item : items) out.emplace_back(item);
  return out;
}

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string versioned(ApiVersion v, std::string_view rest) {
  std::string out = "/v" + v.to_string();
  out += rest;
  return out;
}

}  // namespace

std::string ApiVersion::to_string() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::optional<ApiVersion> parse_api_version(std::string_view text) noexcept {
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == text.size()) return std::nullopt;
  ApiVersion v;
  const char* first = text.data();
  const char* mid = text.data() + dot;
  const char* last = text.data() + text.size();
  auto [p1, e1] = std::from_chars(first, mid, v.major);
  if (e1 != std::errc{} || p1 != mid) return std::nullopt;
  auto [p2, e2] = std::from_chars(mid + 1, last, v.minor);
  if (e2 != std::errc{} || p2 != last) return std::nullopt;
  if (v.major < 0 || v.minor < 0) return std::nullopt;
  return v;
}

Result<ApiVersion> negotiate_api_version(const EngineVersion& engine) {
  const ApiVersion chosen = std::min(kNewestApiVersion, engine.api);
  if (chosen < kOldestApiVersion || chosen < engine.min_api) {
    return make_error(ErrorKind::kUnavailable,
                      "the Docker engine " + engine.version + " speaks API " +
                          engine.min_api.to_string() + "–" + engine.api.to_string() +
                          "; Nebula needs " + kOldestApiVersion.to_string() + " to " +
                          kNewestApiVersion.to_string() + ": upgrade the engine");
  }
  return chosen;
}

std::vector<std::string> ImageInfo::command() const {
  std::vector<std::string> out = entrypoint;
  out.insert(out.end(), cmd.begin(), cmd.end());
  return out;
}

std::string create_container_body(const ContainerSpec& spec) {
  json::array env;
  for (const auto& [key, value] : spec.env) env.emplace_back(key + "=" + value);
  json::object labels;
  for (const auto& [key, value] : spec.labels) labels[key] = value;

  json::object host;
  host["NetworkMode"] = "none";
  host["Memory"] = spec.memory_bytes;
  // Equal to Memory: the container gets no swap on top of its limit.
  host["MemorySwap"] = spec.memory_bytes;
  host["NanoCpus"] = spec.nano_cpus;
  host["PidsLimit"] = spec.pids_limit;
  host["ReadonlyRootfs"] = true;
  host["SecurityOpt"] = json::array{"no-new-privileges"};
  host["CapDrop"] = json::array{"ALL"};
  // Nebula removes containers itself after reading the exit code and the
  // OOM flag, which AutoRemove would race with.
  host["AutoRemove"] = false;
  if (!spec.cgroup_parent.empty()) host["CgroupParent"] = spec.cgroup_parent;
  if (!spec.binds.empty()) host["Binds"] = array_of(spec.binds);
  if (spec.tmp_bytes > 0) {
    host["Tmpfs"] = json::object{
        {"/tmp", "rw,nosuid,nodev,noexec,size=" + std::to_string(spec.tmp_bytes)}};
  }

  json::object body;
  body["Image"] = spec.image;
  body["Env"] = std::move(env);
  body["Labels"] = std::move(labels);
  body["AttachStdin"] = true;
  body["AttachStdout"] = true;
  body["AttachStderr"] = true;
  body["OpenStdin"] = true;
  body["StdinOnce"] = true;
  body["Tty"] = false;
  body["NetworkDisabled"] = true;
  if (!spec.entrypoint.empty()) body["Entrypoint"] = array_of(spec.entrypoint);
  if (!spec.cmd.empty()) body["Cmd"] = array_of(spec.cmd);
  body["HostConfig"] = std::move(host);
  return json::serialize(body);
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4U];
      out += kHex[byte & 0xFU];
    }
  }
  return out;
}

std::string version_target() {
  return "/version";
}
std::string ping_target() {
  return "/_ping";
}
std::string info_target(ApiVersion v) {
  return versioned(v, "/info");
}

std::string image_inspect_target(ApiVersion v, std::string_view image) {
  // Image references contain '/' and ':' which the engine's router accepts
  // as they are; encoding them would break names like "registry:5000/x".
  return versioned(v, "/images/" + std::string(image) + "/json");
}

std::string create_target(ApiVersion v, std::string_view name) {
  if (name.empty()) return versioned(v, "/containers/create");
  return versioned(v, "/containers/create?name=" + url_encode(name));
}

std::string attach_target(ApiVersion v, std::string_view id) {
  return versioned(v,
                   "/containers/" + std::string(id) + "/attach?stream=1&stdin=1&stdout=1&stderr=1");
}

std::string start_target(ApiVersion v, std::string_view id) {
  return versioned(v, "/containers/" + std::string(id) + "/start");
}

std::string wait_target(ApiVersion v, std::string_view id) {
  // not-running: returns at once for a container that already exited, which
  // is how Nebula uses it (after the attach stream reached EOF).
  return versioned(v, "/containers/" + std::string(id) + "/wait?condition=not-running");
}

std::string kill_target(ApiVersion v, std::string_view id, std::string_view signal) {
  return versioned(v, "/containers/" + std::string(id) + "/kill?signal=" + url_encode(signal));
}

std::string inspect_target(ApiVersion v, std::string_view id) {
  return versioned(v, "/containers/" + std::string(id) + "/json");
}

std::string remove_target(ApiVersion v, std::string_view id) {
  // force: kill it if it still runs; v: drop its anonymous volumes too.
  return versioned(v, "/containers/" + std::string(id) + "?force=1&v=1");
}

std::string list_target(ApiVersion v, std::string_view label,
                        std::optional<std::string_view> value) {
  std::string selector(label);
  if (value) {
    selector += '=';
    selector += *value;
  }
  json::object filters;
  filters["label"] = json::array{json::string(selector)};
  return versioned(v, "/containers/json?all=1&filters=" + url_encode(json::serialize(filters)));
}

Result<EngineVersion> parse_version_response(std::string_view body) {
  auto parsed = parse_json(body, "GET /version");
  if (!parsed) return std::move(parsed).error();
  if (!parsed->is_object()) return bad_reply("GET /version is not an object");
  const json::object& object = parsed->get_object();
  EngineVersion out;
  out.version = string_of(object, "Version");
  auto api = parse_api_version(string_of(object, "ApiVersion"));
  if (!api) return bad_reply("GET /version has no ApiVersion");
  out.api = *api;
  // MinAPIVersion is missing from very old engines: assume anything goes.
  out.min_api = parse_api_version(string_of(object, "MinAPIVersion")).value_or(ApiVersion{1, 12});
  return out;
}

Result<EngineInfo> parse_info_response(std::string_view body) {
  auto parsed = parse_json(body, "GET /info");
  if (!parsed) return std::move(parsed).error();
  if (!parsed->is_object()) return bad_reply("GET /info is not an object");
  const json::object& object = parsed->get_object();
  EngineInfo out;
  out.cgroup_driver = string_of(object, "CgroupDriver");
  out.cgroup_version = string_of(object, "CgroupVersion");
  // Engines before API 1.40 do not report CgroupVersion: they only knew v1.
  if (out.cgroup_version.empty()) out.cgroup_version = "1";
  return out;
}

Result<ImageInfo> parse_image_inspect(std::string_view body) {
  auto parsed = parse_json(body, "image inspect");
  if (!parsed) return std::move(parsed).error();
  if (!parsed->is_object()) return bad_reply("image inspect is not an object");
  const json::object& object = parsed->get_object();
  ImageInfo out;
  out.id = string_of(object, "Id");
  if (out.id.empty()) return bad_reply("image inspect has no Id");
  const json::value* config = object.if_contains("Config");
  if (config != nullptr && config->is_object()) {
    out.entrypoint = strings_of(config->get_object(), "Entrypoint");
    out.cmd = strings_of(config->get_object(), "Cmd");
    out.env = strings_of(config->get_object(), "Env");
  }
  return out;
}

Result<std::string> parse_create_response(std::string_view body) {
  auto parsed = parse_json(body, "container create");
  if (!parsed) return std::move(parsed).error();
  if (!parsed->is_object()) return bad_reply("container create is not an object");
  std::string id = string_of(parsed->get_object(), "Id");
  if (id.empty()) return bad_reply("container create has no Id");
  return id;
}

Result<ContainerState> parse_container_inspect(std::string_view body) {
  auto parsed = parse_json(body, "container inspect");
  if (!parsed) return std::move(parsed).error();
  if (!parsed->is_object()) return bad_reply("container inspect is not an object");
  const json::value* state = parsed->get_object().if_contains("State");
  if (state == nullptr || !state->is_object()) return bad_reply("container inspect has no State");
  const json::object& s = state->get_object();
  ContainerState out;
  out.status = string_of(s, "Status");
  out.running = bool_of(s, "Running");
  out.oom_killed = bool_of(s, "OOMKilled");
  out.exit_code = static_cast<int>(int_of(s, "ExitCode"));
  out.pid = static_cast<int>(int_of(s, "Pid"));
  return out;
}

Result<int> parse_wait_response(std::string_view body) {
  auto parsed = parse_json(body, "container wait");
  if (!parsed) return std::move(parsed).error();
  if (!parsed->is_object()) return bad_reply("container wait is not an object");
  const json::object& object = parsed->get_object();
  // {"StatusCode": N, "Error": {"Message": "…"}}: an Error means the engine
  // could not determine the exit (not that the function failed).
  const json::value* error = object.if_contains("Error");
  if (error != nullptr && error->is_object()) {
    std::string message = string_of(error->get_object(), "Message");
    if (!message.empty()) {
      return make_error(ErrorKind::kInternal, "waiting for the container failed: " + message);
    }
  }
  if (object.if_contains("StatusCode") == nullptr)
    return bad_reply("container wait has no StatusCode");
  return static_cast<int>(int_of(object, "StatusCode"));
}

Result<std::vector<ContainerSummary>> parse_container_list(std::string_view body) {
  auto parsed = parse_json(body, "container list");
  if (!parsed) return std::move(parsed).error();
  if (!parsed->is_array()) return bad_reply("container list is not an array");
  std::vector<ContainerSummary> out;
  for (const json::value& item : parsed->get_array()) {
    if (!item.is_object()) continue;
    const json::object& object = item.get_object();
    ContainerSummary summary;
    summary.id = string_of(object, "Id");
    summary.state = string_of(object, "State");
    const json::value* labels = object.if_contains("Labels");
    if (labels != nullptr && labels->is_object()) {
      for (const auto& [key, value] : labels->get_object()) {
        if (value.is_string())
          summary.labels.emplace(std::string(key), std::string(value.get_string()));
      }
    }
    if (!summary.id.empty()) out.push_back(std::move(summary));
  }
  return out;
}

std::string engine_error_message(std::string_view body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (!ec && value.is_object()) {
    std::string message = string_of(value.get_object(), "message");
    if (!message.empty()) return message;
  }
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ')) {
    body.remove_suffix(1);
  }
  return std::string(body);
}

}  // namespace nebula::docker
