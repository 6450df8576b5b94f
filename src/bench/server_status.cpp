#include "bench/server_status.hpp"

#include <boost/json.hpp>

namespace nebula::bench {
namespace {

namespace json = boost::json;

std::uint64_t count_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  if (v->is_double() && v->get_double() >= 0) return static_cast<std::uint64_t>(v->get_double());
  return 0;
}

ProcessFigures process_figures(const json::object& o) {
  ProcessFigures p;
  p.processes = count_at(o, "processes");
  p.rss_bytes = count_at(o, "rss_bytes");
  p.cpu_us = count_at(o, "cpu_us");
  p.threads = count_at(o, "threads");
  p.open_fds = count_at(o, "open_fds");
  p.voluntary_switches = count_at(o, "voluntary_switches");
  return p;
}

}  // namespace

Result<StatusReading> parse_server_status(std::string_view body) {
  boost::system::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "GET /v1/status: the server's answer is not a JSON object");
  }
  const json::object& o = doc.get_object();
  const auto* process = o.if_contains("process");
  if (process == nullptr || !process->is_object()) {
    return make_error(ErrorKind::kInvalidArgument,
                      "GET /v1/status: the answer has no \"process\" object (a server older "
                      "than the route?)");
  }
  StatusReading r;
  r.at = std::chrono::steady_clock::now();
  r.server = process_figures(process->get_object());
  r.functions = count_at(o, "functions");
  r.data_dir_bytes = count_at(o, "data_dir_bytes");
  if (const auto* wasm = o.if_contains("wasm"); wasm != nullptr && wasm->is_object()) {
    if (wasm->get_object().contains("loaded")) {
      r.wasm_loaded = count_at(wasm->get_object(), "loaded");
    }
  }
  if (const auto* docker = o.if_contains("docker"); docker != nullptr && docker->is_object()) {
    const json::object& d = docker->get_object();
    if (const auto* enabled = d.if_contains("enabled"); enabled != nullptr && enabled->is_bool()) {
      r.docker_enabled = enabled->get_bool();
    }
    r.warm_containers = count_at(d, "warm_containers");
    if (const auto* engine = d.if_contains("engine"); engine != nullptr && engine->is_object()) {
      r.engine = process_figures(engine->get_object());
    }
  }
  return r;
}

Result<StatusReading> fetch_server_status(const http::Client& client) {
  auto res = client.request("GET", "/v1/status");
  if (!res) return std::move(res).error();
  if (res->status != 200) {
    return make_error(ErrorKind::kUnavailable, "GET /v1/status answered " +
                                                   std::to_string(res->status) + ": " +
                                                   http::problem_detail(*res));
  }
  return parse_server_status(res->body);
}

double rate_per_s(std::uint64_t before, std::uint64_t after, double seconds) noexcept {
  if (!(seconds > 0) || after <= before) return 0;
  return static_cast<double>(after - before) / seconds;
}

}  // namespace nebula::bench
