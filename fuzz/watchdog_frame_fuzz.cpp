// libFuzzer target for the watchdog frame format (STYLE: one fuzzer per
// parser). Feeds arbitrary bytes through the FrameReader and both payload
// decoders; whatever decodes must re-encode to the same payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "docker/watchdog_protocol.hpp"

namespace wd = nebula::docker::watchdog;

namespace {

void check_payload(std::string_view payload) {
  if (auto request = wd::decode_request(payload)) {
    const std::string again = wd::encode_request(*request);
    if (std::string_view(again).substr(wd::kLengthBytes) != payload) std::abort();
  }
  if (auto response = wd::decode_response(payload)) {
    const std::string again = wd::encode_response(*response);
    if (std::string_view(again).substr(wd::kLengthBytes) != payload) std::abort();
  }
  (void)wd::decode_type(payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_payload(bytes);

  // The same bytes as a stream, fed in uneven pieces.
  wd::FrameReader reader;
  std::size_t step = 1;
  for (std::size_t i = 0; i < bytes.size(); i += step, step = step * 2 + 1) {
    reader.feed(bytes.substr(i, step));
    for (;;) {
      auto next = reader.next();
      if (!next) return 0;  // corrupt length: the stream is over
      if (!*next) break;
      check_payload(**next);
    }
  }
  return 0;
}
