#include "core/outbound.hpp"

#include <charconv>

namespace nebula {
namespace {

Error invalid(std::string_view text, std::string_view why) {
  return make_error(ErrorKind::kInvalidArgument,
                    "'" + std::string(text.substr(0, 100)) + "' " + std::string(why) +
                        " (expected SCHEME://HOST[:PORT], e.g. https://*.example.com or "
                        "http://127.0.0.1:8081)");
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

std::uint16_t default_port(std::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

}  // namespace

Result<OutboundPattern> OutboundPattern::parse(std::string_view text) {
  OutboundPattern p;
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos) return invalid(text, "has no scheme");
  p.scheme_ = lower(text.substr(0, sep));
  if (p.scheme_ != "http" && p.scheme_ != "https" && p.scheme_ != "*") {
    return invalid(text, "has a scheme other than http, https or *");
  }
  std::string_view rest = text.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return invalid(text, "has a path");
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return invalid(text, "has an unclosed IPv6 literal");
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid(text, "has text after the IPv6 literal");
      port = after.substr(1);
      if (port.empty()) return invalid(text, "has an empty port");
    }
  } else if (const std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return invalid(text, "has an empty port");
  }
  if (host.empty()) return invalid(text, "has no host");
  p.host_ = lower(host);
  if (p.host_.front() != '[' && p.host_ != "*") {
    std::string_view name = p.host_;
    if (name.starts_with("*.")) name.remove_prefix(2);
    if (name.empty()) return invalid(text, "has no host after '*.'");
    for (char c : name) {
      if (!host_char(c)) return invalid(text, "has a character a host name cannot have");
    }
  }
  if (port == "*") {
    p.any_port_ = true;
  } else if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return invalid(text, "has a port that is not a number from 1 to 65535 or *");
    }
    p.port_ = static_cast<std::uint16_t>(value);
  }
  return p;
}

bool OutboundPattern::matches(std::string_view scheme, std::string_view host,
                              std::uint16_t port) const noexcept {
  if (scheme_ != "*" && scheme_ != scheme) return false;
  if (!any_port_) {
    const std::uint16_t wanted = port_ ? *port_ : default_port(scheme);
    if (port != wanted) return false;
  }
  if (host_ == "*") return true;
  if (host_.starts_with("*.")) {
    const std::string_view suffix = std::string_view(host_).substr(1);  // ".example.com"
    return host.size() > suffix.size() && host.ends_with(suffix);
  }
  // An IPv6 literal is written in brackets; the request's host comes bare.
  if (host_.front() == '[') {
    return host == std::string_view(host_).substr(1, host_.size() - 2) || host == host_;
  }
  return host == host_;
}

OutboundPolicy::OutboundPolicy(const std::vector<std::string>& patterns) {
  for (const auto& text : patterns) {
    if (auto p = OutboundPattern::parse(text)) patterns_.push_back(std::move(*p));
  }
}

bool OutboundPolicy::allows(std::string_view scheme, std::string_view host,
                            std::uint16_t port) const noexcept {
  for (const auto& p : patterns_) {
    if (p.matches(scheme, host, port)) return true;
  }
  return false;
}

}  // namespace nebula
