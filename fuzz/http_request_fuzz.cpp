// libFuzzer target: HTTP request handling up to the function, in the
// server's order — the head delimited and checked for line folding, Beast's
// parser with the server's limits, the framing checks against request
// smuggling, then Nebula's route matching and query parsing, the name
// checks the API applies before anything touches disk, the CGI environment
// built from the headers, and the UTF-8 cleaning every error detail goes
// through.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/core/buffers_to_string.hpp>
// GCC 12 with the sanitizers warns, wrongly, that a boost::optional
// inside Beast's parser may be used uninitialized where put() is inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/http/parser.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <boost/beast/http/string_body.hpp>

#include "core/cgi.hpp"
#include "core/function.hpp"
#include "core/invocation.hpp"
#include "entry_points.hpp"
#include "http/framing.hpp"
#include "http/router.hpp"
#include "http/target.hpp"

namespace nebula::fuzz {
namespace {

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;  // the server's default

// The head's end found by a search resumed after a prefix must be the one
// found at once, wherever the bytes were cut.
bool resumed_search_agrees(std::string_view bytes) {
  const std::size_t cut = bytes.size() / 2;
  if (http::head_length(bytes.substr(0, cut))) return true;
  return http::head_length(bytes, cut) == http::head_length(bytes);
}

}  // namespace

bool check_http_request(std::string_view input) {
  namespace bhttp = boost::beast::http;
  if (!resumed_search_agrees(input)) return false;
  const auto head = http::head_length(input);
  if (!head || *head > kMaxHeaderBytes) return true;  // 431, or still waiting
  if (*head == 0 || input[*head - 1] != '\n') return false;
  if (http::head_bytes_problem(input.substr(0, *head))) return true;  // 400

  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(1024 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(input.data(), input.size()), ec);
  if (ec || !parser.is_header_done()) return true;
  const auto& req = parser.get();
  if (!http::framing_problem(req.base())) {
    // What the server lets through is framed one way only, and Beast reads
    // it that way: a Transfer-Encoding it accepted is chunked.
    if (req.count(bhttp::field::content_length) + req.count(bhttp::field::transfer_encoding) > 1) {
      return false;
    }
    if (req.count(bhttp::field::transfer_encoding) == 1 && !parser.chunked()) return false;
    if (req.count(bhttp::field::content_length) == 1 && !parser.content_length()) return false;
  }

  auto target = http::parse_target(req.target());
  if (!target.ok) return true;
  for (const auto& segment : target.segments) {
    if (is_valid_function_name(segment) && segment.size() > 63) return false;
  }
  // The shapes of the API's route table.
  static const std::vector<http::RoutePattern> kPatterns = {
      {"/v1/modules"},     {"/v1/functions"},        {"/v1/functions/{name}"},
      {"/v1/functions/{name}/invoke/*"}, {"/v1/invocations"}, {"/v1/invocations/{id}"},
      {"/metrics"}};
  const auto match = http::match_route(kPatterns, req.target());
  if (match.route != http::RouteMatch::kNone && match.route >= kPatterns.size()) return false;
  if (!match.rest.empty() && match.rest.front() != '/') return false;
  RequestMeta meta;
  meta.method = std::string(req.method_string());
  meta.path_info = match.rest;
  meta.query = match.query;
  for (const auto& field : req) {
    meta.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  Function fn;
  fn.name = "fuzz";
  const auto env = cgi_environment(meta, fn, RuntimeKind::kWasm);
  for (const auto& [name, value] : env) {
    if (name == "HTTP_AUTHORIZATION" || name == "HTTP_COOKIE") return false;
  }
  const std::string clean = valid_utf8(req.target());
  if (valid_utf8(clean) != clean) return false;  // idempotent: already valid
  auto params = http::parse_query(target.query);
  if (auto it = params.find("runtime"); it != params.end()) {
    (void)parse_runtime_kind(it->second);
  }
  if (parser.is_done()) (void)parse_manifest(req.body());
  return true;
}

}  // namespace nebula::fuzz

#ifndef NEBULA_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!nebula::fuzz::check_http_request(nebula::fuzz::as_text(data, size))) std::abort();
  return 0;
}
#endif
