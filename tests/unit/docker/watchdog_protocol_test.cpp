#include "docker/watchdog_protocol.hpp"

#include <gtest/gtest.h>

namespace nebula::docker::watchdog {
namespace {

std::string payload_of(const std::string& frame) {
  return frame.substr(kLengthBytes);
}

Request sample_request() {
  Request request;
  request.max_stdout_bytes = 6 * 1024 * 1024;
  request.max_stderr_bytes = 4096;
  request.env = {{"REQUEST_METHOD", "POST"}, {"EMPTY", ""}, {"BIN", std::string("a\0b", 3)}};
  request.argv = {"/fn", "--flag"};
  request.stdin_data = std::string("body\0with nul", 13);
  return request;
}

Response sample_response() {
  Response response;
  response.kind = ExitKind::kSignaled;
  response.code = 9;
  response.stdout_truncated = true;
  response.killed_for_output = true;
  response.cpu_us = 1234;
  response.max_rss_bytes = 5ULL << 32U;  // more than 32 bits
  response.exec_us = 99;
  response.stdout_data = "out";
  response.stderr_data = "err";
  response.message = "msg";
  return response;
}

TEST(WatchdogProtocol, LengthPrefixIsBigEndianPayloadSize) {
  const std::string frame = encode_ready();
  ASSERT_EQ(frame.size(), 6U);
  EXPECT_EQ(frame, std::string("\x00\x00\x00\x02\x01\x01", 6));
  auto length = decode_length(std::string_view(frame).substr(0, 4));
  ASSERT_TRUE(length);
  EXPECT_EQ(*length, 2U);
  auto type = decode_type(payload_of(frame));
  ASSERT_TRUE(type);
  EXPECT_EQ(*type, FrameType::kReady);
}

TEST(WatchdogProtocol, RequestRoundTrips) {
  const Request request = sample_request();
  const std::string frame = encode_request(request);
  auto length = decode_length(std::string_view(frame).substr(0, 4));
  ASSERT_TRUE(length);
  EXPECT_EQ(*length, frame.size() - 4);
  auto decoded = decode_request(payload_of(frame));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, request);
}

TEST(WatchdogProtocol, EmptyRequestRoundTrips) {
  auto decoded = decode_request(payload_of(encode_request(Request{})));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, Request{});
}

TEST(WatchdogProtocol, ResponseRoundTrips) {
  const Response response = sample_response();
  auto decoded = decode_response(payload_of(encode_response(response)));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, response);

  Response negative;
  negative.code = -1;
  auto decoded_negative = decode_response(payload_of(encode_response(negative)));
  ASSERT_TRUE(decoded_negative);
  EXPECT_EQ(decoded_negative->code, -1);
}

TEST(WatchdogProtocol, RejectsEveryTruncation) {
  const std::string payload = payload_of(encode_request(sample_request()));
  for (std::size_t size = 0; size < payload.size(); ++size) {
    EXPECT_FALSE(decode_request(payload.substr(0, size))) << "size " << size;
  }
  const std::string response = payload_of(encode_response(sample_response()));
  for (std::size_t size = 0; size < response.size(); ++size) {
    EXPECT_FALSE(decode_response(response.substr(0, size))) << "size " << size;
  }
}

TEST(WatchdogProtocol, RejectsTrailingBytesWrongTypeAndVersion) {
  const std::string payload = payload_of(encode_request(sample_request()));
  EXPECT_FALSE(decode_request(payload + "x"));
  EXPECT_FALSE(decode_response(payload));

  std::string other_version = payload;
  other_version[0] = 2;
  auto decoded = decode_request(other_version);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message.find("different builds"), std::string::npos);
  EXPECT_FALSE(decode_type(other_version));
  EXPECT_FALSE(decode_type(std::string("\x01\x09", 2)));
}

TEST(WatchdogProtocol, RejectsUnknownExitKindAndFlags) {
  std::string payload = payload_of(encode_response(Response{}));
  payload[2] = 7;  // exit kind
  EXPECT_FALSE(decode_response(payload));
  payload = payload_of(encode_response(Response{}));
  payload[7] = static_cast<char>(0x80);  // flags
  EXPECT_FALSE(decode_response(payload));
}

TEST(WatchdogProtocol, RejectsHugeCountsWithoutAllocating) {
  // Version, type, two u64 caps, then an env count of 2^32-1.
  std::string payload("\x01\x02", 2);
  payload += std::string(16, '\0');
  payload += std::string("\xff\xff\xff\xff", 4);
  auto decoded = decode_request(payload);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message.find("count"), std::string::npos);
}

TEST(WatchdogProtocol, RejectsOversizedAndTooShortLengths) {
  EXPECT_FALSE(decode_length(std::string("\x7f\xff\xff\xff", 4)));
  EXPECT_FALSE(decode_length(std::string("\x00\x00\x00\x01", 4)));
  EXPECT_FALSE(decode_length("abc"));
}

TEST(FrameReader, CutsAByteStreamIntoPayloads) {
  const std::string stream =
      encode_ready() + encode_response(sample_response()) + encode_request(sample_request());
  for (std::size_t step : {std::size_t{1}, std::size_t{5}, std::size_t{64}, stream.size()}) {
    FrameReader reader;
    std::vector<std::string> payloads;
    for (std::size_t i = 0; i < stream.size(); i += step) {
      reader.feed(std::string_view(stream).substr(i, step));
      for (;;) {
        auto next = reader.next();
        ASSERT_TRUE(next);
        if (!*next) break;
        payloads.push_back(std::move(**next));
      }
    }
    ASSERT_EQ(payloads.size(), 3U) << "step " << step;
    EXPECT_EQ(*decode_type(payloads[0]), FrameType::kReady);
    EXPECT_EQ(*decode_response(payloads[1]), sample_response());
    EXPECT_EQ(*decode_request(payloads[2]), sample_request());
    EXPECT_EQ(reader.buffered(), 0U);
  }
}

TEST(FrameReader, FailsOnACorruptLength) {
  FrameReader reader;
  reader.feed(std::string("\xff\xff\xff\xff", 4));
  EXPECT_FALSE(reader.next());
}

}  // namespace
}  // namespace nebula::docker::watchdog
