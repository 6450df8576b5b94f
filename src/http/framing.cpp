#include "http/framing.hpp"

#include <algorithm>

#include <boost/beast/core/string.hpp>

namespace nebula::http {
namespace {

namespace bhttp = boost::beast::http;

std::string_view trim(std::string_view value) {
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = value.find_last_not_of(" \t");
  return value.substr(first, last - first + 1);
}

bool all_digits(std::string_view value) {
  return !value.empty() &&
         std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr std::string_view kOneFraming =
    "; a request carries its length once: one Content-Length, or Transfer-Encoding: chunked";

}  // namespace

std::optional<std::size_t> head_length(std::string_view bytes, std::size_t searched) {
  // The head ends at the first LF whose line is empty or holds a lone CR.
  // That LF cannot lie in the part searched before: the bytes before it,
  // which decide, were all there then.
  for (auto i = bytes.find('\n', std::min(searched, bytes.size())); i != std::string_view::npos;
       i = bytes.find('\n', i + 1)) {
    if (i == 0 || bytes[i - 1] == '\n') return i + 1;
    if (bytes[i - 1] == '\r' && (i == 1 || bytes[i - 2] == '\n')) return i + 1;
  }
  return std::nullopt;
}

std::optional<std::string> head_bytes_problem(std::string_view head) {
  // A line that starts with whitespace continues the previous one (or, right
  // after the request line, is whitespace before the first field, which
  // RFC 9112 §2.2 also lets a server refuse). The head's own last line is
  // empty, so its final LF is not followed by anything of the head.
  for (auto i = head.find('\n'); i != std::string_view::npos && i + 1 < head.size();
       i = head.find('\n', i + 1)) {
    if (head[i + 1] == ' ' || head[i + 1] == '\t') {
      return "a header line starts with whitespace (obsolete line folding): send each field "
             "on one line";
    }
  }
  return std::nullopt;
}

std::optional<std::string> framing_problem(const bhttp::request_header<>& header) {
  std::size_t lengths = 0;
  std::size_t codings = 0;
  std::string_view length;
  std::string_view coding;
  for (const auto& field : header) {
    if (field.name() == bhttp::field::content_length) {
      ++lengths;
      length = field.value();
    } else if (field.name() == bhttp::field::transfer_encoding) {
      ++codings;
      coding = field.value();
    }
  }
  if (lengths > 0 && codings > 0) {
    return "Content-Length together with Transfer-Encoding" + std::string(kOneFraming);
  }
  if (lengths > 1) return "more than one Content-Length field" + std::string(kOneFraming);
  if (lengths == 1 && !all_digits(trim(length))) {
    return "Content-Length must be a single decimal number, not '" +
           std::string(length.substr(0, 40)) + "'";
  }
  if (codings > 1) return "more than one Transfer-Encoding field" + std::string(kOneFraming);
  if (codings == 1) {
    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
    // framing, whatever else it carries.
    if (header.version() < 11) {
      return "Transfer-Encoding in an HTTP/1.0 request: send Content-Length, or use HTTP/1.1";
    }
    // Nebula decodes no transfer coding but chunked: with any other, or
    // with chunked not last, the body's end would be a guess.
    if (!boost::beast::iequals(trim(coding), "chunked")) {
      return "Transfer-Encoding must be exactly 'chunked', not '" +
             std::string(coding.substr(0, 40)) + "'";
    }
  }
  return std::nullopt;
}

}  // namespace nebula::http
