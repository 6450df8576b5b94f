#pragma once

#include <string>

#include "http/server.hpp"
#include "service/function_service.hpp"

namespace nebula::http {

struct ApiOptions {
  std::string token;  // empty: management routes are open
};

// The HTTP API v1 (docs/api.md): one route table, used both to decide a
// request's body limit from its header and to dispatch it. Each handler maps
// the request onto a FunctionService call and the result onto a response;
// blocking calls go to the service's worker pools.
//
// Thread-safety: dispatch() and handle() run concurrently on the I/O
// threads; the Api holds no mutable state.
//
// Coroutine parameters are references and no class-type temporary appears in
// a co_await expression: GCC 12 destroys such temporaries twice.
class Api final : public Handler {
 public:
  Api(service::FunctionService& service, ApiOptions options);

  [[nodiscard]] Dispatch dispatch(const RequestHeader& header) const override;
  boost::asio::awaitable<Response> handle(Request& request, const Dispatch& dispatch) override;

  // One handler per route and method.
  using Endpoint = boost::asio::awaitable<Response> (Api::*)(Request&, const RouteMatch&);

 private:
  boost::asio::awaitable<Response> upload_module(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> list_functions(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> get_function(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> put_function(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> delete_function(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> invoke(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> list_invocations(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> get_invocation(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> info(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> openapi(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> metrics(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> healthz(Request& request, const RouteMatch& match);
  boost::asio::awaitable<Response> readyz(Request& request, const RouteMatch& match);

  [[nodiscard]] bool authorized(const Request& request) const;

  struct Route;
  [[nodiscard]] static const std::vector<Route>& routes();

  service::FunctionService& service_;
  ApiOptions options_;
};

}  // namespace nebula::http
