#include "docker/multiplexed_stream.hpp"

#include <algorithm>

namespace nebula::docker {

std::string encode_stream_frame(StreamKind kind, std::string_view payload) {
  const auto size = static_cast<std::uint32_t>(payload.size());
  std::string out(kStreamHeaderBytes, '\0');
  out[0] = static_cast<char>(kind);
  out[4] = static_cast<char>((size >> 24U) & 0xFFU);
  out[5] = static_cast<char>((size >> 16U) & 0xFFU);
  out[6] = static_cast<char>((size >> 8U) & 0xFFU);
  out[7] = static_cast<char>(size & 0xFFU);
  out.append(payload);
  return out;
}

Status StreamDemuxer::feed(std::string_view bytes, std::vector<StreamChunk>& out) {
  if (failed_) {
    return make_error(ErrorKind::kInternal, "the container's output stream was already malformed");
  }
  while (!bytes.empty()) {
    if (remaining_ > 0) {
      const std::size_t take = std::min<std::size_t>(remaining_, bytes.size());
      out.push_back(StreamChunk{kind_, bytes.substr(0, take)});
      bytes.remove_prefix(take);
      remaining_ -= static_cast<std::uint32_t>(take);
      continue;
    }
    const std::size_t take = std::min(kStreamHeaderBytes - header_size_, bytes.size());
    std::copy_n(bytes.data(), take, header_ + header_size_);
    header_size_ += take;
    bytes.remove_prefix(take);
    if (header_size_ < kStreamHeaderBytes) break;
    header_size_ = 0;
    if (header_[0] > 2 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0) {
      failed_ = true;
      return make_error(ErrorKind::kInternal,
                        "the container's output is not a multiplexed stream (bad frame header); "
                        "was it created with a TTY?");
    }
    kind_ = static_cast<StreamKind>(header_[0]);
    remaining_ = (std::uint32_t{header_[4]} << 24U) | (std::uint32_t{header_[5]} << 16U) |
                 (std::uint32_t{header_[6]} << 8U) | std::uint32_t{header_[7]};
  }
  return {};
}

}  // namespace nebula::docker
