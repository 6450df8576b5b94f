// libFuzzer target for the watchdog frame format (STYLE: one fuzzer per
// parser). Feeds arbitrary bytes through the FrameReader and both payload
// decoders; whatever decodes must re-encode to the same payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "docker/watchdog_protocol.hpp"
#include "entry_points.hpp"

namespace nebula::fuzz {
namespace {

namespace wd = docker::watchdog;

bool check_payload(std::string_view payload) {
  if (auto request = wd::decode_request(payload)) {
    const std::string again = wd::encode_request(*request);
    if (std::string_view(again).substr(wd::kLengthBytes) != payload) return false;
  }
  if (auto response = wd::decode_response(payload)) {
    const std::string again = wd::encode_response(*response);
    if (std::string_view(again).substr(wd::kLengthBytes) != payload) return false;
  }
  (void)wd::decode_type(payload);
  return true;
}

}  // namespace

bool check_watchdog_frames(std::string_view bytes) {
  if (!check_payload(bytes)) return false;

  // The same bytes as a stream, fed in uneven pieces.
  wd::FrameReader reader;
  std::size_t step = 1;
  for (std::size_t i = 0; i < bytes.size(); i += step, step = step * 2 + 1) {
    reader.feed(bytes.substr(i, step));
    for (;;) {
      auto next = reader.next();
      if (!next) return true;  // corrupt length: the stream is over
      if (!*next) break;
      if (!check_payload(**next)) return false;
    }
  }
  return true;
}

}  // namespace nebula::fuzz

#ifndef NEBULA_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!nebula::fuzz::check_watchdog_frames(nebula::fuzz::as_text(data, size))) std::abort();
  return 0;
}
#endif
