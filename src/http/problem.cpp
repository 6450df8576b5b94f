#include "http/problem.hpp"

#include <boost/json/serialize.hpp>

#include "core/invocation.hpp"

namespace nebula::http {

namespace http = beast::http;

Response problem(http::status status, std::string_view title, std::string_view detail,
                 boost::json::object extra) {
  boost::json::object body = std::move(extra);
  // Details quote what a client or a function sent, cut at byte counts:
  // whatever they held, the document stays valid UTF-8 JSON.
  for (auto& [key, value] : body) {
    if (value.is_string()) value = valid_utf8(value.get_string());
  }
  const auto code = static_cast<unsigned>(status);
  // A caller may name a specific problem type in `extra`; otherwise the
  // status code says it all (RFC 9457 §4.2.1).
  if (!body.contains("type")) body["type"] = "about:blank";
  body["title"] = title;
  body["status"] = code;
  body["detail"] = valid_utf8(detail);
  Response res{status, 11};
  res.set(http::field::content_type, "application/problem+json");
  res.body() = boost::json::serialize(body);
  return res;
}

Response problem(const Error& error) {
  switch (error.kind) {
    case ErrorKind::kInvalidArgument:
      return problem(http::status::bad_request, "Bad request", error.message);
    case ErrorKind::kNotFound: return problem(http::status::not_found, "Not found", error.message);
    case ErrorKind::kUnauthorized: {
      auto res = problem(http::status::unauthorized, "Unauthorized", error.message);
      res.set(http::field::www_authenticate, "Bearer realm=\"nebula\"");
      return res;
    }
    case ErrorKind::kTooLarge:
      return problem(http::status::payload_too_large, "Payload too large", error.message);
    case ErrorKind::kOverloaded: {
      auto res = problem(http::status::too_many_requests, "Too many requests", error.message);
      res.set(http::field::retry_after, "1");
      return res;
    }
    case ErrorKind::kTimeout:
      return problem(http::status::gateway_timeout, "Timed out", error.message);
    case ErrorKind::kUnavailable: {
      auto res = problem(http::status::service_unavailable, "Service unavailable", error.message);
      res.set(http::field::retry_after, "5");
      return res;
    }
    case ErrorKind::kNoSpace: {
      // 507 Insufficient Storage (RFC 4918): nothing was stored; the same
      // request succeeds once the data directory has room again.
      auto res = problem(http::status::insufficient_storage, "Insufficient storage", error.message);
      res.set(http::field::retry_after, "30");
      return res;
    }
    case ErrorKind::kConflict: return problem(http::status::conflict, "Conflict", error.message);
    case ErrorKind::kInternal: break;
  }
  return problem(http::status::internal_server_error, "Internal error", error.message);
}

Response json_response(http::status status, const boost::json::value& body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = boost::json::serialize(body);
  return res;
}

}  // namespace nebula::http
