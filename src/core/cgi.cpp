#include "core/cgi.hpp"

#include <algorithm>

namespace nebula {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

// Headers that are either credentials or already passed as their own
// variable.
bool withheld(std::string_view name) {
  for (std::string_view h :
       {"authorization", "proxy-authorization", "cookie", "content-type", "content-length"}) {
    if (iequals(name, h)) return true;
  }
  return false;
}

}  // namespace

std::string cgi_header_variable(std::string_view header) {
  std::string name = "HTTP_";
  for (char c : header) {
    if (c == '-') {
      name += '_';
    } else if (c >= 'a' && c <= 'z') {
      name += static_cast<char>(c - 'a' + 'A');
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
      name += c;
    } else {
      return {};
    }
  }
  return name;
}

EnvList cgi_environment(const RequestMeta& request, const Function& function,
                        RuntimeKind runtime) {
  EnvList env;
  env.emplace_back("REQUEST_METHOD", request.method);
  env.emplace_back("PATH_INFO", request.path_info.empty() ? "/" : request.path_info);
  env.emplace_back("QUERY_STRING", request.query);
  env.emplace_back("CONTENT_LENGTH", std::to_string(request.content_length));
  for (const auto& [name, value] : request.headers) {
    if (iequals(name, "content-type")) {
      env.emplace_back("CONTENT_TYPE", value);
      break;
    }
  }
  env.emplace_back("SERVER_SOFTWARE", "nebula");
  env.emplace_back("NEBULA_FUNCTION", function.name);
  env.emplace_back("NEBULA_RUNTIME", to_string(runtime));
  std::size_t passed = 0;
  for (const auto& [name, value] : request.headers) {
    if (withheld(name)) continue;
    if (++passed > kMaxCgiHeaders) break;
    auto variable = cgi_header_variable(name);
    if (!variable.empty()) env.emplace_back(std::move(variable), value);
  }
  for (const auto& variable : function.manifest.env) {
    const bool taken = std::any_of(env.begin(), env.end(), [&variable](const auto& entry) {
      return entry.first == variable.first;
    });
    if (!taken) env.push_back(variable);
  }
  return env;
}

}  // namespace nebula
