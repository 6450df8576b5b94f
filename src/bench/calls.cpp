#include "bench/calls.hpp"

#include <chrono>

#include <boost/json.hpp>

#include "bench/support.hpp"

namespace nebula::bench {
namespace {

namespace json = boost::json;
using http::Client;
using http::ClientResponse;
using http::problem_detail;

std::int64_t int_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  return 0;
}

// A count the record may leave null (a figure the server could not
// measure): nullopt then, and when it is missing or not a count.
std::optional<std::uint64_t> count_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  return std::nullopt;
}

}  // namespace

std::string failure_kind(const ClientResponse& res) {
  boost::system::error_code ec;
  auto doc = json::parse(res.body, ec);
  if (!ec && doc.is_object()) {
    if (const auto* kind = doc.as_object().if_contains("kind"); kind && kind->is_string()) {
      return std::string(kind->as_string());
    }
  }
  if (res.status == 504) return "timeout";
  return "http " + std::to_string(res.status);
}

std::string failure_detail(const ClientResponse& res) {
  std::string text = excerpt(problem_detail(res), 200);
  boost::system::error_code ec;
  auto doc = json::parse(res.body, ec);
  if (!ec && doc.is_object()) {
    if (const auto* err = doc.as_object().if_contains("stderr");
        err && err->is_string() && !err->as_string().empty()) {
      std::string tail(err->as_string());
      if (tail.size() > 200) tail.erase(0, tail.size() - 200);
      text += " (stderr: " + excerpt(tail, 200) + ")";
    }
  }
  return text;
}

Result<std::string> call_once(const Client& client, const Target& target, const std::string& input,
                              const std::optional<std::string>& reference) {
  auto res = client.request("POST", target.path, input, "application/octet-stream");
  if (!res) return make_error(ErrorKind::kUnavailable, "transport: " + res.error().message);
  if (res->status != 200) {
    return make_error(ErrorKind::kInternal, failure_kind(*res) + ": " + failure_detail(*res));
  }
  if (reference && res->body != *reference) {
    return make_error(ErrorKind::kInternal, "mismatch: got '" + excerpt(res->body) +
                                                "', wasm answered '" + excerpt(*reference) + "'");
  }
  return std::move(res->body);
}

Sample call_measured(const Client& client, const Target& target, const std::string& input,
                     const std::optional<std::string>& reference) {
  Sample s;
  const auto t0 = SteadyClock::now();
  auto res = client.request("POST", target.path, input, "application/octet-stream");
  s.client_us =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0).count();
  if (!res) {
    s.error = "transport: " + res.error().message;
    return s;
  }
  s.http_status = res->status;
  s.invocation_id = res->header("x-nebula-invocation-id");
  s.cold = res->header("x-nebula-cold-start") == "true";
  if (res->status != 200) {
    s.error = failure_kind(*res) + ": " + failure_detail(*res);
  } else if (reference) {
    s.output_matches = res->body == *reference;
    if (!*s.output_matches) {
      s.error =
          "mismatch: got '" + excerpt(res->body) + "', wasm answered '" + excerpt(*reference) + "'";
    }
  }
  if (s.invocation_id.empty()) {
    if (s.error.empty()) s.error = "record: the response carries no X-Nebula-Invocation-Id";
    return s;
  }
  auto rec = client.request("GET", "/v1/invocations/" + s.invocation_id);
  if (!rec || rec->status != 200) {
    if (s.error.empty()) {
      s.error = "record: cannot read invocation " + s.invocation_id + ": " +
                (rec ? problem_detail(*rec) : rec.error().message);
    }
    return s;
  }
  boost::system::error_code ec;
  auto doc = json::parse(rec->body, ec);
  if (ec || !doc.is_object()) {
    if (s.error.empty()) s.error = "record: invalid JSON for invocation " + s.invocation_id;
    return s;
  }
  const auto& o = doc.as_object();
  if (const auto* outcome = o.if_contains("outcome"); outcome && outcome->is_string()) {
    s.outcome = std::string(outcome->as_string());
  }
  if (const auto* cold = o.if_contains("cold"); cold && cold->is_bool()) s.cold = cold->as_bool();
  s.exit_code = static_cast<int>(int_field(o, "exit_code"));
  s.timings.queue_us = int_field(o, "queue_us");
  s.timings.startup_us = int_field(o, "startup_us");
  s.timings.exec_us = int_field(o, "exec_us");
  s.timings.teardown_us = int_field(o, "teardown_us");
  s.timings.total_us = int_field(o, "total_us");
  s.cpu_us = count_field(o, "cpu_us");
  s.max_memory_bytes = count_field(o, "max_memory_bytes");
  if (s.error.empty() && s.outcome != "ok") {
    s.error = "record: status 200 but the record says '" + s.outcome + "'";
  }
  return s;
}

}  // namespace nebula::bench
