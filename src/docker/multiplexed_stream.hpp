#pragma once

// The engine's multiplexed attach stream. Without a TTY, stdout and stderr
// share one connection as frames: an 8-byte header — stream type (0 stdin,
// 1 stdout, 2 stderr), three zero bytes, payload size as u32 big-endian —
// followed by that many payload bytes. Frames may be split anywhere across
// reads, so the decoder keeps state between calls.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace nebula::docker {

enum class StreamKind : std::uint8_t { kStdin = 0, kStdout = 1, kStderr = 2 };

// A piece of one frame's payload. `data` points into the buffer passed to
// StreamDemuxer::feed and is valid only as long as that buffer.
struct StreamChunk {
  StreamKind kind = StreamKind::kStdout;
  std::string_view data;
};

inline constexpr std::size_t kStreamHeaderBytes = 8;

// Encodes one frame (for tests and fakes; the engine is the only real writer).
[[nodiscard]] std::string encode_stream_frame(StreamKind kind, std::string_view payload);

// Incremental decoder. Payload bytes are handed out as soon as they arrive,
// without waiting for the rest of their frame, so a large frame is never
// buffered twice. Not thread-safe: one per stream.
class StreamDemuxer {
 public:
  // Appends the payload pieces found in `bytes` to `out`. A header with an
  // unknown stream type or non-zero padding means the stream is not
  // multiplexed (a TTY container, or garbage): kInternal, and the decoder
  // stays failed.
  [[nodiscard]] Status feed(std::string_view bytes, std::vector<StreamChunk>& out);

  // True between frames: no partial header and no payload still owed.
  [[nodiscard]] bool at_frame_boundary() const noexcept {
    return header_size_ == 0 && remaining_ == 0;
  }

 private:
  std::uint8_t header_[kStreamHeaderBytes] = {};
  std::size_t header_size_ = 0;
  std::uint32_t remaining_ = 0;
  StreamKind kind_ = StreamKind::kStdout;
  bool failed_ = false;
};

}  // namespace nebula::docker
