#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nebula::http {

// A route pattern: literal segments, `{param}` segments that capture one
// path segment, and an optional final `*` that captures the rest of the
// path (zero or more segments), e.g. "/v1/functions/{name}/invoke/*".
struct RoutePattern {
  std::string_view text;
};

// What matching a request target found.
struct RouteMatch {
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  std::size_t route = kNone;        // index in the table; kNone: no route
  bool target_ok = true;            // false: not an origin-form target (400)
  std::vector<std::string> params;  // decoded `{param}` segments, in order
  std::string rest;                 // what `*` captured: "" or "/a/b"
  std::string path;                 // the decoded path, "/…"
  std::string query;                // raw query, without '?'
};

// Matches `target` against `patterns` in order; the first that fits wins.
// Percent-escapes in segments are decoded; a trailing slash adds no empty
// segment.
[[nodiscard]] RouteMatch match_route(const std::vector<RoutePattern>& patterns,
                                     std::string_view target);

}  // namespace nebula::http
