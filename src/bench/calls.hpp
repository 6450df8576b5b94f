#pragma once

// One invocation through the server's HTTP API, as every `nebula bench`
// suite makes it: with or without the server's record of it.

#include <optional>
#include <string>

#include "bench/model.hpp"
#include "core/result.hpp"
#include "http/client.hpp"

namespace nebula::bench {

// Where a call goes and what the report calls it.
struct Target {
  std::string path;  // /v1/functions/NAME/invoke?runtime=…
  std::string label;
};

// The function kind of a failed call: the problem's `kind` (exit, trap,
// memory) when the server sent one, else the status ("timeout" for 504).
[[nodiscard]] std::string failure_kind(const http::ClientResponse& res);

// The problem's detail and, when the function wrote any, the end of its
// stderr: what a reader of the report needs to see why a call failed.
[[nodiscard]] std::string failure_detail(const http::ClientResponse& res);

// One call without its record. Returns the output, or "kind: detail" as an
// error; with a `reference`, an answer that differs is an error too.
[[nodiscard]] Result<std::string> call_once(const http::Client& client, const Target& target,
                                            const std::string& input,
                                            const std::optional<std::string>& reference);

// One measured call: the response, then the server's record of it
// (GET /v1/invocations/{X-Nebula-Invocation-Id}). A call that failed, or
// whose record cannot be read, carries the reason in Sample::error.
[[nodiscard]] Sample call_measured(const http::Client& client, const Target& target,
                                   const std::string& input,
                                   const std::optional<std::string>& reference);

}  // namespace nebula::bench
