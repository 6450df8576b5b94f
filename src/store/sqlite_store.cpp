#include "store/sqlite_store.hpp"

namespace nebula::store {

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& data_dir,
                                                       RegistryOptions options) {
  auto blobs = BlobStore::open(data_dir);
  if (!blobs) {
    return make_error(blobs.error().kind, "cannot open the blob store: " + blobs.error().message);
  }
  auto registry = Registry::open(data_dir, options);
  if (!registry) {
    return make_error(registry.error().kind,
                      "cannot open the registry: " + registry.error().message);
  }
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(std::move(*registry), std::move(*blobs), (data_dir / "nebula.db").string()));
}

Status SqliteStore::ping() {
  InvocationQuery probe;
  probe.limit = 1;
  auto records = registry_->list_invocations(probe);
  if (!records) return std::move(records).error();
  return {};
}

}  // namespace nebula::store
