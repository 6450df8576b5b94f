#include "base/files.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace nebula::base {

std::optional<std::string> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  std::array<char, 64 * 1024> buf;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      text.append(buf.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    // EISDIR for a directory, EIO, EACCES on some /sys attributes.
    ::close(fd);
    return std::nullopt;
  }
  ::close(fd);
  return text;
}

Result<TempDir> TempDir::create(std::string_view prefix) {
  std::error_code ec;
  const std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  std::string pattern =
      ((ec ? std::filesystem::path("/tmp") : base) / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return make_error(ErrorKind::kInternal, "cannot create a temporary directory " + pattern +
                                                ": " + std::strerror(errno));
  }
  return TempDir(std::filesystem::path(pattern));
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

TempDir::~TempDir() {
  remove();
}

void TempDir::remove() noexcept {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

Status write_file(const std::filesystem::path& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorKind::kInternal,
                      "cannot write " + path.string() + ": " + std::strerror(errno));
  }
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      return make_error(saved == ENOSPC || saved == EDQUOT ? ErrorKind::kNoSpace : ErrorKind::kInternal,
                        "cannot write " + path.string() + ": " + std::strerror(saved));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  // close() is where a full disk on NFS and the like is reported.
  if (::close(fd) != 0) {
    return make_error(ErrorKind::kInternal,
                      "cannot write " + path.string() + ": " + std::strerror(errno));
  }
  return {};
}

std::filesystem::path cache_dir() {
  auto set = [](const char* name) -> const char* {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : nullptr;
  };
  if (const char* dir = set("NEBULA_CACHE_DIR")) return dir;
  if (const char* xdg = set("XDG_CACHE_HOME")) return std::filesystem::path(xdg) / "nebula";
  if (const char* home = set("HOME")) return std::filesystem::path(home) / ".cache" / "nebula";
  return {};
}

}  // namespace nebula::base
