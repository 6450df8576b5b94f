#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.hpp"

namespace nebula::store {

// The digest of `bytes` in Nebula's form, "sha256:<64 lowercase hex>".
[[nodiscard]] Result<std::string> sha256_digest(std::string_view bytes);

// Content-addressed files under a data directory:
//
//   <data>/blobs/sha256/<hex>                          module bytes
//   <data>/blobs/compiled/<engine_hash>/<hex>.cwasm    compiled-module cache
//
// Every file is written to a temporary file in its final directory, fsynced,
// renamed over its final name and the directory fsynced, so a crash at any
// point (even kill -9 or a power cut) leaves either no file or the whole file
// under the final name, never a partial one. Temporary files are named
// ".tmp-…" and removed by the next open().
//
// Digests and engine hashes are validated before any path is built from them,
// so nothing from a request can name a file outside the store.
//
// Thread-safe: the store holds no mutable state; concurrent puts of the same
// content each write their own temporary file and the last rename wins with
// identical bytes. One server owns a data directory at a time.
class BlobStore {
 public:
  // Creates the directories if needed and removes temporary files a crash
  // left behind.
  [[nodiscard]] static Result<BlobStore> open(const std::filesystem::path& data_dir);

  // Stores `bytes` and returns their digest. Storing content that is already
  // present does nothing and returns the same digest.
  [[nodiscard]] Result<std::string> put(std::string_view bytes) const;

  // The bytes of a blob. kNotFound when absent; kInternal when the file no
  // longer matches its digest (disk corruption or a hand-edited file).
  [[nodiscard]] Result<std::string> get(std::string_view digest) const;

  // False for absent blobs and for malformed digests.
  [[nodiscard]] bool contains(std::string_view digest) const;

  // Where a blob lives (whether or not it exists yet).
  [[nodiscard]] Result<std::filesystem::path> path_of(std::string_view digest) const;

  // Where the compiled form of a module lives for an engine whose
  // compatibility hash is `engine_hash` ([A-Za-z0-9_-], 1 to 128
  // characters). A different engine build or configuration has a different
  // hash, so stale compiled code is never loaded.
  [[nodiscard]] Result<std::filesystem::path> compiled_path(std::string_view digest,
                                                            std::string_view engine_hash) const;

  // Stores a compiled module under compiled_path(digest, engine_hash),
  // replacing any earlier one.
  [[nodiscard]] Status put_compiled(std::string_view digest, std::string_view engine_hash,
                                    std::string_view bytes) const;

  [[nodiscard]] const std::filesystem::path& root() const noexcept { return root_; }

 private:
  explicit BlobStore(std::filesystem::path root) : root_(std::move(root)) {}

  std::filesystem::path root_;  // <data>/blobs
};

}  // namespace nebula::store
