#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace nebula::http {

// A request target split for routing: the path as decoded segments and the
// raw query. `ok` is false when the target is not origin-form
// ("/path?query"), which the API answers with 400.
struct Target {
  std::vector<std::string> segments;
  std::string query;
  bool ok = false;
};

// Parses an origin-form target. A trailing slash adds no empty segment;
// percent-escapes in segments are decoded ("%2F" stays inside its segment).
[[nodiscard]] Target parse_target(std::string_view target);

// Decoded query parameters; when a key repeats, the last value wins.
[[nodiscard]] std::map<std::string, std::string> parse_query(std::string_view query);

}  // namespace nebula::http
