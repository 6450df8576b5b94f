#include "http/callback.hpp"

#include <chrono>

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include "http/client.hpp"
#include "http/views.hpp"

namespace nebula::http {

Status post_task_callback(const store::AsyncTask& task) {
  auto url = boost::urls::parse_absolute_uri(task.callback_url);
  if (!url || url->scheme() != "http") {
    return make_error(ErrorKind::kInvalidArgument, "callback is not an http:// URL");
  }
  const std::string origin = "http://" + std::string(url->encoded_authority());
  std::string target = std::string(url->encoded_target());
  if (target.empty() || target.front() != '/') target.insert(0, "/");
  Client client(origin, {}, std::chrono::seconds(10));
  auto res = client.request(
      "POST", target, boost::json::serialize(task_json(task, nullptr)), "application/json",
      {{"X-Nebula-Invocation-Id", task.id}, {"X-Nebula-Function", task.function}});
  if (!res) return std::move(res).error();
  if (res->status < 200 || res->status > 299) {
    return make_error(ErrorKind::kUnavailable, "callback " + task.callback_url.substr(0, 200) +
                                                   " answered " + std::to_string(res->status));
  }
  return {};
}

}  // namespace nebula::http
