// libFuzzer target: HTTP request handling up to the function — Beast's
// parser with the server's limits, Nebula's route matching and query
// parsing, the name checks the API applies before anything touches disk,
// the CGI environment built from the headers, and the UTF-8 cleaning every
// error detail goes through.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/cgi.hpp"
#include "core/function.hpp"
#include "core/invocation.hpp"
#include "http/router.hpp"
#include "http/target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1024 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& req = parser.get();
  auto target = nebula::http::parse_target(req.target());
  if (!target.ok) return 0;
  for (const auto& segment : target.segments) {
    if (nebula::is_valid_function_name(segment) && segment.size() > 63) std::abort();
  }
  // The shapes of the API's route table.
  static const std::vector<nebula::http::RoutePattern> kPatterns = {
      {"/v1/modules"},           {"/v1/functions"},   {"/v1/functions/{name}"},
      {"/v1/functions/{name}/invoke/*"}, {"/v1/invocations"}, {"/v1/invocations/{id}"},
      {"/metrics"}};
  const auto match = nebula::http::match_route(kPatterns, req.target());
  if (match.route != nebula::http::RouteMatch::kNone && match.route >= kPatterns.size()) {
    std::abort();
  }
  if (!match.rest.empty() && match.rest.front() != '/') std::abort();
  nebula::RequestMeta meta;
  meta.method = std::string(req.method_string());
  meta.path_info = match.rest;
  meta.query = match.query;
  for (const auto& field : req) {
    meta.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  nebula::Function fn;
  fn.name = "fuzz";
  const auto env = nebula::cgi_environment(meta, fn, nebula::RuntimeKind::kWasm);
  for (const auto& [name, value] : env) {
    if (name == "HTTP_AUTHORIZATION" || name == "HTTP_COOKIE") std::abort();
  }
  const std::string clean = nebula::valid_utf8(req.target());
  if (nebula::valid_utf8(clean) != clean) std::abort();  // idempotent: already valid
  auto params = nebula::http::parse_query(target.query);
  if (auto it = params.find("runtime"); it != params.end()) {
    (void)nebula::parse_runtime_kind(it->second);
  }
  if (parser.is_done()) (void)nebula::parse_manifest(req.body());
  return 0;
}
