// libFuzzer target: HTTP request handling up to routing — Beast's parser with
// the server's limits, then Nebula's target and query parsing and the name
// checks the API applies before anything touches disk.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/function.hpp"
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
  auto params = nebula::http::parse_query(target.query);
  if (auto it = params.find("runtime"); it != params.end()) {
    (void)nebula::parse_runtime_kind(it->second);
  }
  if (parser.is_done()) (void)nebula::parse_manifest(req.body());
  return 0;
}
