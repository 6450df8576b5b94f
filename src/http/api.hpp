#pragma once

#include <optional>
#include <string>

#include "http/auth_throttle.hpp"
#include "http/server.hpp"
#include "service/function_service.hpp"

namespace nebula::http {

class StreamedResponse;

struct ApiOptions {
  std::string token;  // empty: management routes are open
  // Set: every request, whatever its path, invokes this function with its
  // whole path (`nebula serve-one`); the rest of the API is not served.
  std::string single_function;
  // Wrong tokens per client address before management routes answer it
  // 429 for a while (only with a token).
  AuthThrottleOptions auth_throttle = {};
};

// The HTTP API v1 (docs/api.md): one route table, used both to decide a
// request's body limit from its header and to dispatch it. Each handler maps
// the request onto a FunctionService call and the result onto a response;
// blocking calls go to the service's worker pools.
//
// Thread-safety: dispatch() and handle() run concurrently on the I/O
// threads; the Api's only mutable state is the failed-token table, which
// locks itself.
//
// Coroutine parameters are references and no class-type temporary appears in
// a co_await expression: GCC 12 destroys such temporaries twice.
class Api final : public Handler {
 public:
  Api(service::FunctionService& service, ApiOptions options);

  [[nodiscard]] Dispatch dispatch(const RequestHeader& header) const override;
  boost::asio::awaitable<Reply> handle(Request& request, const Dispatch& dispatch) override;

  // One handler per route and method.
  using Endpoint = boost::asio::awaitable<Reply> (Api::*)(Request&, const RouteMatch&);

 private:
  boost::asio::awaitable<Reply> upload_module(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> list_functions(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> get_function(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> put_function(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> delete_function(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> invoke(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> versions(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> rollback(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> logs(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> list_secrets(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> put_secret(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> delete_secret(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> list_invocations(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> get_invocation(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> info(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> status(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> openapi(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> metrics(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> healthz(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Reply> readyz(Request& request, const RouteMatch& match);

  [[nodiscard]] bool authorized(const Request& request) const;
  // Nothing when a management request from `client` may proceed; otherwise
  // its 401 (a missing or wrong token, counted when wrong) or 429 (the
  // address is locked out after too many wrong tokens).
  [[nodiscard]] std::optional<Response> refuse_management(const Request& request,
                                                          const asio::ip::address& client);
  // Queues an invocation (?async=true, Prefer: respond-async): 202.
  boost::asio::awaitable<Reply> invoke_async(service::InvokeInput& input,
                                             std::string& callback_url);
  // Waits (without blocking the thread) for a slot of `function`'s
  // concurrency limit, up to its timeout: the slot, or nullopt (refused).
  boost::asio::awaitable<std::optional<service::Slot>> wait_for_slot(const std::string& function);
  // An HTTP function's invocation: the response streams from the guest.
  boost::asio::awaitable<Reply> invoke_http(std::shared_ptr<service::PendingInvocation> pending,
                                            std::shared_ptr<StreamedResponse> channel);

  struct Route;
  [[nodiscard]] static const std::vector<Route>& routes();

  service::FunctionService& service_;
  ApiOptions options_;
  AuthThrottle throttle_;
};

}  // namespace nebula::http
