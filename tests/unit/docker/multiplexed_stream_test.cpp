#include "docker/multiplexed_stream.hpp"

#include <gtest/gtest.h>

namespace nebula::docker {
namespace {

// Joins what the demuxer handed out, per stream.
struct Collected {
  std::string out;
  std::string err;
};

Collected feed_all(StreamDemuxer& demux, std::string_view bytes, std::size_t step) {
  Collected collected;
  for (std::size_t i = 0; i < bytes.size(); i += step) {
    std::vector<StreamChunk> chunks;
    const Status fed = demux.feed(bytes.substr(i, step), chunks);
    EXPECT_TRUE(fed) << (fed ? "" : fed.error().message);
    for (const StreamChunk& chunk : chunks) {
      (chunk.kind == StreamKind::kStderr ? collected.err : collected.out) += chunk.data;
    }
  }
  return collected;
}

TEST(MultiplexedStream, EncodesTheDocumentedHeader) {
  const std::string frame = encode_stream_frame(StreamKind::kStderr, "hi");
  ASSERT_EQ(frame.size(), 10U);
  EXPECT_EQ(frame.substr(0, 8), std::string("\x02\x00\x00\x00\x00\x00\x00\x02", 8));
  EXPECT_EQ(frame.substr(8), "hi");
}

TEST(MultiplexedStream, DecodesInterleavedFramesSplitAnywhere) {
  const std::string big(70000, 'b');  // bigger than one read
  const std::string stream = encode_stream_frame(StreamKind::kStdout, "hello ") +
                             encode_stream_frame(StreamKind::kStderr, "warn\n") +
                             encode_stream_frame(StreamKind::kStdout, "") +
                             encode_stream_frame(StreamKind::kStdout, big) +
                             encode_stream_frame(StreamKind::kStderr, "bye");
  for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{8}, std::size_t{9},
                           std::size_t{4096}, stream.size()}) {
    StreamDemuxer demux;
    const Collected got = feed_all(demux, stream, step);
    EXPECT_EQ(got.out, "hello " + big) << "step " << step;
    EXPECT_EQ(got.err, "warn\nbye") << "step " << step;
    EXPECT_TRUE(demux.at_frame_boundary());
  }
}

TEST(MultiplexedStream, ReportsAPartialFrame) {
  StreamDemuxer demux;
  std::vector<StreamChunk> chunks;
  const std::string frame = encode_stream_frame(StreamKind::kStdout, "abcdef");
  ASSERT_TRUE(demux.feed(std::string_view(frame).substr(0, 10), chunks));
  ASSERT_EQ(chunks.size(), 1U);
  EXPECT_EQ(chunks[0].data, "ab");
  EXPECT_FALSE(demux.at_frame_boundary());
}

TEST(MultiplexedStream, RejectsARawTtyStream) {
  StreamDemuxer demux;
  std::vector<StreamChunk> chunks;
  // A TTY container's output is raw text; "hello wo" is no frame header.
  const Status fed = demux.feed("hello world", chunks);
  ASSERT_FALSE(fed);
  EXPECT_NE(fed.error().message.find("TTY"), std::string::npos);
  // And the decoder stays failed.
  EXPECT_FALSE(demux.feed(encode_stream_frame(StreamKind::kStdout, "x"), chunks));
}

TEST(MultiplexedStream, RejectsNonZeroPadding) {
  StreamDemuxer demux;
  std::vector<StreamChunk> chunks;
  EXPECT_FALSE(demux.feed(std::string("\x01\x00\x01\x00\x00\x00\x00\x01x", 9), chunks));
}

}  // namespace
}  // namespace nebula::docker
