#include "core/outbound.hpp"

#include <gtest/gtest.h>

namespace nebula {
namespace {

bool allows(std::vector<std::string> patterns, std::string_view scheme, std::string_view host,
            std::uint16_t port) {
  return OutboundPolicy(patterns).allows(scheme, host, port);
}

TEST(OutboundPattern, ExactHostAndPort) {
  EXPECT_TRUE(allows({"http://127.0.0.1:8081"}, "http", "127.0.0.1", 8081));
  EXPECT_FALSE(allows({"http://127.0.0.1:8081"}, "http", "127.0.0.1", 8082));
  EXPECT_FALSE(allows({"http://127.0.0.1:8081"}, "https", "127.0.0.1", 8081));
  EXPECT_FALSE(allows({"http://127.0.0.1:8081"}, "http", "127.0.0.2", 8081));
}

TEST(OutboundPattern, AnAbsentPortIsTheSchemesDefault) {
  EXPECT_TRUE(allows({"https://example.com"}, "https", "example.com", 443));
  EXPECT_FALSE(allows({"https://example.com"}, "https", "example.com", 8443));
  EXPECT_TRUE(allows({"*://example.com"}, "http", "example.com", 80));
  EXPECT_TRUE(allows({"*://example.com"}, "https", "example.com", 443));
  EXPECT_FALSE(allows({"*://example.com"}, "http", "example.com", 443));
}

TEST(OutboundPattern, Wildcards) {
  EXPECT_TRUE(allows({"https://*.example.com"}, "https", "api.example.com", 443));
  EXPECT_TRUE(allows({"https://*.example.com"}, "https", "a.b.example.com", 443));
  EXPECT_FALSE(allows({"https://*.example.com"}, "https", "example.com", 443));
  EXPECT_FALSE(allows({"https://*.example.com"}, "https", "evilexample.com", 443));
  EXPECT_TRUE(allows({"http://localhost:*"}, "http", "localhost", 31337));
  EXPECT_TRUE(allows({"*://*:*"}, "https", "anything.test", 1));
  EXPECT_FALSE(allows({}, "http", "127.0.0.1", 80));
}

TEST(OutboundPattern, CaseAndIpv6) {
  EXPECT_TRUE(allows({"HTTP://Example.COM:8080"}, "http", "example.com", 8080));
  EXPECT_TRUE(allows({"http://[::1]:8080"}, "http", "::1", 8080));
  EXPECT_FALSE(allows({"http://[::1]:8080"}, "http", "::1", 8081));
}

TEST(OutboundPattern, InvalidPatternsSayWhy) {
  for (std::string_view bad : {"example.com", "ftp://example.com", "http://", "http://a b",
                               "http://example.com:0", "http://example.com:99999",
                               "http://example.com:", "http://example.com/path", "http://*.",
                               "http://[::1"}) {
    auto p = OutboundPattern::parse(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(p.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_NE(p.error().message.find("SCHEME://HOST"), std::string::npos) << p.error().message;
  }
  EXPECT_TRUE(OutboundPattern::parse("https://example.com/"));
}

}  // namespace
}  // namespace nebula
