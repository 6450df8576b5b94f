#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/function.hpp"

namespace nebula {

// The parts of an HTTP request a command function sees, transport-free.
struct RequestMeta {
  std::string method = "POST";
  std::string path_info;  // below the function's route, "" or "/…"
  std::string query;      // raw, without '?'
  std::uint64_t content_length = 0;
  // In arrival order, names as sent. Content-Type and Content-Length are
  // taken from here too.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Headers beyond this many are not passed on (a request may carry hundreds;
// a function's environment should stay small).
inline constexpr std::size_t kMaxCgiHeaders = 64;

// The CGI meta-variables of a request (REQUEST_METHOD, PATH_INFO,
// QUERY_STRING, CONTENT_LENGTH, CONTENT_TYPE, SERVER_SOFTWARE, HTTP_<NAME>),
// NEBULA_FUNCTION and NEBULA_RUNTIME, then the manifest's env, which cannot
// override any of them. Credentials (Authorization, Proxy-Authorization,
// Cookie) never reach a function.
[[nodiscard]] EnvList cgi_environment(const RequestMeta& request, const Function& function,
                                      RuntimeKind runtime);

// "Content-Type" -> "HTTP_CONTENT_TYPE"; empty when the name has a character
// an environment variable name cannot carry.
[[nodiscard]] std::string cgi_header_variable(std::string_view header);

}  // namespace nebula
