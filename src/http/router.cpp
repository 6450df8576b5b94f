#include "http/router.hpp"

#include "http/target.hpp"

namespace nebula::http {
namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') path.remove_prefix(1);
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

// Fills params/rest and returns true when `segments` fit `pattern`.
bool fits(std::string_view pattern, const std::vector<std::string>& segments, RouteMatch& match) {
  const auto parts = split(pattern);
  std::vector<std::string> params;
  std::size_t i = 0;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const std::string_view part = parts[p];
    if (part == "*" && p + 1 == parts.size()) {
      std::string rest;
      for (; i < segments.size(); ++i) rest += "/" + segments[i];
      match.params = std::move(params);
      match.rest = std::move(rest);
      return true;
    }
    if (i >= segments.size()) return false;
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      params.push_back(segments[i]);
    } else if (part != segments[i]) {
      return false;
    }
    ++i;
  }
  if (i != segments.size()) return false;
  match.params = std::move(params);
  match.rest.clear();
  return true;
}

}  // namespace

RouteMatch match_route(const std::vector<RoutePattern>& patterns, std::string_view target) {
  RouteMatch match;
  const Target parsed = parse_target(target);
  if (!parsed.ok) {
    match.target_ok = false;
    return match;
  }
  match.query = parsed.query;
  match.path = "/";
  for (std::size_t i = 0; i < parsed.segments.size(); ++i) {
    match.path += (i == 0 ? "" : "/") + parsed.segments[i];
  }
  for (std::size_t r = 0; r < patterns.size(); ++r) {
    if (fits(patterns[r].text, parsed.segments, match)) {
      match.route = r;
      return match;
    }
  }
  return match;
}

}  // namespace nebula::http
