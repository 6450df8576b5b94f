#pragma once

// The JSON shapes of the API (docs/api.md, docs/openapi.yaml): how a
// function, an invocation record and the server describe themselves.

#include <boost/json/object.hpp>

#include "core/invocation.hpp"
#include "service/function_service.hpp"

namespace nebula::http {

// A function with its manifest, artifacts, times and statistics.
[[nodiscard]] boost::json::object function_json(const service::FunctionView& view);

// An invocation record; the stderr tail only when asked (single-record
// reads; lists stay small).
[[nodiscard]] boost::json::object record_json(const InvocationRecord& record, bool with_stderr);

// The Server-Timing header value of an invocation: queue, startup, exec
// and total in milliseconds with microsecond precision.
[[nodiscard]] std::string server_timing(const Timings& timings);

// A function's kept versions, newest first.
[[nodiscard]] boost::json::object versions_json(const service::VersionList& list);

// An async call or schedule firing: its state and, once it ran, its
// answer; `record` adds the last run's record when it is still kept.
[[nodiscard]] boost::json::object task_json(const store::AsyncTask& task,
                                            const InvocationRecord* record);

// A secret's name and times (never its value).
[[nodiscard]] boost::json::object secret_json(const store::SecretInfo& secret);

// One line of a function's live log: a finished invocation with its stderr.
[[nodiscard]] boost::json::object log_json(const InvocationRecord& record);

[[nodiscard]] boost::json::object info_json(const service::ServerInfo& info);
[[nodiscard]] boost::json::object status_json(const service::ServerStatus& status);

[[nodiscard]] boost::json::object readiness_json(const service::Readiness& readiness);

}  // namespace nebula::http
