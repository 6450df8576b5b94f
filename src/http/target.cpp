#include "http/target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace nebula::http {

Target parse_target(std::string_view target) {
  Target t;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return t;
  for (auto seg : url->segments()) t.segments.push_back(seg);
  if (!t.segments.empty() && t.segments.back().empty()) t.segments.pop_back();
  t.query = std::string(url->encoded_query());
  t.ok = true;
  return t;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  // params() of a url_view yields percent-decoded keys and values.
  // The view points into `target`, which must outlive it.
  const std::string target = "/?" + std::string(query);
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return out;
  if (query.empty()) return out;
  for (auto p : url->params()) out[p.key] = p.value;
  return out;
}

}  // namespace nebula::http
