#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace nebula {

// One entry of a manifest's `allowed_outbound_hosts`: where a wasm guest's
// outbound HTTP requests may go.
//
//   SCHEME://HOST[:PORT]
//   SCHEME  http, https, or * (either)
//   HOST    a name or an IP literal ([...] for IPv6), *.SUFFIX (any name
//           below SUFFIX, not SUFFIX itself), or * (any host)
//   PORT    a number, or * (any port); absent: the scheme's default port
//           (80 for http, 443 for https, either for *)
//
// Nothing is allowed unless written: "*://*:*" allows every request.
class OutboundPattern {
 public:
  // kInvalidArgument naming what is wrong with `text`.
  [[nodiscard]] static Result<OutboundPattern> parse(std::string_view text);

  // `scheme` and `host` in lower case; `port` explicit or the default.
  [[nodiscard]] bool matches(std::string_view scheme, std::string_view host,
                             std::uint16_t port) const noexcept;

 private:
  std::string scheme_;  // "http", "https" or "*"
  std::string host_;    // lower case; "*" or "*.suffix" or exact
  std::optional<std::uint16_t> port_;  // unset: default; 0 with any_port_
  bool any_port_ = false;
};

// A function's outbound rules: the parsed allow-list.
class OutboundPolicy {
 public:
  OutboundPolicy() = default;
  // Entries that do not parse are skipped (a stored manifest was checked
  // when it was deployed).
  explicit OutboundPolicy(const std::vector<std::string>& patterns);

  [[nodiscard]] bool allows(std::string_view scheme, std::string_view host,
                            std::uint16_t port) const noexcept;
  [[nodiscard]] bool empty() const noexcept { return patterns_.empty(); }

 private:
  std::vector<OutboundPattern> patterns_;
};

}  // namespace nebula
