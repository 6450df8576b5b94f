#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "wasm/engine.hpp"
#include "wasm/module.hpp"

namespace nebula::wasm {

// Where compiled artifacts live, keyed by module digest (the engine's
// compatibility key is part of the location). The server backs it with the
// blob store (store::BlobStore::compiled_path / put_compiled), which writes
// atomically, so a reader never sees a partial artifact.
struct ArtifactStorage {
  // The artifact's path if one is stored.
  std::function<std::optional<std::filesystem::path>(std::string_view digest)> find;
  // Stores an artifact, replacing any earlier one.
  std::function<Status(std::string_view digest, std::string_view bytes)> save;
};

// Compiled modules and components, cached. A later load memory-maps the artifact instead of
// compiling (milliseconds → microseconds), which is what makes a restart
// cheap. Thread-safe when the storage is.
class ModuleCache {
 public:
  ModuleCache(const Engine& engine, ArtifactStorage storage);

  // Compiles `bytes` (already known to hash to `digest`) and stores the
  // artifact. Used when a module is uploaded.
  [[nodiscard]] Result<Module> compile(std::string_view digest, std::string_view bytes);

  // The cached artifact, or — when missing or unusable (another engine
  // build, a damaged file, not the kind expected) — compiles what
  // `read_source` returns and caches it. `component` says which kind the
  // artifact is expected to be (the stored manifest knows).
  [[nodiscard]] Result<Module> load(std::string_view digest, bool component,
                                    const std::function<Result<std::string>()>& read_source);

 private:
  // The compiled artifact of `bytes`, and whether it is a component.
  [[nodiscard]] Result<std::string> compile_artifact(std::string_view bytes,
                                                     bool& component) const;

  const Engine& engine_;
  ArtifactStorage storage_;
};

}  // namespace nebula::wasm
