#pragma once

#include "core/result.hpp"
#include "store/store.hpp"

namespace nebula::http {

// POSTs a finished async call, as GET /v1/invocations/{id} shows it
// (without the record), to its callback URL: an http:// URL the service
// checked against the function's allowed_outbound_hosts when the call was
// queued. One attempt with a 10 s timeout; a status other than 2xx is an
// error (logged by the caller; the call's own outcome stands).
[[nodiscard]] Status post_task_callback(const store::AsyncTask& task);

}  // namespace nebula::http
