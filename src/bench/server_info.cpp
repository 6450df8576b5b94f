#include "bench/server_info.hpp"

#include <boost/json.hpp>

namespace nebula::bench {
namespace {

namespace json = boost::json;

std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool bool_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

}  // namespace

std::string ServerInfo::docker_description() const {
  if (docker_version.empty()) return {};
  if (docker_api_version.empty()) return docker_version;
  return docker_version + " (API " + docker_api_version + ")";
}

Result<ServerInfo> parse_server_info(std::string_view body) {
  boost::system::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "GET /v1/info: the server's answer is not a JSON object");
  }
  const json::object& o = doc.get_object();
  ServerInfo info;
  info.known = true;
  info.version = string_at(o, "version");
  info.wasmtime = string_at(o, "wasmtime");
  info.node = string_at(o, "node");
  if (const auto* runtimes = object_at(o, "runtimes")) {
    if (const auto* wasm = object_at(*runtimes, "wasm")) {
      info.wasm_available = bool_at(*wasm, "available");
    }
    if (const auto* docker = object_at(*runtimes, "docker")) {
      info.docker_available = bool_at(*docker, "available");
      // Versions only of an engine that answers.
      if (info.docker_available) {
        info.docker_version = string_at(*docker, "version");
        info.docker_api_version = string_at(*docker, "api_version");
      }
    }
  }
  return info;
}

Result<ServerInfo> server_info_from(const http::ClientResponse& response) {
  // 404: a server from before the route; nothing is known, which is not
  // a reason to stop the benchmark.
  if (response.status == 404) return ServerInfo{};
  if (response.status != 200) {
    return make_error(ErrorKind::kUnavailable,
                      "GET /v1/info failed: " + http::problem_detail(response));
  }
  return parse_server_info(response.body);
}

Result<ServerInfo> fetch_server_info(const http::Client& client) {
  auto response = client.request("GET", "/v1/info");
  if (!response) return std::move(response).error();
  return server_info_from(*response);
}

}  // namespace nebula::bench
