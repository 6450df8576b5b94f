#include "wasm/module_cache.hpp"

#include <malloc.h>

namespace nebula::wasm {

ModuleCache::ModuleCache(const Engine& engine, ArtifactStorage storage)
    : engine_(engine), storage_(std::move(storage)) {}

Result<Module> ModuleCache::compile(std::string_view digest, std::string_view bytes) {
  auto module = Module::compile(engine_, bytes);
  // Compiling leaves megabytes of freed heap in this thread's malloc arena;
  // hand them back so that an idle server stays small.
  ::malloc_trim(0);
  if (!module) return module;
  // A failed cache write only costs a recompile after the next restart; the
  // module itself is good.
  if (auto artifact = module->serialize(); artifact) {
    (void)storage_.save(digest, *artifact);
  }
  return module;
}

Result<Module> ModuleCache::load(std::string_view digest, bool component,
                                 const std::function<Result<std::string>()>& read_source) {
  if (auto path = storage_.find(digest)) {
    // The expected kind first; a manifest stored before its kind was known
    // may name a component as a module.
    for (bool as_component : {component, !component}) {
      auto module = Module::deserialize_file(engine_, *path, as_component);
      if (module) return module;
    }
    // Unusable artifact: fall through and recompile, which replaces it.
  }
  auto source = read_source();
  if (!source) return std::move(source).error();
  return compile(digest, *source);
}

}  // namespace nebula::wasm
