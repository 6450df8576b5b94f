#include "http/framing.hpp"

// GCC 12 with the sanitizers warns, wrongly, that a boost::optional
// inside Beast's parser may be used uninitialized where put() is inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/http/parser.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

namespace nebula::http {
namespace {

namespace bhttp = boost::beast::http;

// The header Beast makes of `head`: what the server hands framing_problem().
// Fails the test when Beast itself refuses the head.
bhttp::request_header<> parsed(std::string_view head) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(false);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << head;
  EXPECT_TRUE(parser.is_header_done()) << head;
  return parser.get().base();
}

TEST(HeadLength, EndsAtTheFirstEmptyLine) {
  EXPECT_EQ(head_length("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 27U);
  EXPECT_EQ(head_length("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), 27U);
  EXPECT_EQ(head_length("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 18U);
  // A bare LF ends it too: Beast then refuses it with 400 rather than the
  // server waiting for a CRLF that never comes.
  EXPECT_EQ(head_length("GET / HTTP/1.1\nHost: x\n\n"), 24U);
  EXPECT_EQ(head_length("\r\n"), 2U);
  EXPECT_EQ(head_length("\n"), 1U);
}

TEST(HeadLength, IncompleteHeadsHaveNone) {
  EXPECT_FALSE(head_length(""));
  EXPECT_FALSE(head_length("GET / HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_FALSE(head_length("GET / HTTP/1.1\r\nHost: x\r\n\r"));
  EXPECT_FALSE(head_length("GET / HTTP/1.1\r\nX: \r\r\n"));
}

TEST(HeadLength, ASearchResumedOnMoreBytesFindsTheSameEnd) {
  const std::string head = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
  // Byte by byte, as a slow client sends it.
  std::size_t searched = 0;
  std::optional<std::size_t> end;
  for (std::size_t n = 1; n <= head.size() && !end; ++n) {
    end = head_length(std::string_view(head).substr(0, n), searched);
    searched = n;
  }
  EXPECT_EQ(end, head_length(head));
  EXPECT_EQ(end, head.size() - 2);
}

TEST(HeadBytes, ObsoleteLineFoldingIsRefused) {
  EXPECT_FALSE(head_bytes_problem("GET / HTTP/1.1\r\nHost: x\r\nX-A: one two\r\n\r\n"));
  EXPECT_TRUE(head_bytes_problem("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n"));
  EXPECT_TRUE(head_bytes_problem("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n"));
  // The folded Transfer-Encoding a proxy might not see as chunked.
  EXPECT_TRUE(head_bytes_problem(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"));
  // Whitespace between the request line and the first field.
  EXPECT_TRUE(head_bytes_problem("GET / HTTP/1.1\r\n Host: x\r\n\r\n"));
  EXPECT_TRUE(head_bytes_problem("GET / HTTP/1.1\n X: y\n\n"));
}

TEST(Framing, OrdinaryRequestsPass) {
  EXPECT_FALSE(framing_problem(parsed("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  EXPECT_FALSE(framing_problem(parsed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")));
  EXPECT_FALSE(
      framing_problem(parsed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")));
  // Transfer codings are case-insensitive (RFC 9112 §7).
  EXPECT_FALSE(
      framing_problem(parsed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n")));
  EXPECT_FALSE(framing_problem(parsed("POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n")));
}

// The shapes Beast accepts and the server refuses.
TEST(Framing, TransferCodingsOtherThanChunkedAreRefused) {
  for (const char* head : {
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
           "chunked\r\n\r\n",
           "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
       }) {
    EXPECT_TRUE(framing_problem(parsed(head))) << head;
  }
}

TEST(Framing, LengthsThatCouldBeReadTwoWaysAreRefused) {
  for (const char* head : {
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n",
           // Beast refuses Content-Length after Transfer-Encoding: chunked,
           // not after another coding.
           "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
       }) {
    auto problem = framing_problem(parsed(head));
    ASSERT_TRUE(problem) << head;
    EXPECT_NE(problem->find("Content-Length"), std::string::npos) << *problem;
  }
}

TEST(Framing, DetailsSayWhatToSend) {
  auto problem = framing_problem(
      parsed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"));
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("one Content-Length, or Transfer-Encoding: chunked"), std::string::npos)
      << *problem;
}

}  // namespace
}  // namespace nebula::http
