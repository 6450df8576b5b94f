#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/function.hpp"
#include "core/limits.hpp"

namespace nebula {

// How an invocation ended.
enum class Outcome { kOk, kExit, kTrap, kTimeout, kMemory, kRejected };

[[nodiscard]] const char* to_string(Outcome outcome) noexcept;
[[nodiscard]] std::optional<Outcome> parse_outcome(std::string_view text) noexcept;

// What started an invocation: an HTTP call answered at once, a call queued
// with ?async=true, or a schedule in the manifest.
enum class TriggerKind { kHttp, kAsync, kCron };

[[nodiscard]] const char* to_string(TriggerKind kind) noexcept;
[[nodiscard]] std::optional<TriggerKind> parse_trigger_kind(std::string_view text) noexcept;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Where an HTTP function's response goes while the function produces it.
// Called on a thread of the runtime's own; implementations are thread-safe.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // The function set its response. At most once, before any body.
  virtual void head(int status, HeaderList headers) = 0;
  // A piece of the body; false when nobody listens any more.
  virtual bool body(std::string_view chunk) = 0;
};

// The request an HTTP function (a wasi:http/proxy component) receives as
// itself: method, target below the function's route, headers; the body is
// InvocationRequest::body.
struct HttpExchange {
  std::string method = "GET";
  std::string scheme = "http";
  std::string authority;
  std::string path_with_query = "/";
  HeaderList headers;
  ResponseSink* sink = nullptr;  // borrowed for the invocation
};

// What a runtime needs to run one invocation. For a command program the
// body becomes stdin and env holds the manifest's env plus the CGI
// variables of the HTTP request; an HTTP function gets `http` instead.
struct InvocationRequest {
  std::string id;  // assigned at admission, so that a streamed response can name it
  std::string function;
  std::string body;
  EnvList env;
  std::vector<std::string> args;
  Limits limits;
  std::optional<HttpExchange> http;
  // Where the guest's outbound HTTP requests may go (wasm only).
  std::vector<std::string> allowed_outbound_hosts;
  TriggerKind trigger = TriggerKind::kHttp;
  // Secret values in env: replaced by "[redacted]" wherever the platform
  // keeps or shows what the function said (stderr, messages), never shown.
  std::vector<std::string> redact;
};

// `text` with every occurrence of each of `secrets` replaced by
// "[redacted]". Empty secrets are ignored.
[[nodiscard]] std::string redacted(std::string text, const std::vector<std::string>& secrets);

// Phase durations in microseconds on the monotonic clock, defined the same
// way for every runtime (docs/architecture.md has the table):
//   queue    admission + waiting for a worker + waiting for a warm container
//   startup  the cold start: store + WASI + instantiate, or container
//            create + attach + start; 0 when a warm container was reused
//   exec     the function's own run, until its output is drained
//   teardown dropping the store, or removing the container
//   total    request body read -> response ready
struct Timings {
  std::int64_t queue_us = 0;
  std::int64_t startup_us = 0;
  std::int64_t exec_us = 0;
  std::int64_t teardown_us = 0;
  std::int64_t total_us = 0;
};

// What a runtime reports back. A function failing is not an error of the
// runtime: it is an outcome other than kOk.
struct InvocationResult {
  Outcome outcome = Outcome::kOk;
  int exit_code = 0;
  std::string stdout_data;
  std::string stderr_data;
  std::string message;  // trap message, timeout or limit explanation
  bool cold = true;
  bool output_truncated = false;  // stdout or stderr was cut at max_output_bytes
  Timings timings;
  // CPU time and peak memory the invocation cost: wasm, the thread's CPU time
  // and the peak linear memory; docker, the container's cgroup counters, for
  // cold and warm containers alike. Unset when the figure could not be read:
  // never a stand-in measured another way.
  std::optional<std::uint64_t> cpu_us;
  std::optional<std::uint64_t> max_memory_bytes;
  // An HTTP function's response went to the sink: whether its head was
  // sent, and how many body bytes.
  bool responded = false;
  std::uint64_t body_bytes = 0;
  // Outbound HTTP requests the guest made, and how many were refused.
  std::uint32_t outbound_requests = 0;
  std::uint32_t outbound_denied = 0;
};

// One row of the invocation log.
struct InvocationRecord {
  std::string id;
  std::string function;
  RuntimeKind runtime = RuntimeKind::kWasm;
  Outcome outcome = Outcome::kOk;
  int exit_code = 0;
  bool cold = true;
  bool output_truncated = false;
  Timings timings;
  std::optional<std::uint64_t> cpu_us;
  std::optional<std::uint64_t> max_memory_bytes;
  std::uint64_t input_bytes = 0;
  std::uint64_t output_bytes = 0;
  std::int64_t started_at_us = 0;  // unix µs, for ordering only
  std::string message;
  std::string stderr_tail;
  std::string node;           // the node that ran it (its --node-id)
  std::uint64_t version = 0;  // the function's version that ran
  TriggerKind trigger = TriggerKind::kHttp;
};

// The last `max_bytes` of a log, cut at a UTF-8 boundary.
[[nodiscard]] std::string tail_of(std::string_view text, std::size_t max_bytes);

// `text` as valid UTF-8: every byte sequence that is not well-formed UTF-8
// (a stray byte, a character cut in half, an overlong or surrogate form)
// becomes U+FFFD. What a function or a client sent may be anything; what
// goes into a JSON document must be text.
[[nodiscard]] std::string valid_utf8(std::string_view text);

}  // namespace nebula
