// libFuzzer target: the manifest parser (PUT /v1/functions/{name} bodies).
// A manifest that parses must serialise and parse again to the same thing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/function.hpp"
#include "entry_points.hpp"

namespace nebula::fuzz {

bool check_manifest(std::string_view input) {
  auto manifest = parse_manifest(input);
  if (!manifest) return true;
  auto again = parse_manifest(manifest_to_json(*manifest));
  return again && again->wasm_module == manifest->wasm_module &&
         again->docker_image == manifest->docker_image && again->env == manifest->env &&
         again->args == manifest->args && again->limits == manifest->limits &&
         again->docker_pool == manifest->docker_pool;
}

}  // namespace nebula::fuzz

#ifndef NEBULA_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!nebula::fuzz::check_manifest(nebula::fuzz::as_text(data, size))) std::abort();
  return 0;
}
#endif
