// libFuzzer target: the manifest parser (PUT /v1/functions/{name} bodies).
// A manifest that parses must serialise and parse again to the same thing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/function.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto manifest = nebula::parse_manifest(text);
  if (!manifest) return 0;
  auto again = nebula::parse_manifest(nebula::manifest_to_json(*manifest));
  if (!again || again->wasm_module != manifest->wasm_module ||
      again->docker_image != manifest->docker_image || again->env != manifest->env ||
      again->args != manifest->args || !(again->limits == manifest->limits) ||
      !(again->docker_pool == manifest->docker_pool)) {
    std::abort();
  }
  return 0;
}
