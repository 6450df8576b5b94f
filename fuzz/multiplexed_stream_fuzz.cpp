// libFuzzer target: the Docker engine's multiplexed attach stream (a
// container's stdout and stderr as frames; docker/multiplexed_stream.hpp).
// The decoder keeps state across reads and hands out views into each read's
// bytes, so the bytes are fed whole and in uneven pieces: both ways must
// agree on each stream's output and on failure, and what decodes whole must
// encode back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "docker/multiplexed_stream.hpp"
#include "entry_points.hpp"

namespace nebula::fuzz {
namespace {

struct Decoded {
  std::string out;
  std::string err;
  std::string in;
  bool failed = false;
  bool recovered = false;  // fed again after failing, it did not fail: a bug
  bool at_boundary = false;
};

// Feeds `bytes` in pieces of the given sizes (cycled), copying each piece
// to its own buffer that dies after the call: a chunk that pointed past
// its piece would be a use after free.
Decoded decode(std::string_view bytes, const std::vector<std::size_t>& pieces) {
  Decoded d;
  docker::StreamDemuxer demuxer;
  std::size_t at = 0;
  for (std::size_t p = 0; at < bytes.size(); ++p) {
    const std::string piece(bytes.substr(at, pieces[p % pieces.size()]));
    at += piece.size();
    std::vector<docker::StreamChunk> chunks;
    auto st = demuxer.feed(piece, chunks);
    for (const auto& chunk : chunks) {
      switch (chunk.kind) {
        case docker::StreamKind::kStdout: d.out.append(chunk.data); break;
        case docker::StreamKind::kStderr: d.err.append(chunk.data); break;
        case docker::StreamKind::kStdin: d.in.append(chunk.data); break;
      }
    }
    if (!st) {
      d.failed = true;
      // Once failed, it stays failed.
      std::vector<docker::StreamChunk> more;
      d.recovered = demuxer.feed("x", more) || !more.empty();
      return d;
    }
  }
  d.at_boundary = demuxer.at_frame_boundary();
  return d;
}

}  // namespace

bool check_multiplexed_stream(std::string_view bytes) {
  const Decoded whole = decode(bytes, {bytes.size() + 1});
  const Decoded bytewise = decode(bytes, {1});
  const Decoded uneven = decode(bytes, {3, 1, 7, 2, 8, 5});
  for (const Decoded* split : {&whole, &bytewise, &uneven}) {
    if (split->recovered) return false;
  }
  for (const Decoded* split : {&bytewise, &uneven}) {
    if (split->failed != whole.failed || split->out != whole.out || split->err != whole.err ||
        split->in != whole.in || split->at_boundary != whole.at_boundary) {
      return false;
    }
  }
  // Every payload byte comes from the input, after a header of its own.
  const std::size_t payload = whole.out.size() + whole.err.size() + whole.in.size();
  if (payload > 0 && payload + docker::kStreamHeaderBytes > bytes.size()) return false;
  // One whole frame of stdout, or of stderr, encodes back to the input.
  if (!whole.failed && whole.at_boundary && whole.in.empty() &&
      bytes.size() == docker::kStreamHeaderBytes + payload && payload > 0 &&
      (whole.out.empty() || whole.err.empty())) {
    const bool out = !whole.out.empty();
    const std::string again = docker::encode_stream_frame(
        out ? docker::StreamKind::kStdout : docker::StreamKind::kStderr,
        out ? whole.out : whole.err);
    if (again != bytes) return false;
  }
  return true;
}

}  // namespace nebula::fuzz

#ifndef NEBULA_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!nebula::fuzz::check_multiplexed_stream(nebula::fuzz::as_text(data, size))) std::abort();
  return 0;
}
#endif
