#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace nebula::http {

struct ClientResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;

  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A small blocking HTTP/1.1 client for Nebula's own API, used by the
// `nebula` client commands, the benchmark and the integration tests, with
// one timeout for the whole exchange. One connection per request; each
// request runs its own io_context, so a Client may be shared by threads.
class Client {
 public:
  // `server` is a base URL such as http://127.0.0.1:8080.
  Client(std::string server, std::string token,
         std::chrono::milliseconds timeout = std::chrono::seconds(120));

  [[nodiscard]] Result<ClientResponse> request(
      std::string_view method, std::string_view target, std::string body = {},
      std::string_view content_type = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {}) const;

  [[nodiscard]] const std::string& server() const noexcept { return server_; }

 private:
  std::string server_;
  std::string host_;
  std::string port_;
  std::string token_;
  std::chrono::milliseconds timeout_;
  bool valid_ = false;
};

// The `detail` of a problem+json body, or the body itself.
[[nodiscard]] std::string problem_detail(const ClientResponse& response);

}  // namespace nebula::http
