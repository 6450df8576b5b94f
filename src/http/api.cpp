#include "http/api.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "http/dashboard/assets.hpp"
#include "http/event_stream.hpp"
#include "http/offload.hpp"
#include "http/problem.hpp"
#include "http/streaming.hpp"
#include "http/target.hpp"
#include "http/views.hpp"
#include "store/invocation_id.hpp"

namespace nebula::http {
namespace {

namespace json = boost::json;
namespace bhttp = beast::http;
using Clock = std::chrono::steady_clock;

// Bodies a route may carry: a module or a manifest with one, an
// invocation's input (the function's own max_input_bytes), or nothing much.
enum class BodyLimit { kSmall, kModule, kInvocation };
constexpr std::uint64_t kModuleBodyLimit = 64ULL << 20;
constexpr std::uint64_t kSmallBodyLimit = 1ULL << 20;

Response method_not_allowed(std::string_view allow) {
  auto res = problem(bhttp::status::method_not_allowed, "Method not allowed",
                     "this route accepts: " + std::string(allow));
  res.set(bhttp::field::allow, allow);
  return res;
}

Response not_found_route(std::string_view target) {
  return problem(bhttp::status::not_found, "Not found",
                 "no route for " + std::string(target.substr(0, 200)) +
                     " (the API lives under /v1; see docs/api.md)");
}

// The response to a finished invocation: the output on success, a problem
// naming what the function did otherwise, and the timing headers always.
Response invocation_response(Invocation& invocation) {
  const InvocationResult& result = invocation.result;
  const InvocationRecord& rec = invocation.record;
  Response res;
  switch (result.outcome) {
    case Outcome::kOk:
      res = Response{bhttp::status::ok, 11};
      res.set(bhttp::field::content_type, "application/octet-stream");
      res.body() = std::move(invocation.result.stdout_data);
      break;
    case Outcome::kTimeout:
      res = problem(bhttp::status::gateway_timeout, "Function timed out", result.message,
                    json::object{{"type", "urn:nebula:problem:function-timeout"},
                                 {"kind", "timeout"},
                                 {"invocation_id", rec.id},
                                 {"stderr", rec.stderr_tail}});
      break;
    default:
      res = problem(bhttp::status::bad_gateway, "Function failed",
                    result.message.empty() ? std::string("the function failed") : result.message,
                    json::object{{"type", "urn:nebula:problem:function-failed"},
                                 {"kind", to_string(result.outcome)},
                                 {"exit_code", result.exit_code},
                                 {"output_truncated", result.output_truncated},
                                 {"invocation_id", rec.id},
                                 {"stderr", rec.stderr_tail}});
      break;
  }
  res.set("X-Nebula-Invocation-Id", rec.id);
  res.set("X-Nebula-Runtime", to_string(rec.runtime));
  res.set("X-Nebula-Cold-Start", rec.cold ? "true" : "false");
  res.set("Server-Timing", server_timing(rec.timings));
  return res;
}

// GET /v1/invocations' query → a store query; kInvalidArgument names the
// parameter that is wrong.
Result<store::InvocationQuery> invocation_query(std::string_view raw) {
  const auto params = parse_query(raw);
  store::InvocationQuery q;
  if (auto it = params.find("function"); it != params.end() && !it->second.empty()) {
    if (auto st = check_function_name(it->second); !st) return std::move(st).error();
    q.function = it->second;
  }
  if (auto it = params.find("runtime"); it != params.end() && !it->second.empty()) {
    q.runtime = parse_runtime_kind(it->second);
    if (!q.runtime) {
      return make_error(ErrorKind::kInvalidArgument, "runtime must be 'wasm' or 'docker'");
    }
  }
  if (auto it = params.find("outcome"); it != params.end() && !it->second.empty()) {
    q.outcome = parse_outcome(it->second);
    if (!q.outcome) {
      return make_error(ErrorKind::kInvalidArgument,
                        "outcome must be one of ok, exit, trap, timeout, memory, rejected");
    }
  }
  if (auto it = params.find("limit"); it != params.end() && !it->second.empty()) {
    const std::string& text = it->second;
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || ptr != text.data() + text.size() || n < 1 ||
        n > store::InvocationQuery::kMaxLimit) {
      return make_error(ErrorKind::kInvalidArgument,
                        "limit must be a whole number from 1 to " +
                            std::to_string(store::InvocationQuery::kMaxLimit));
    }
    q.limit = n;
  }
  if (auto it = params.find("before"); it != params.end() && !it->second.empty()) {
    if (!store::is_valid_invocation_id(it->second)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "before must be an invocation id from a previous page");
    }
    q.before = it->second;
  }
  return q;
}

}  // namespace

// One entry of the route table: a pattern, its body limit, and what each
// method does. `management` methods need the bearer token.
struct Api::Route {
  struct Method {
    bhttp::verb verb;
    Endpoint endpoint;
    bool management = false;
  };
  RoutePattern pattern;
  BodyLimit limit;
  std::vector<Method> methods;
  std::string allow;  // for 405's Allow header
};

const std::vector<Api::Route>& Api::routes() {
  using V = bhttp::verb;
  // An HTTP function answers whatever method it likes; HEAD is GET.
  auto invoke_methods = [] {
    std::vector<Route::Method> m;
    for (V verb : {V::post, V::get, V::put, V::delete_, V::patch, V::options}) {
      m.push_back({verb, &Api::invoke, false});
    }
    return m;
  };
  static const std::vector<Route> table = [&invoke_methods] {
    std::vector<Route> t = {
        {{"/v1/modules"}, BodyLimit::kModule, {{V::post, &Api::upload_module, true}}, {}},
        {{"/v1/functions"}, BodyLimit::kSmall, {{V::get, &Api::list_functions}}, {}},
        {{"/v1/functions/{name}"},
         BodyLimit::kModule,
         {{V::get, &Api::get_function},
          {V::put, &Api::put_function, true},
          {V::delete_, &Api::delete_function, true}},
         {}},
        {{"/v1/functions/{name}/invoke/*"}, BodyLimit::kInvocation, invoke_methods(), {}},
        {{"/v1/functions/{name}/versions"}, BodyLimit::kSmall, {{V::get, &Api::versions}}, {}},
        {{"/v1/functions/{name}/rollback"},
         BodyLimit::kSmall,
         {{V::post, &Api::rollback, true}},
         {}},
        {{"/v1/functions/{name}/logs"}, BodyLimit::kSmall, {{V::get, &Api::logs}}, {}},
        {{"/v1/secrets"}, BodyLimit::kSmall, {{V::get, &Api::list_secrets, true}}, {}},
        // Write-only: no GET, so no route can ever return a value.
        {{"/v1/secrets/{name}"},
         BodyLimit::kSmall,
         {{V::put, &Api::put_secret, true}, {V::delete_, &Api::delete_secret, true}},
         {}},
        // The short route of every function, for HTTP functions serving a
        // site or an API of their own.
        {{"/fn/{name}/*"}, BodyLimit::kInvocation, invoke_methods(), {}},
        {{"/v1/invocations"}, BodyLimit::kSmall, {{V::get, &Api::list_invocations}}, {}},
        {{"/v1/invocations/{id}"}, BodyLimit::kSmall, {{V::get, &Api::get_invocation}}, {}},
        {{"/v1/info"}, BodyLimit::kSmall, {{V::get, &Api::info}}, {}},
        {{"/v1/status"}, BodyLimit::kSmall, {{V::get, &Api::status}}, {}},
        {{"/v1/openapi.yaml"}, BodyLimit::kSmall, {{V::get, &Api::openapi}}, {}},
        {{"/metrics"}, BodyLimit::kSmall, {{V::get, &Api::metrics}}, {}},
        {{"/healthz"}, BodyLimit::kSmall, {{V::get, &Api::healthz}}, {}},
        {{"/readyz"}, BodyLimit::kSmall, {{V::get, &Api::readyz}}, {}},
    };
    for (Route& r : t) {
      for (const auto& m : r.methods) {
        r.allow += (r.allow.empty() ? "" : ", ") + std::string(bhttp::to_string(m.verb));
        // Every GET route answers HEAD too.
        if (m.verb == bhttp::verb::get) r.allow += ", HEAD";
      }
    }
    return t;
  }();
  return table;
}

Api::Api(service::FunctionService& service, ApiOptions options)
    : service_(service), options_(std::move(options)), throttle_(options_.auth_throttle) {}

Dispatch Api::dispatch(const RequestHeader& header) const {
  static const std::vector<RoutePattern> patterns = [] {
    std::vector<RoutePattern> p;
    for (const Route& r : routes()) p.push_back(r.pattern);
    return p;
  }();
  Dispatch d;
  if (!options_.single_function.empty()) {
    // The whole target, as "/fn/<function>" + target would match.
    static const std::size_t fn_route = [] {
      for (std::size_t i = 0; i < routes().size(); ++i) {
        if (routes()[i].pattern.text == "/fn/{name}/*") return i;
      }
      std::abort();
    }();
    d.match = match_route({RoutePattern{"/*"}}, header.target());
    if (d.match.target_ok) {
      d.match.route = fn_route;
      d.match.params = {options_.single_function};
    }
    d.body_limit = service_.input_limit(options_.single_function);
    return d;
  }
  d.match = match_route(patterns, header.target());
  d.body_limit = kSmallBodyLimit;
  if (d.match.route == RouteMatch::kNone) return d;
  switch (routes()[d.match.route].limit) {
    case BodyLimit::kSmall: break;
    case BodyLimit::kModule: d.body_limit = kModuleBodyLimit; break;
    case BodyLimit::kInvocation: d.body_limit = service_.input_limit(d.match.params[0]); break;
  }
  return d;
}

bool Api::authorized(const Request& request) const {
  if (options_.token.empty()) return true;
  auto it = request.find(bhttp::field::authorization);
  if (it == request.end()) return false;
  std::string_view value = it->value();
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() != kBearer.size() + options_.token.size() ||
      value.substr(0, kBearer.size()) != kBearer) {
    return false;
  }
  // Constant-time comparison: no early exit on the first differing byte.
  unsigned char diff = 0;
  auto given = value.substr(kBearer.size());
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ options_.token[i]);
  }
  return diff == 0;
}

std::optional<Response> Api::refuse_management(const Request& request,
                                               const asio::ip::address& client) {
  if (options_.token.empty()) return std::nullopt;
  const auto now = AuthThrottle::Clock::now();
  // Locked out: refused before the token is even looked at, so that the
  // answer tells a guesser nothing; the right token waits too.
  if (auto wait = throttle_.locked_out(client, now)) {
    auto res = problem(bhttp::status::too_many_requests, "Too many failed authentications",
                       "this address sent a wrong token " +
                           std::to_string(options_.auth_throttle.max_failures) +
                           " times; management routes refuse it for " +
                           std::to_string(wait->count()) + " s more, whatever the token");
    res.set(bhttp::field::retry_after, std::to_string(wait->count()));
    return res;
  }
  if (authorized(request)) return std::nullopt;
  // Only a wrong credential counts: a request without one (a browser before
  // it asks for the token) is not a guess.
  if (request.find(bhttp::field::authorization) != request.end() &&
      throttle_.record_failure(client, now)) {
    spdlog::warn("{} sent {} wrong tokens within {} s: management routes refuse it for {} s",
                 client.to_string(), options_.auth_throttle.max_failures,
                 options_.auth_throttle.window.count(), options_.auth_throttle.window.count());
  }
  return problem(
      make_error(ErrorKind::kUnauthorized, "this route needs 'Authorization: Bearer <token>'"));
}

asio::awaitable<Reply> Api::handle(Request& request, const Dispatch& dispatch) {
  const RouteMatch& match = dispatch.match;
  if (!match.target_ok) {
    co_return problem(bhttp::status::bad_request, "Bad request", "malformed request target");
  }
  try {
    // HEAD is GET without the body (the server drops it when writing).
    const bhttp::verb verb =
        request.method() == bhttp::verb::head ? bhttp::verb::get : request.method();
    if (match.route == RouteMatch::kNone) {
      // Anything else a browser asks for is the dashboard.
      const auto* asset = dashboard::find_asset(match.path);
      if (asset == nullptr) co_return not_found_route(request.target());
      if (verb != bhttp::verb::get) co_return method_not_allowed("GET, HEAD");
      Response res{bhttp::status::ok, 11};
      res.set(bhttp::field::content_type, asset->content_type);
      res.set(bhttp::field::etag, asset->etag);
      res.set(bhttp::field::cache_control, "no-cache");
      if (auto inm = request.find(bhttp::field::if_none_match);
          inm != request.end() && inm->value() == asset->etag) {
        res.result(bhttp::status::not_modified);
        co_return res;
      }
      res.body() = std::string(asset->body);
      co_return res;
    }
    const Route& route = routes()[match.route];
    for (const auto& method : route.methods) {
      if (method.verb != verb) continue;
      if (method.management) {
        if (auto refused = refuse_management(request, dispatch.remote.address())) {
          co_return std::move(*refused);
        }
      }
      co_return co_await (this->*method.endpoint)(request, match);
    }
    co_return method_not_allowed(route.allow);
  } catch (const std::exception& e) {
    spdlog::error("unhandled error on {} {}: {}", std::string(request.method_string()),
                  std::string(request.target()), e.what());
    co_return problem(bhttp::status::internal_server_error, "Internal error",
                      "the server failed to handle this request; see its log");
  }
}

// --- modules ---------------------------------------------------------------

asio::awaitable<Reply> Api::upload_module(Request& request, const RouteMatch& /*match*/) {
  auto bytes = std::make_shared<std::string>(std::move(request.body()));
  auto work = [this, bytes] { return service_.upload_module(*bytes); };
  auto module = co_await offload(service_.workers(), std::move(work));
  if (!module) co_return problem(module.error());
  co_return json_response(bhttp::status::created, json::object{{"digest", module->digest},
                                                               {"size", module->size},
                                                               {"kind", to_string(module->kind)}});
}

// --- functions -------------------------------------------------------------

asio::awaitable<Reply> Api::list_functions(Request& /*request*/, const RouteMatch& /*match*/) {
  auto work = [this] { return service_.list(); };
  auto views = co_await offload(service_.workers(), std::move(work));
  if (!views) co_return problem(views.error());
  json::array items;
  for (const auto& v : *views) items.push_back(function_json(v));
  co_return json_response(bhttp::status::ok, json::object{{"functions", std::move(items)}});
}

asio::awaitable<Reply> Api::get_function(Request& /*request*/, const RouteMatch& match) {
  auto work = [this, name = match.params[0]] { return service_.get(name); };
  auto view = co_await offload(service_.workers(), std::move(work));
  if (!view) co_return problem(view.error());
  co_return json_response(bhttp::status::ok, function_json(*view));
}

asio::awaitable<Reply> Api::put_function(Request& request, const RouteMatch& match) {
  // Media types are case-insensitive (RFC 9110 8.3.1).
  bool is_module = false;
  if (auto it = request.find(bhttp::field::content_type); it != request.end()) {
    constexpr std::string_view kWasm = "application/wasm";
    const std::string_view type = it->value();
    is_module = type.size() >= kWasm.size() && beast::iequals(type.substr(0, kWasm.size()), kWasm);
  }
  auto body = std::make_shared<std::string>(std::move(request.body()));
  auto work = [this, body, is_module, name = match.params[0]] {
    return is_module ? service_.deploy_module(name, *body) : service_.deploy(name, *body);
  };
  auto deployed = co_await offload(service_.workers(), std::move(work));
  if (!deployed) co_return problem(deployed.error());
  const auto& fn = deployed->function.deployment->function;
  auto res = json_response(deployed->created ? bhttp::status::created : bhttp::status::ok,
                           function_json(deployed->function));
  res.set(bhttp::field::location, "/v1/functions/" + fn.name);
  co_return res;
}

asio::awaitable<Reply> Api::delete_function(Request& /*request*/, const RouteMatch& match) {
  auto work = [this, name = match.params[0]] { return service_.remove(name); };
  auto removed = co_await offload(service_.workers(), std::move(work));
  if (!removed) co_return problem(removed.error());
  co_return Response{bhttp::status::no_content, 11};
}

// --- invoke ----------------------------------------------------------------

asio::awaitable<Reply> Api::invoke(Request& request, const RouteMatch& match) {
  service::InvokeInput input;
  input.received = Clock::now();
  input.function = match.params[0];
  // Nebula's own parameters live on its API route only; below /fn/ the
  // query string is the function's.
  const bool api_route = routes()[match.route].pattern.text.starts_with("/v1/");
  bool async = false;
  std::string callback_url;
  if (auto params = parse_query(match.query); api_route) {
    if (params.contains("runtime")) input.runtime = params["runtime"];
    if (auto it = params.find("version"); it != params.end()) {
      std::uint64_t n = 0;
      const std::string& text = it->second;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || ptr != text.data() + text.size() || n == 0) {
        co_return problem(make_error(ErrorKind::kInvalidArgument,
                                     "version must be a version number (1, 2, …; see GET "
                                     "/v1/functions/" +
                                         input.function + "/versions)"));
      }
      input.version = n;
    }
    if (auto it = params.find("async"); it != params.end()) {
      if (it->second != "true" && it->second != "false") {
        co_return problem(
            make_error(ErrorKind::kInvalidArgument, "async must be 'true' or 'false'"));
      }
      async = it->second == "true";
    }
    if (auto it = params.find("callback"); it != params.end()) callback_url = it->second;
  }
  if (auto prefer = request.find("Prefer"); prefer != request.end()) {
    // RFC 7240: a list of preferences; respond-async is a bare token.
    std::string_view value = prefer->value();
    for (std::size_t at = 0; at <= value.size();) {
      std::size_t end = value.find(',', at);
      if (end == std::string_view::npos) end = value.size();
      std::string_view token = value.substr(at, end - at);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (beast::iequals(token, "respond-async")) async = true;
      at = end + 1;
    }
  }
  if (auto cb = request.find("X-Nebula-Callback"); cb != request.end()) {
    callback_url = std::string(cb->value());
  }
  if (!callback_url.empty() && !async) {
    co_return problem(
        make_error(ErrorKind::kInvalidArgument, "a callback needs an async call (?async=true)"));
  }
  input.request.method = std::string(request.method_string());
  input.request.path_info = match.rest;
  input.request.query = match.query;
  input.request.content_length = request.body().size();
  for (const auto& field : request) {
    // Nebula's own credential is not the function's to see.
    if (field.name() == bhttp::field::authorization && !options_.token.empty() &&
        authorized(request)) {
      continue;
    }
    input.request.headers.emplace_back(std::string(field.name_string()),
                                       std::string(field.value()));
  }
  if (auto host = request.find(bhttp::field::host); host != request.end()) {
    input.authority = std::string(host->value());
  }
  input.body = std::move(request.body());
  if (async) co_return co_await invoke_async(input, callback_url);
  if (input.version) {
    // An old version is prepared on first use (blocking: store, compile).
    auto work = [this, name = input.function, version = *input.version] {
      return service_.load_version(name, version);
    };
    auto loaded = co_await offload(service_.workers(), std::move(work));
    if (!loaded) co_return problem(loaded.error());
  }
  auto slot = co_await wait_for_slot(input.function);
  if (!slot) {
    const Error refusal = service_.concurrency_refusal(input.function);
    auto res = problem(bhttp::status::too_many_requests, "Too many requests", refusal.message,
                       json::object{{"type", "urn:nebula:problem:concurrency-limit"}});
    res.set(bhttp::field::retry_after, "1");
    co_return res;
  }
  input.slot = std::move(*slot);
  // Where an HTTP function's response will stream; unused by commands.
  auto channel = std::make_shared<StreamedResponse>(co_await asio::this_coro::executor);
  input.sink = channel.get();

  auto admitted = service_.admit(std::move(input));
  if (!admitted) co_return problem(admitted.error());
  auto pending = std::make_shared<service::PendingInvocation>(std::move(*admitted));
  const std::string version = std::to_string(pending->version());
  if (pending->http()) {
    Reply reply = co_await invoke_http(pending, channel);
    reply.response.set("X-Nebula-Version", version);
    co_return reply;
  }

  auto work = [this, pending] { return service_.run(std::move(*pending)); };
  auto invocation = co_await offload(service_.pool_for(*pending), std::move(work));
  if (!invocation) co_return problem(invocation.error());
  Response res = invocation_response(*invocation);
  res.set("X-Nebula-Version", version);
  co_return res;
}

asio::awaitable<std::optional<service::Slot>> Api::wait_for_slot(const std::string& function) {
  auto slot = service_.try_enter(function);
  if (slot) co_return std::move(slot);
  // Over the limit: wait for a release, up to the function's timeout. The
  // gate rings by posting a cancel of this timer to its executor.
  const auto deadline = Clock::now() + service_.timeout_of(function);
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  while (!slot && Clock::now() < deadline) {
    timer->expires_at(deadline);
    auto waiter = service_.on_slot_free(
        function, [timer] { asio::post(timer->get_executor(), [timer] { timer->cancel(); }); });
    // A release between the first try and registering would go unheard.
    slot = service_.try_enter(function);
    if (!slot) co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    service_.forget_waiter(function, waiter);
    if (!slot) slot = service_.try_enter(function);
  }
  co_return std::move(slot);
}

asio::awaitable<Reply> Api::invoke_async(service::InvokeInput& input, std::string& callback_url) {
  input.trigger = TriggerKind::kAsync;
  auto work = [this, in = std::move(input), url = std::move(callback_url)]() mutable {
    return service_.enqueue(std::move(in), std::move(url));
  };
  auto task = co_await offload(service_.workers(), std::move(work));
  if (!task) co_return problem(task.error());
  const std::string location = "/v1/invocations/" + task->id;
  auto res =
      json_response(bhttp::status::accepted, json::object{{"id", task->id},
                                                          {"function", task->function},
                                                          {"version", task->version},
                                                          {"state", store::to_string(task->state)},
                                                          {"location", location}});
  res.set(bhttp::field::location, location);
  res.set("Preference-Applied", "respond-async");
  co_return res;
}

asio::awaitable<Reply> Api::invoke_http(std::shared_ptr<service::PendingInvocation> pending,
                                        std::shared_ptr<StreamedResponse> channel) {
  // The worker runs the guest; the channel brings its response here while
  // it runs, so neither waits for the other.
  const std::string id = pending->id();
  auto& pool = service_.pool_for(*pending);
  asio::post(pool,
             [this, pending, channel] { channel->finish(service_.run(std::move(*pending))); });
  co_await channel->wait_for_head();
  if (!channel->has_head()) {
    // It ended before answering: a failure (or a platform error) is told
    // the way every invocation's is.
    auto outcome = channel->take_outcome();
    if (!outcome) co_return problem(outcome.error());
    co_return invocation_response(*outcome);
  }
  // A function that finishes quickly is answered in one piece, with a
  // Content-Length and Server-Timing as a header; a slower one streams.
  co_await channel->wait_for_end(Clock::now() + std::chrono::milliseconds(2));
  const bool whole = channel->ended_ok();
  Response head{static_cast<bhttp::status>(channel->status()), 11};
  for (auto& [name, value] : channel->take_headers()) {
    // Framing is the server's business; the body's length is not known yet.
    if (beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding") ||
        beast::iequals(name, "connection") || beast::iequals(name, "keep-alive") ||
        beast::iequals(name, "trailer")) {
      continue;
    }
    head.insert(name, value);
  }
  head.set("X-Nebula-Invocation-Id", id);
  head.set("X-Nebula-Runtime", "wasm");
  head.set("X-Nebula-Cold-Start", "true");
  if (whole) {
    auto outcome = channel->take_outcome();
    head.set("Server-Timing", server_timing(outcome->record.timings));
    head.body() = channel->take_body();
    co_return head;
  }
  // Streamed (also a function that failed after answering: the channel
  // hands out what it wrote, then cuts the body). The phases are known once
  // the body is complete: they come as a trailer.
  head.set(bhttp::field::trailer, "Server-Timing");
  co_return Reply(std::move(head), channel);
}

// --- invocations -----------------------------------------------------------

asio::awaitable<Reply> Api::list_invocations(Request& /*request*/, const RouteMatch& match) {
  auto query = invocation_query(match.query);
  if (!query) co_return problem(query.error());
  auto work = [this, q = *query] { return service_.invocations(q); };
  auto records = co_await offload(service_.workers(), std::move(work));
  if (!records) co_return problem(records.error());
  json::array items;
  for (const auto& r : *records) items.push_back(record_json(r, false));
  json::value next = nullptr;
  if (records->size() == query->limit && !records->empty()) next = json::value(records->back().id);
  co_return json_response(bhttp::status::ok,
                          json::object{{"invocations", std::move(items)}, {"next_before", next}});
}

asio::awaitable<Reply> Api::get_invocation(Request& /*request*/, const RouteMatch& match) {
  // An async call's id names its task (which names the record of its last
  // run); any other id names a record.
  auto work = [this, id = match.params[0]]() -> Result<json::object> {
    auto task = service_.task(id);
    if (task) {
      std::optional<InvocationRecord> record;
      if (!task->invocation_id.empty()) {
        if (auto r = service_.invocation(task->invocation_id)) record = std::move(*r);
      }
      return task_json(*task, record ? &*record : nullptr);
    }
    if (task.error().kind != ErrorKind::kNotFound) return std::move(task).error();
    auto record = service_.invocation(id);
    if (!record) return std::move(record).error();
    return record_json(*record, true);
  };
  auto found = co_await offload(service_.workers(), std::move(work));
  if (!found) co_return problem(found.error());
  co_return json_response(bhttp::status::ok, *found);
}

// --- versions -----------------------------------------------------------------

asio::awaitable<Reply> Api::versions(Request& /*request*/, const RouteMatch& match) {
  auto work = [this, name = match.params[0]] { return service_.versions(name); };
  auto list = co_await offload(service_.workers(), std::move(work));
  if (!list) co_return problem(list.error());
  co_return json_response(bhttp::status::ok, versions_json(*list));
}

asio::awaitable<Reply> Api::rollback(Request& request, const RouteMatch& match) {
  std::optional<std::uint64_t> version;
  const std::string& body = request.body();
  if (body.find_first_not_of(" \t\r\n") != std::string::npos) {
    boost::system::error_code ec;
    auto doc = json::parse(body, ec);
    const json::value* v = nullptr;
    if (!ec && doc.is_object()) v = doc.as_object().if_contains("version");
    // JSON does not tell 2 from 2.0: a whole number is a version number.
    auto whole = [](const json::value& n) {
      if (n.is_int64()) return n.as_int64() > 0;
      if (n.is_uint64()) return n.as_uint64() > 0;
      if (!n.is_double()) return false;
      const double d = n.as_double();
      return d >= 1 && d < 9.0e15 && d == static_cast<double>(static_cast<std::uint64_t>(d));
    };
    if (ec || !doc.is_object() || doc.as_object().size() != (v != nullptr ? 1U : 0U) ||
        (v != nullptr && !whole(*v))) {
      co_return problem(make_error(ErrorKind::kInvalidArgument,
                                   "the body must be empty (the previous version) or "
                                   "{\"version\": N} with N a version number"));
    }
    if (v != nullptr) {
      version = v->is_int64()    ? static_cast<std::uint64_t>(v->as_int64())
                : v->is_uint64() ? v->as_uint64()
                                 : static_cast<std::uint64_t>(v->as_double());
    }
  }
  auto work = [this, name = match.params[0], version] { return service_.rollback(name, version); };
  auto view = co_await offload(service_.workers(), std::move(work));
  if (!view) co_return problem(view.error());
  co_return json_response(bhttp::status::ok, function_json(*view));
}

// --- live logs ------------------------------------------------------------------

asio::awaitable<Reply> Api::logs(Request& /*request*/, const RouteMatch& match) {
  const std::string name = match.params[0];
  if (auto st = check_function_name(name); !st) co_return problem(st.error());
  auto params = parse_query(match.query);
  bool follow = false;
  if (auto it = params.find("follow"); it != params.end()) {
    if (it->second != "true" && it->second != "false") {
      co_return problem(
          make_error(ErrorKind::kInvalidArgument, "follow must be 'true' or 'false'"));
    }
    follow = it->second == "true";
  }
  std::size_t limit = 20;
  if (auto it = params.find("limit"); it != params.end()) {
    const std::string& text = it->second;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || ptr != text.data() + text.size() || limit < 1 ||
        limit > store::InvocationQuery::kMaxLimit) {
      co_return problem(make_error(ErrorKind::kInvalidArgument,
                                   "limit must be a whole number from 1 to " +
                                       std::to_string(store::InvocationQuery::kMaxLimit)));
    }
  }
  if (!follow) {
    store::InvocationQuery q;
    q.function = name;
    q.limit = limit;
    auto work = [this, q] { return service_.invocations(q); };
    auto records = co_await offload(service_.workers(), std::move(work));
    if (!records) co_return problem(records.error());
    json::array items;
    for (const auto& r : *records) items.push_back(log_json(r));
    co_return json_response(bhttp::status::ok, json::object{{"logs", std::move(items)}});
  }
  auto exists = [this, name] { return service_.get(name); };
  auto found = co_await offload(service_.workers(), std::move(exists));
  if (!found) co_return problem(found.error());

  auto stream = std::make_shared<EventStream>(co_await asio::this_coro::executor);
  EventStream::Poll poll;
  if (service_.shared_store()) {
    // Other nodes' invocations reach this node only through the store.
    struct Cursor {
      std::int64_t since_us = store::now_unix_us();
    };
    auto cursor = std::make_shared<Cursor>();
    poll = [this, name, cursor]() -> std::vector<InvocationRecord> {
      store::InvocationQuery q;
      q.function = name;
      q.limit = 100;
      auto records = service_.invocations(q);
      if (!records) return {};
      std::vector<InvocationRecord> out;
      for (auto it = records->rbegin(); it != records->rend(); ++it) {
        if (it->node == service_.node() || it->started_at_us < cursor->since_us) continue;
        out.push_back(*it);
      }
      return out;
    };
  }
  stream->follow(service_.logs(), name, std::move(poll), &service_.workers(),
                 std::chrono::milliseconds(1000));
  Response head{bhttp::status::ok, 11};
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  // Tells nginx not to buffer the stream.
  head.set("X-Accel-Buffering", "no");
  co_return Reply(std::move(head), stream);
}

// --- secrets ----------------------------------------------------------------------

asio::awaitable<Reply> Api::list_secrets(Request& /*request*/, const RouteMatch& /*match*/) {
  auto work = [this] { return service_.secrets(); };
  auto all = co_await offload(service_.workers(), std::move(work));
  if (!all) co_return problem(all.error());
  json::array items;
  for (const auto& s : *all) items.push_back(secret_json(s));
  co_return json_response(bhttp::status::ok, json::object{{"secrets", std::move(items)}});
}

asio::awaitable<Reply> Api::put_secret(Request& request, const RouteMatch& match) {
  auto value = std::make_shared<std::string>(std::move(request.body()));
  auto work = [this, value,
               name = match.params[0]]() -> Result<std::pair<store::SecretInfo, bool>> {
    bool created = false;
    auto info = service_.put_secret(name, *value, &created);
    // The value's bytes leave memory as soon as they are sealed.
    std::fill(value->begin(), value->end(), '\0');
    if (!info) return std::move(info).error();
    return std::pair{std::move(*info), created};
  };
  auto put = co_await offload(service_.workers(), std::move(work));
  if (!put) co_return problem(put.error());
  auto res = json_response(put->second ? bhttp::status::created : bhttp::status::ok,
                           secret_json(put->first));
  res.set(bhttp::field::location, "/v1/secrets/" + put->first.name);
  co_return res;
}

asio::awaitable<Reply> Api::delete_secret(Request& /*request*/, const RouteMatch& match) {
  auto work = [this, name = match.params[0]]() -> Result<std::vector<std::string>> {
    auto removed = service_.delete_secret(name);
    if (removed || removed.error().kind != ErrorKind::kConflict) {
      if (!removed) return std::move(removed).error();
      return std::vector<std::string>{};
    }
    // In use: say by which functions, for a client to act on.
    auto users = service_.secret_users(name);
    if (!users || users->empty()) return std::move(removed).error();
    users->insert(users->begin(), removed.error().message);
    return users;
  };
  auto removed = co_await offload(service_.workers(), std::move(work));
  if (!removed) co_return problem(removed.error());
  if (!removed->empty()) {
    json::array functions;
    for (std::size_t i = 1; i < removed->size(); ++i) functions.emplace_back((*removed)[i]);
    co_return problem(bhttp::status::conflict, "Conflict", removed->front(),
                      json::object{{"functions", std::move(functions)}});
  }
  co_return Response{bhttp::status::no_content, 11};
}

// --- operations ------------------------------------------------------------

asio::awaitable<Reply> Api::info(Request& /*request*/, const RouteMatch& /*match*/) {
  auto work = [this] { return service_.info(); };
  auto info = co_await offload(service_.workers(), std::move(work));
  co_return json_response(bhttp::status::ok, info_json(info));
}

asio::awaitable<Reply> Api::status(Request& /*request*/, const RouteMatch& /*match*/) {
  auto work = [this] { return service_.status(); };
  auto st = co_await offload(service_.workers(), std::move(work));
  co_return json_response(bhttp::status::ok, status_json(st));
}

asio::awaitable<Reply> Api::openapi(Request& /*request*/, const RouteMatch& /*match*/) {
  const auto* doc = dashboard::find_document("openapi.yaml");
  if (doc == nullptr) {
    co_return problem(bhttp::status::not_found, "Not found", "this build carries no API document");
  }
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, doc->content_type);
  res.set(bhttp::field::etag, doc->etag);
  res.body() = std::string(doc->body);
  co_return res;
}

asio::awaitable<Reply> Api::metrics(Request& /*request*/, const RouteMatch& /*match*/) {
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.body() = service_.metrics_text();
  co_return res;
}

asio::awaitable<Reply> Api::healthz(Request& /*request*/, const RouteMatch& /*match*/) {
  co_return json_response(bhttp::status::ok, json::object{{"status", "ok"}});
}

asio::awaitable<Reply> Api::readyz(Request& /*request*/, const RouteMatch& /*match*/) {
  auto work = [this] { return service_.readiness(); };
  auto ready = co_await offload(service_.workers(), std::move(work));
  co_return json_response(ready.ready ? bhttp::status::ok : bhttp::status::service_unavailable,
                          readiness_json(ready));
}

}  // namespace nebula::http
