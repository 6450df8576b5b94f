#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "store/blob_store.hpp"
#include "store/registry.hpp"
#include "store/store.hpp"

namespace nebula::store {

// The embedded store: the SQLite registry (<data>/nebula.db) for functions
// and records, and the blob directory (<data>/blobs) for modules. One node
// owns the data directory; nothing else changes it, so it never reports
// changes.
class SqliteStore final : public Store {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> open(
      const std::filesystem::path& data_dir, RegistryOptions options = {});

  [[nodiscard]] Result<bool> put_function(const Function& function) override {
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
