#pragma once

// Request framing checks the server adds to Beast's parser, so that Nebula
// and any proxy in front of it can never disagree about where a request
// ends (request smuggling, RFC 9112 §6.3 and §11.2). Beast already refuses
// Content-Length beside `Transfer-Encoding: chunked`, two different
// Content-Length values, a repeated `chunked` and every malformed chunk
// size; it accepts the shapes refused here. Pure functions, unit-tested and
// fuzzed (fuzz/http_request_fuzz.cpp).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>

namespace nebula::http {

// The length of the request head at the start of `bytes`, up to and
// including the empty line that ends it (CRLF, or a bare LF, which Beast
// then refuses), or nullopt while the head is incomplete. `searched` bytes
// at the start were already searched by an earlier call on a shorter prefix
// of the same bytes and are not searched again, so that a head arriving a
// byte at a time costs linear time.
[[nodiscard]] std::optional<std::size_t> head_length(std::string_view bytes,
                                                     std::size_t searched = 0);

// Why a whole raw head (as head_length() delimits it) is refused, or
// nullopt. Beast accepts obsolete line folding (a header line starting with
// a space or a tab) and joins the lines, where another parser might read
// the continuation as a header of its own: refused (RFC 9112 §5.2).
[[nodiscard]] std::optional<std::string> head_bytes_problem(std::string_view head);

// Why a parsed head's framing is refused, or nullopt: Content-Length
// together with Transfer-Encoding, more than one Content-Length field or a
// list as its value, more than one Transfer-Encoding field, a
// Transfer-Encoding that is not exactly `chunked`, or one in an HTTP/1.0
// request.
[[nodiscard]] std::optional<std::string> framing_problem(
    const boost::beast::http::request_header<>& header);

}  // namespace nebula::http
