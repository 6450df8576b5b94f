#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.hpp"

namespace nebula::base {

// The whole of a file, byte for byte; nullopt when it cannot be opened or
// read (missing, a directory, no permission, an I/O error). Works on /proc
// and /sys files, whose size is reported as 0 but which read fine.
[[nodiscard]] std::optional<std::string> read_file(const std::filesystem::path& path);

// A fresh directory under the system temp dir (mkdtemp), removed with
// everything in it by the destructor. Move-only.
class TempDir {
 public:
  // $TMPDIR/<prefix>XXXXXX; the error says which and why.
  [[nodiscard]] static Result<TempDir> create(std::string_view prefix);

  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  void remove() noexcept;

  std::filesystem::path path_;
};

// Creates or truncates `path` and writes `bytes` to it; the error names the
// file and says why (no such directory, no permission, disk full).
[[nodiscard]] Status write_file(const std::filesystem::path& path, std::string_view bytes);

// Nebula's per-user cache directory: $NEBULA_CACHE_DIR, else
// $XDG_CACHE_HOME/nebula, else ~/.cache/nebula (the build keeps wasmtime
// there too). Empty when none of them is set.
[[nodiscard]] std::filesystem::path cache_dir();

}  // namespace nebula::base
