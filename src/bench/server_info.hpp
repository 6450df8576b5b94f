#pragma once

// What the benchmarked server says about itself (GET /v1/info): its own
// version, the wasmtime it embeds and the Docker Engine it talks to. The
// benchmark never asks the engine itself: the server is what is measured,
// and it may use an engine this machine cannot see.

#include <optional>
#include <string>

#include "core/result.hpp"
#include "http/client.hpp"

namespace nebula::bench {

struct ServerInfo {
  // False when the server does not have the route (an older server answers
  // 404): every other field is then unknown.
  bool known = false;
  std::string version;   // Nebula's, "0.1.0"
  std::string wasmtime;  // "48.0.8"
  std::string node;      // the server's host name
  bool wasm_available = false;
  // False when the server runs with --no-docker or its engine does not
  // answer; the versions are then empty.
  bool docker_available = false;
  std::string docker_version;      // "28.2.2"
  std::string docker_api_version;  // "1.50"

  // "28.2.2 (API 1.50)", or empty when unknown.
  [[nodiscard]] std::string docker_description() const;
};

// The body of a 200 answer:
//   {"version":"0.1.0","wasmtime":"48.0.8","node":"host",
//    "runtimes":{"wasm":{"available":true},
//                "docker":{"available":true,"version":"28.2.2","api_version":"1.50"}}}
// Members that are missing or of another type are left empty; a body that
// is not a JSON object is an error.
[[nodiscard]] Result<ServerInfo> parse_server_info(std::string_view body);

// The server's answer to GET /v1/info: 200 is parsed, 404 (a server older
// than the route) gives an unknown ServerInfo, anything else is an error.
[[nodiscard]] Result<ServerInfo> server_info_from(const http::ClientResponse& response);

// Asks `client`'s server.
[[nodiscard]] Result<ServerInfo> fetch_server_info(const http::Client& client);

}  // namespace nebula::bench
