#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "docker/runtime.hpp"
#include "metrics/registry.hpp"
#include "service/function_service.hpp"
#include "store/blob_store.hpp"
#include "store/store.hpp"
#include "wasm/engine.hpp"
#include "wasm/module_cache.hpp"
#include "wasm/runtime.hpp"

namespace nebula::service {

struct PlatformOptions {
  // The SQLite store and the blobs by default; with a PostgreSQL store,
  // only this node's compiled-module cache.
  std::filesystem::path data_dir = "./nebula-data";
  // Empty or "sqlite": the embedded store in data_dir. A PostgreSQL DSN
  // ("postgresql://user@host:port/db"): the store shared by many nodes.
  std::string store;
  std::size_t max_records = 1000;  // invocation records kept per function
  std::size_t max_pending = 1024;
  unsigned workers = 4;
  unsigned docker_workers = 16;
  // Unset: no Docker runtime (wasm only).
  std::optional<docker::RuntimeOptions> docker;
  std::string node;  // empty: the host name
  // A wasm variant idle this long lets its compiled code go (0: never).
  std::chrono::milliseconds wasm_unload_after{0};
  std::size_t max_versions = 20;  // versions kept per function
  // The key that seals secrets (32 raw bytes or 64 hex digits, mode 0600).
  // Empty: with the SQLite store, <data_dir>/secrets.key, created on first
  // start; with PostgreSQL, none (every node must be given the same key,
  // so none is made up): secrets are then refused with a clear error.
  std::filesystem::path secrets_key_file;
  unsigned async_workers = 2;    // threads running queued async calls
  CallbackPoster post_callback;  // unset: callbacks are refused
};

// Everything behind the API, assembled and owned in dependency order: the
// store (SQLite or PostgreSQL), the wasm engine with its compiled-module
// cache in the data directory, the Docker runtime when enabled, the metrics, and the
// function service over all of them. `nebula serve` and the in-process
// tests build the same thing this one way.
//
// Destruction runs in reverse: the service joins its workers and retires
// every variant before the runtimes and the store go.
class Platform {
 public:
  // Opens the data directory, creates the engine, contacts the Docker
  // engine (when enabled: removes leftovers of a crashed server) and
  // restores every stored function.
  [[nodiscard]] static Result<std::unique_ptr<Platform>> open(PlatformOptions options);

  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;
  ~Platform();

  [[nodiscard]] FunctionService& service() noexcept { return *service_; }
  [[nodiscard]] metrics::Registry& metrics() noexcept { return metrics_; }
  [[nodiscard]] wasm::Engine& engine() noexcept { return *engine_; }
  [[nodiscard]] docker::Runtime* docker() noexcept { return docker_.get(); }
  [[nodiscard]] store::Store& store() noexcept { return *store_; }

 private:
  Platform() = default;

  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::BlobStore> cache_;  // compiled modules, this node's
  std::unique_ptr<wasm::Engine> engine_;
  std::string engine_key_;
  std::unique_ptr<wasm::ModuleCache> modules_;
  std::unique_ptr<wasm::Runtime> wasm_;
  std::unique_ptr<docker::Runtime> docker_;
  metrics::Registry metrics_;
  std::optional<SecretBox> secrets_;
  std::unique_ptr<FunctionService> service_;
};

// Compiled artifacts kept in a blob store, under an engine's compatibility
// key: what a ModuleCache reads and writes.
[[nodiscard]] wasm::ArtifactStorage compiled_artifacts(store::BlobStore& blobs,
                                                       std::string engine_key);

}  // namespace nebula::service
