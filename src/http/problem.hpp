#pragma once

#include <string_view>

#include <boost/json/object.hpp>

#include "core/result.hpp"
#include "http/server.hpp"

namespace nebula::http {

// An `application/problem+json` response (RFC 9457): type, title, status,
// detail, plus any extension members in `extra`. `type` is "about:blank"
// unless `extra` sets it (function failures use "urn:nebula:problem:…").
[[nodiscard]] Response problem(beast::http::status status, std::string_view title,
                               std::string_view detail, boost::json::object extra = {});

// The problem for a platform error, with the status its kind maps to
// (kNotFound → 404, kOverloaded → 429 with Retry-After, …).
[[nodiscard]] Response problem(const Error& error);

// A JSON response.
[[nodiscard]] Response json_response(beast::http::status status, const boost::json::value& body);

}  // namespace nebula::http
