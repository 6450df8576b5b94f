#include "store/blob_store.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sodium/crypto_hash_sha256.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

#include "base/unique_fd.hpp"
#include "core/function.hpp"

namespace nebula::store {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDigestPrefix = "sha256:";
constexpr std::string_view kTempPrefix = ".tmp-";
constexpr std::size_t kMaxEngineHashLength = 128;

Error io_error(std::string_view what, const fs::path& path, int err) {
  // A full disk (or quota) is the operator's to fix, and passes: say so.
  if (err == ENOSPC || err == EDQUOT) {
    return make_error(ErrorKind::kNoSpace, std::string(what) + " " + path.string() +
                                               ": the data directory's disk is full (" +
                                               std::strerror(err) + ")");
  }
  return make_error(ErrorKind::kInternal,
                    std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

Error invalid_digest(std::string_view digest) {
  return make_error(ErrorKind::kInvalidArgument,
                    "invalid digest '" + std::string(digest.substr(0, 80)) +
                        "': expected 'sha256:' followed by 64 lowercase hex digits");
}

bool is_valid_engine_hash(std::string_view hash) noexcept {
  if (hash.empty() || hash.size() > kMaxEngineHashLength) return false;
  for (char c : hash) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status sync_directory(const fs::path& dir) {
  base::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return io_error("cannot sync directory", dir, errno);
  return {};
}

Status write_all(int fd, std::string_view bytes, const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path, errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Writes `bytes` to `dir/name` so that the name only ever refers to complete
// content: temp file in the same directory (rename is atomic only within a
// file system), fsync the data, rename, then fsync the directory so that the
// rename itself survives a power cut.
Status write_atomically(const fs::path& dir, const std::string& name, std::string_view bytes) {
  const fs::path final_path = dir / name;
  std::string temp = (dir / (std::string(kTempPrefix) + name + "-XXXXXX")).string();
  std::vector<char> templ(temp.begin(), temp.end());
  templ.push_back('\0');
  base::UniqueFd fd(::mkostemp(templ.data(), O_CLOEXEC));
  if (fd.get() < 0) return io_error("cannot create a temporary file in", dir, errno);
  const fs::path temp_path(templ.data());

  auto fail = [&](Error error) -> Status {
    ::unlink(temp_path.c_str());
    return error;
  };
  if (auto st = write_all(fd.get(), bytes, temp_path); !st) return fail(std::move(st).error());
  if (::fsync(fd.get()) != 0) return fail(io_error("cannot sync", temp_path, errno));
  if (fd.close() != 0) return fail(io_error("cannot close", temp_path, errno));
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    return fail(io_error("cannot rename a temporary file to", final_path, errno));
  }
  return sync_directory(dir);
}

Result<std::string> read_file(const fs::path& path) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return make_error(ErrorKind::kNotFound, path.string() + " not found");
    return io_error("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", path, errno);
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", path, errno);
    }
    if (n == 0) break;  // the file shrank under us; the hash check catches it
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

Status make_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorKind::kInternal,
                      "cannot create directory " + dir.string() + ": " + ec.message());
  }
  return {};
}

// Removes the ".tmp-" files a crash left in `dir`. Best effort: a file that
// cannot be removed is only wasted space.
void remove_temp_files(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().starts_with(kTempPrefix)) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

}  // namespace

Result<std::string> sha256_digest(std::string_view bytes) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> md{};
  const std::size_t size = md.size();
  // libsodium's SHA-256 needs no sodium_init() and cannot fail.
  crypto_hash_sha256(md.data(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string digest(kDigestPrefix);
  digest.reserve(kDigestPrefix.size() + 2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    digest += kHex[md[i] >> 4U];
    digest += kHex[md[i] & 0x0FU];
  }
  return digest;
}

Result<BlobStore> BlobStore::open(const fs::path& data_dir) {
  BlobStore store(data_dir / "blobs");
  for (const char* sub : {"sha256", "compiled"}) {
    if (auto st = make_directory(store.root_ / sub); !st) return std::move(st).error();
  }
  remove_temp_files(store.root_ / "sha256");
  std::error_code ec;
  for (fs::directory_iterator it(store.root_ / "compiled", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_directory()) remove_temp_files(it->path());
  }
  return store;
}

Result<fs::path> BlobStore::path_of(std::string_view digest) const {
  if (!is_valid_digest(digest)) return invalid_digest(digest);
  return root_ / "sha256" / std::string(digest.substr(kDigestPrefix.size()));
}

Result<fs::path> BlobStore::compiled_path(std::string_view digest,
                                          std::string_view engine_hash) const {
  if (!is_valid_digest(digest)) return invalid_digest(digest);
  if (!is_valid_engine_hash(engine_hash)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid engine hash '" + std::string(engine_hash.substr(0, 80)) +
                          "': expected 1 to 128 characters of [A-Za-z0-9_-]");
  }
  return root_ / "compiled" / std::string(engine_hash) /
         (std::string(digest.substr(kDigestPrefix.size())) + ".cwasm");
}

Result<std::string> BlobStore::put(std::string_view bytes) const {
  auto digest = sha256_digest(bytes);
  if (!digest) return digest;
  auto path = path_of(*digest);
  if (!path) return std::move(path).error();
  // Only complete files ever carry a final name, so an existing file is the
  // very same content.
  std::error_code ec;
  if (fs::is_regular_file(*path, ec)) return digest;
  if (auto st = write_atomically(path->parent_path(), path->filename().string(), bytes); !st) {
    return std::move(st).error();
  }
  return digest;
}

Result<std::string> BlobStore::get(std::string_view digest) const {
  auto path = path_of(digest);
  if (!path) return std::move(path).error();
  auto bytes = read_file(*path);
  if (!bytes) {
    if (bytes.error().kind == ErrorKind::kNotFound) {
      return make_error(ErrorKind::kNotFound, "module " + std::string(digest) +
                                                  " is not in the store; upload it first "
                                                  "(POST /v1/modules)");
    }
    return bytes;
  }
  auto actual = sha256_digest(*bytes);
  if (!actual) return std::move(actual).error();
  if (*actual != digest) {
    return make_error(ErrorKind::kInternal, "blob file " + path->string() +
                                                " is corrupt: its content hashes to " + *actual +
                                                "; delete it and upload the module again");
  }
  return bytes;
}

bool BlobStore::contains(std::string_view digest) const {
  auto path = path_of(digest);
  if (!path) return false;
  std::error_code ec;
  return fs::is_regular_file(*path, ec);
}

Status BlobStore::put_compiled(std::string_view digest, std::string_view engine_hash,
                               std::string_view bytes) const {
  auto path = compiled_path(digest, engine_hash);
  if (!path) return std::move(path).error();
  const fs::path dir = path->parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (auto st = make_directory(dir); !st) return st;
    // Make the new directory's own entry durable, or the file below could
    // vanish with it after a power cut. (It is a cache: a loss would only
    // cost a recompile, but the write path stays uniform.)
    if (auto st = sync_directory(dir.parent_path()); !st) return st;
  }
  return write_atomically(dir, path->filename().string(), bytes);
}

}  // namespace nebula::store
