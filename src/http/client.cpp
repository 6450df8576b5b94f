#include "http/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

namespace nebula::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

Client::Client(std::string server, std::string token, std::chrono::milliseconds timeout)
    : server_(std::move(server)), token_(std::move(token)), timeout_(timeout) {
  auto url = boost::urls::parse_uri(server_);
  if (url && url->scheme() == "http" && !url->host().empty()) {
    host_ = std::string(url->host());
    port_ = url->has_port() ? std::string(url->port()) : "80";
    valid_ = true;
  }
}

Result<ClientResponse> Client::request(
    std::string_view method, std::string_view target, std::string body,
    std::string_view content_type,
    const std::vector<std::pair<std::string, std::string>>& headers) const {
  if (!valid_) {
    return make_error(
        ErrorKind::kInvalidArgument,
        "--server must be an http:// URL such as http://127.0.0.1:8080, got '" + server_ + "'");
  }
  asio::io_context ioc;
  Result<ClientResponse> outcome = make_error(ErrorKind::kInternal, "request did not complete");
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, host_);
  req.set(bhttp::field::user_agent, "nebula-cli");
  if (!token_.empty()) req.set(bhttp::field::authorization, "Bearer " + token_);
  if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = std::move(body);
  req.prepare_payload();

  auto exchange = [&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(ioc);
    asio::ip::tcp::resolver resolver(ioc);
    stream.expires_after(timeout_);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(host_, port_, asio::as_tuple(asio::use_awaitable));
    if (rec) {
      outcome =
          make_error(ErrorKind::kUnavailable, "cannot resolve " + host_ + ": " + rec.message());
      co_return;
    }
    auto [cec, ep] = co_await stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    if (cec) {
      outcome = make_error(ErrorKind::kUnavailable,
                           "cannot reach the Nebula server at " + server_ + ": " + cec.message() +
                               " (is `nebula serve` running? set --server or NEBULA_SERVER)");
      co_return;
    }
    auto [wec, wn] = co_await bhttp::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    // A server may answer early and stop reading (413 for a body over the
    // limit): the write then fails, but its response is there to read.
    const bool write_failed = static_cast<bool>(wec);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256ULL << 20);
    auto [rdec, rn] =
        co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (rdec) {
      outcome =
          make_error(rdec == beast::error::timeout ? ErrorKind::kTimeout : ErrorKind::kUnavailable,
                     (write_failed ? "sending the request failed: " + wec.message()
                                   : "reading the response failed: " + rdec.message()));
      co_return;
    }
    auto res = parser.release();
    ClientResponse out;
    out.status = res.result_int();
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.body = std::move(res.body());
    outcome = std::move(out);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  };
  asio::co_spawn(ioc, exchange(), asio::detached);
  ioc.run();
  return outcome;
}

std::string problem_detail(const ClientResponse& response) {
  boost::system::error_code ec;
  auto doc = boost::json::parse(response.body, ec);
  if (!ec && doc.is_object()) {
    const auto& o = doc.get_object();
    std::string text;
    if (auto* t = o.if_contains("title"); t && t->is_string()) text = std::string(t->get_string());
    if (auto* d = o.if_contains("detail"); d && d->is_string()) {
      text += (text.empty() ? "" : ": ") + std::string(d->get_string());
    }
    if (!text.empty()) return text;
  }
  return "HTTP " + std::to_string(response.status) + " " + response.body.substr(0, 500);
}

}  // namespace nebula::http
