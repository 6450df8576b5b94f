#include "service/platform.hpp"

#include <spdlog/spdlog.h>

#include "base/format.hpp"
#include "base/memory.hpp"
#include "store/postgres.hpp"
#include "store/sqlite_store.hpp"

namespace nebula::service {

wasm::ArtifactStorage compiled_artifacts(store::BlobStore& blobs, std::string engine_key) {
  return wasm::ArtifactStorage{
      .find = [&blobs,
               engine_key](std::string_view digest) -> std::optional<std::filesystem::path> {
        auto path = blobs.compiled_path(digest, engine_key);
        std::error_code ec;
        if (path && std::filesystem::exists(*path, ec)) return *path;
        return std::nullopt;
      },
      .save =
          [&blobs, engine_key](std::string_view digest, std::string_view bytes) {
            return blobs.put_compiled(digest, engine_key, bytes);
          }};
}

Result<std::unique_ptr<Platform>> Platform::open(PlatformOptions options) {
  std::unique_ptr<Platform> p(new Platform());

  if (options.store.empty() || options.store == "sqlite") {
    auto opened = store::SqliteStore::open(
        options.data_dir,
        store::RegistryOptions{.max_records_per_function = options.max_records,
                               .max_versions_per_function = options.max_versions});
    if (!opened) return std::move(opened).error();
    p->store_ = std::move(*opened);
  } else if (store::is_postgres_dsn(options.store)) {
    auto opened = store::PostgresStore::open(
        options.store, store::PostgresOptions{.max_records_per_function = options.max_records,
                                              .max_versions_per_function = options.max_versions});
    if (!opened) return std::move(opened).error();
    p->store_ = std::move(*opened);
  } else {
    return make_error(ErrorKind::kInvalidArgument,
                      "--store expects \"sqlite\" or a PostgreSQL URI "
                      "(postgresql://user@host:port/db), got '" +
                          options.store.substr(0, 80) + "'");
  }
  spdlog::info("store: {}", p->store_->describe());
  auto cache = store::BlobStore::open(options.data_dir);
  if (!cache) {
    return make_error(cache.error().kind,
                      "cannot open the compiled-module cache: " + cache.error().message);
  }
  p->cache_ = std::make_unique<store::BlobStore>(std::move(*cache));

  // One engine for the process. Every worker may hold an instance slot at
  // once, plus some room for the docker workers' occasional wasm work.
  wasm::EngineOptions engine_options;
  engine_options.max_instances = options.workers + 16;
  auto engine = wasm::Engine::create(engine_options);
  if (!engine) return std::move(engine).error();
  p->engine_ = std::move(*engine);
  p->engine_key_ = wasm::Engine::compatibility_key();
  p->modules_ = std::make_unique<wasm::ModuleCache>(*p->engine_,
                                                    compiled_artifacts(*p->cache_, p->engine_key_));
  // A module this node has not compiled yet comes from the store (another
  // node may have uploaded it).
  p->wasm_ = std::make_unique<wasm::Runtime>(
      *p->engine_,
      [modules = p->modules_.get(), store = p->store_.get()](const std::string& d, bool component) {
        return modules->load(d, component, [store, &d] { return store->get_blob(d); });
      },
      options.wasm_unload_after,
      [] {
        const base::ReleasedMemory released = base::release_idle_memory();
        spdlog::debug("idle: no wasm program in memory; advised {} of code out",
                      base::format_bytes(static_cast<double>(released.code_bytes)));
      });

  if (options.docker) {
    p->docker_ = std::make_unique<docker::Runtime>(std::move(*options.docker));
    if (auto st = p->docker_->ping(); !st) {
      return make_error(st.error().kind, "Docker engine: " + st.error().message);
    }
    // Containers a crashed server left behind.
    if (auto st = p->docker_->cleanup_leftovers(); !st) {
      spdlog::warn("could not remove leftover containers: {}", st.error().message);
    }
  }

  // Secrets: the key given, or one of this data directory's own when the
  // store is too (a shared store needs the same key on every node).
  std::filesystem::path key_file = options.secrets_key_file;
  const bool own_key = key_file.empty() && !p->store_->shared();
  if (own_key) key_file = options.data_dir / "secrets.key";
  if (!key_file.empty()) {
    auto box = SecretBox::from_key_file(key_file, own_key);
    if (!box) {
      return make_error(box.error().kind, "secrets key: " + box.error().message);
    }
    p->secrets_.emplace(std::move(*box));
  } else {
    spdlog::warn(
        "secrets are off: a shared store needs --secrets-key-file (the same key on "
        "every node)");
  }

  p->service_ = std::make_unique<FunctionService>(
      ServiceParts{.store = *p->store_,
                   .modules = *p->modules_,
                   .wasm = *p->wasm_,
                   .docker = p->docker_.get(),
                   .metrics = p->metrics_,
                   .secrets = p->secrets_ ? &*p->secrets_ : nullptr,
                   .post_callback = std::move(options.post_callback)},
      ServiceOptions{.max_pending = options.max_pending,
                     .workers = options.workers,
                     .docker_workers = options.docker_workers,
                     .node = options.node,
                     .data_dir = options.data_dir,
                     .instance_slots = engine_options.max_instances,
                     .async_workers = options.async_workers});
  p->service_->restore();
  p->service_->follow();
  p->service_->start_background();
  return p;
}

Platform::~Platform() {
  // The service first: it joins its workers and retires every variant
  // while the runtimes and the store are still there.
  service_.reset();
}

}  // namespace nebula::service
