#include "service/platform.hpp"

#include <spdlog/spdlog.h>

namespace nebula::service {

wasm::ArtifactStorage compiled_artifacts(store::BlobStore& blobs, std::string engine_key) {
  return wasm::ArtifactStorage{
      .find = [&blobs, engine_key](std::string_view digest) -> std::optional<std::filesystem::path> {
        auto path = blobs.compiled_path(digest, engine_key);
        std::error_code ec;
        if (path && std::filesystem::exists(*path, ec)) return *path;
        return std::nullopt;
      },
      .save = [&blobs, engine_key](std::string_view digest, std::string_view bytes) {
        return blobs.put_compiled(digest, engine_key, bytes);
      }};
}

Result<std::unique_ptr<Platform>> Platform::open(PlatformOptions options) {
  std::unique_ptr<Platform> p(new Platform());

  auto blobs = store::BlobStore::open(options.data_dir);
  if (!blobs) {
    return make_error(blobs.error().kind, "cannot open the blob store: " + blobs.error().message);
  }
  p->blobs_ = std::make_unique<store::BlobStore>(std::move(*blobs));
  auto registry = store::Registry::open(
      options.data_dir, store::RegistryOptions{.max_records_per_function = options.max_records});
  if (!registry) {
    return make_error(registry.error().kind,
                      "cannot open the registry: " + registry.error().message);
  }
  p->registry_ = std::move(*registry);

  // One engine for the process. Every worker may hold an instance slot at
  // once, plus some room for the docker workers' occasional wasm work.
  wasm::EngineOptions engine_options;
  engine_options.max_instances = options.workers + 16;
  auto engine = wasm::Engine::create(engine_options);
  if (!engine) return std::move(engine).error();
  p->engine_ = std::move(*engine);
  p->engine_key_ = wasm::Engine::compatibility_key();
  p->modules_ = std::make_unique<wasm::ModuleCache>(
      *p->engine_, compiled_artifacts(*p->blobs_, p->engine_key_));
  p->wasm_ = std::make_unique<wasm::Runtime>(
      *p->engine_,
      [modules = p->modules_.get(), blobs = p->blobs_.get()](const std::string& d, bool component) {
        return modules->load(d, component, [blobs, &d] { return blobs->get(d); });
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

  p->service_ = std::make_unique<FunctionService>(
      ServiceParts{.registry = *p->registry_,
                   .blobs = *p->blobs_,
                   .modules = *p->modules_,
                   .wasm = *p->wasm_,
                   .docker = p->docker_.get(),
                   .metrics = p->metrics_},
      ServiceOptions{.max_pending = options.max_pending,
                     .workers = options.workers,
                     .docker_workers = options.docker_workers,
                     .node = options.node});
  p->service_->restore();
  return p;
}

Platform::~Platform() {
  // The service first: it joins its workers and retires every variant
  // while the runtimes and the store are still there.
  service_.reset();
}

}  // namespace nebula::service
