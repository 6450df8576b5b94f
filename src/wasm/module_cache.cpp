#include "wasm/module_cache.hpp"

#include <malloc.h>

namespace nebula::wasm {

ModuleCache::ModuleCache(const Engine& engine, ArtifactStorage storage)
    : engine_(engine), storage_(std::move(storage)) {}

Result<std::string> ModuleCache::compile_artifact(std::string_view bytes, bool& component) const {
  // A compiler engine of the serving engine's settings (so that its code
  // loads there) with a single instance slot, made for this compilation
  // and dropped after it. The engine that compiles keeps its compiler's
  // scratch contexts for reuse — tens of MiB after a large component —
  // for as long as it lives; the serving engine would hold them for ever.
  EngineOptions options = engine_.options();
  options.max_instances = 1;
  auto compiler = Engine::create(options);
  if (!compiler) return std::move(compiler).error();
  auto module = Module::compile(**compiler, bytes);
  if (!module) return std::move(module).error();
  component = module->is_component();
  return module->serialize();
}

Result<Module> ModuleCache::compile(std::string_view digest, std::string_view bytes) {
  bool component = false;
  auto artifact = compile_artifact(bytes, component);
  // The compiler is gone; hand its freed heap back to the kernel so that
  // an idle server stays small.
  ::malloc_trim(0);
  if (!artifact) return std::move(artifact).error();
  // From the stored file when the store took it: mapped, so its pages are
  // the page cache's. A failed cache write only costs a recompile after the
  // next restart; the module itself is good.
  if (storage_.save(digest, *artifact)) {
    if (auto path = storage_.find(digest)) {
      if (auto module = Module::deserialize_file(engine_, *path, component)) return module;
    }
  }
  return Module::deserialize(engine_, *artifact, component);
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
