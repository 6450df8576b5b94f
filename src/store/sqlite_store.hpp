#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/blob_store.hpp"
#include "store/registry.hpp"
#include "store/store.hpp"

namespace nebula::store {

// The embedded store: the SQLite registry (<data>/nebula.db) for functions,
// versions, records, secrets, tasks and schedule firings, and the blob
// directory (<data>/blobs) for modules. One node
// owns the data directory; nothing else changes it, so it never reports
// changes.
class SqliteStore final : public Store {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> open(
      const std::filesystem::path& data_dir, RegistryOptions options = {});

  [[nodiscard]] Result<PutResult> put_function(const Function& function) override {
    return registry_->put_function(function);
  }
  [[nodiscard]] Result<Function> get_function(std::string_view name) override {
    return registry_->get_function(name);
  }
  [[nodiscard]] Result<std::vector<Function>> list_functions() override {
    return registry_->list_functions();
  }
  [[nodiscard]] Result<bool> delete_function(std::string_view name) override {
    return registry_->delete_function(name);
  }
  [[nodiscard]] Result<std::vector<FunctionVersion>> list_versions(std::string_view name) override {
    return registry_->list_versions(name);
  }
  [[nodiscard]] Result<FunctionVersion> get_version(std::string_view name,
                                                    std::uint64_t version) override {
    return registry_->get_version(name, version);
  }
  [[nodiscard]] Result<Function> activate_version(std::string_view name,
                                                  std::uint64_t version) override {
    return registry_->activate_version(name, version);
  }
  [[nodiscard]] Result<bool> put_secret(std::string_view name, std::string_view sealed) override {
    return registry_->put_secret(name, sealed);
  }
  [[nodiscard]] Result<std::string> get_secret(std::string_view name) override {
    return registry_->get_secret(name);
  }
  [[nodiscard]] Result<std::vector<SecretInfo>> list_secrets() override {
    return registry_->list_secrets();
  }
  [[nodiscard]] Result<bool> delete_secret(std::string_view name) override {
    return registry_->delete_secret(name);
  }
  [[nodiscard]] Status enqueue_task(const AsyncTask& task, std::size_t max_queued) override {
    return registry_->enqueue_task(task, max_queued);
  }
  [[nodiscard]] Result<std::optional<AsyncTask>> claim_task(std::string_view node,
                                                            std::int64_t now_us,
                                                            std::int64_t lease_us) override {
    return registry_->claim_task(node, now_us, lease_us);
  }
  [[nodiscard]] Status finish_task(const AsyncTask& task) override {
    return registry_->finish_task(task);
  }
  [[nodiscard]] Result<AsyncTask> get_task(std::string_view id) override {
    return registry_->get_task(id);
  }
  [[nodiscard]] Result<std::optional<std::int64_t>> next_task_due() override {
    return registry_->next_task_due();
  }
  [[nodiscard]] Status release_tasks(std::string_view node) override {
    return registry_->release_tasks(node);
  }
  [[nodiscard]] Result<bool> claim_firing(std::string_view function, std::string_view key,
                                          std::int64_t due_us) override {
    return registry_->claim_firing(function, key, due_us);
  }
  [[nodiscard]] Result<bool> fire_task(const AsyncTask& task, std::size_t max_queued,
                                       std::string_view key, std::int64_t due_us) override {
    return registry_->fire_task(task, max_queued, key, due_us);
  }
  [[nodiscard]] Result<std::optional<std::int64_t>> last_firing(std::string_view function,
                                                                std::string_view key) override {
    return registry_->last_firing(function, key);
  }
  [[nodiscard]] Result<std::string> put_blob(std::string_view bytes) override {
    return blobs_.put(bytes);
  }
  [[nodiscard]] Result<std::string> get_blob(std::string_view digest) override {
    return blobs_.get(digest);
  }
  [[nodiscard]] Result<bool> has_blob(std::string_view digest) override {
    return blobs_.contains(digest);
  }
  [[nodiscard]] std::vector<Status> add_invocations(
      const std::vector<InvocationRecord>& records) override {
    return registry_->add_invocations(records);
  }
  [[nodiscard]] Result<std::vector<InvocationRecord>> list_invocations(
      const InvocationQuery& query) override {
    return registry_->list_invocations(query);
  }
  [[nodiscard]] Result<InvocationRecord> get_invocation(std::string_view id) override {
    return registry_->get_invocation(id);
  }
  [[nodiscard]] Result<FunctionStats> function_stats(std::string_view name) override {
    return registry_->function_stats(name);
  }
  [[nodiscard]] Status ping() override;
  [[nodiscard]] std::string describe() const override { return "sqlite " + path_; }

  [[nodiscard]] Registry& registry() noexcept { return *registry_; }
  [[nodiscard]] BlobStore& blobs() noexcept { return blobs_; }

 private:
  SqliteStore(std::unique_ptr<Registry> registry, BlobStore blobs, std::string path)
      : registry_(std::move(registry)), blobs_(std::move(blobs)), path_(std::move(path)) {}

  std::unique_ptr<Registry> registry_;
  BlobStore blobs_;
  std::string path_;
};

}  // namespace nebula::store
