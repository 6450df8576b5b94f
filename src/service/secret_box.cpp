#include "service/secret_box.hpp"

#include <array>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

#include "base/unique_fd.hpp"

namespace nebula::service {
namespace {

static_assert(SecretBox::kKeyBytes == crypto_secretbox_KEYBYTES);
static_assert(SecretBox::kOverheadBytes == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES);

constexpr std::size_t kHexDigits = 2 * SecretBox::kKeyBytes;

// sodium_init picks the fastest implementations and seeds the random
// generator; it must run before anything else, and once is enough (it is
// safe to call again, but a function-local static also gives its answer to
// every caller).
Status ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) return make_error(ErrorKind::kInternal, "libsodium could not be initialised");
  return {};
}

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

std::string quoted(const std::filesystem::path& path) {
  std::string out = "'";
  out += path.string();
  out += '\'';
  return out;
}

// Key bytes on their way in or out pass through stack buffers; this wipes
// them on every way out so that no copy outlives the call.
template <std::size_t N>
struct WipedBuffer {
  std::array<unsigned char, N> bytes{};
  WipedBuffer() = default;
  WipedBuffer(const WipedBuffer&) = delete;
  WipedBuffer& operator=(const WipedBuffer&) = delete;
  ~WipedBuffer() { sodium_memzero(bytes.data(), bytes.size()); }
};

Status write_all(int fd, const unsigned char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(ErrorKind::kInternal, errno_text(n < 0 ? errno : EIO));
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

// Writes a new random key to `path` as 64 hex digits and a newline, mode
// 0600. O_EXCL: when another process got there first (EEXIST), its key is
// the one to use, and the caller reads it. A file that could not be written
// whole is removed, so that a later start does not find half a key.
Status create_key_file(const std::filesystem::path& path) {
  WipedBuffer<kHexDigits + 1> hex;  // + the newline
  {
    WipedBuffer<SecretBox::kKeyBytes> key;
    randombytes_buf(key.bytes.data(), key.bytes.size());
    std::array<char, kHexDigits + 1> text{};  // sodium_bin2hex's NUL
    sodium_bin2hex(text.data(), text.size(), key.bytes.data(), key.bytes.size());
    std::memcpy(hex.bytes.data(), text.data(), kHexDigits);
    sodium_memzero(text.data(), text.size());
  }
  hex.bytes[kHexDigits] = '\n';

  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) return {};
    return make_error(ErrorKind::kInternal,
                      "cannot create secrets key file " + quoted(path) + ": " + errno_text(errno));
  }
  auto fail = [&](std::string why) -> Status {
    ::unlink(path.c_str());
    return make_error(ErrorKind::kInternal,
                      "cannot write secrets key file " + quoted(path) + ": " + std::move(why));
  };
  // The umask may only have taken bits away, but say the mode outright.
  if (::fchmod(fd.get(), 0600) != 0) return fail(errno_text(errno));
  if (auto st = write_all(fd.get(), hex.bytes.data(), hex.bytes.size()); !st) {
    return fail(st.error().message);
  }
  // A key lost in a crash after secrets were sealed with it loses them all:
  // make the file, and its directory entry, durable before anything uses it.
  if (::fsync(fd.get()) != 0) return fail(errno_text(errno));
  if (fd.close() != 0) return fail(errno_text(errno));
  auto dir = path.parent_path();
  if (dir.empty()) dir = ".";
  if (int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    (void)::fsync(d);
    ::close(d);
  }
  return {};
}

}  // namespace

Result<SecretBox> SecretBox::from_key(std::string_view key) {
  if (auto st = ensure_sodium(); !st) return std::move(st).error();
  if (key.size() != kKeyBytes) {
    return make_error(ErrorKind::kInvalidArgument, "a secrets key is " + std::to_string(kKeyBytes) +
                                                       " bytes, not " + std::to_string(key.size()));
  }
  // sodium_malloc puts the key between guard pages and mlocks it (so it is
  // never swapped out); read-only from here on, and sodium_free wipes it.
  auto* p = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
  if (p == nullptr) {
    return make_error(ErrorKind::kInternal, "cannot allocate locked memory for the secrets key");
  }
  std::memcpy(p, key.data(), kKeyBytes);
  sodium_mprotect_readonly(p);
  return SecretBox(p);
}

Result<SecretBox> SecretBox::from_key_file(const std::filesystem::path& path, bool create) {
  if (auto st = ensure_sodium(); !st) return std::move(st).error();
  int raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw_fd < 0 && errno == ENOENT && create) {
    if (auto st = create_key_file(path); !st) return std::move(st).error();
    raw_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (raw_fd < 0) {
    const int err = errno;
    return make_error(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInternal,
                      "cannot open secrets key file " + quoted(path) + ": " + errno_text(err));
  }
  base::UniqueFd fd(raw_fd);

  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_error(ErrorKind::kInternal,
                      "cannot stat secrets key file " + quoted(path) + ": " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "secrets key file " + quoted(path) + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(ErrorKind::kInvalidArgument,
                      "secrets key file " + quoted(path) + " is accessible by group or others " +
                          "(mode " + mode + "); restrict it to its owner: chmod 600 " +
                          quoted(path));
  }

  // One byte more than the longest accepted form (hex and "\r\n") tells a
  // file that is too long from one that fits.
  WipedBuffer<kHexDigits + 3> buf;
  std::size_t size = 0;
  while (size < buf.bytes.size()) {
    ssize_t n = ::read(fd.get(), buf.bytes.data() + size, buf.bytes.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return make_error(ErrorKind::kInternal,
                        "cannot read secrets key file " + quoted(path) + ": " + errno_text(errno));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }

  const unsigned char* b = buf.bytes.data();
  std::size_t hex_size = size;
  if (hex_size > 0 && b[hex_size - 1] == '\n') --hex_size;
  if (hex_size > 0 && b[hex_size - 1] == '\r' && hex_size + 1 == size) --hex_size;

  WipedBuffer<kKeyBytes> key;
  if (size == kKeyBytes) {
    std::memcpy(key.bytes.data(), b, kKeyBytes);
  } else if (hex_size == kHexDigits) {
    std::size_t decoded = 0;
    if (sodium_hex2bin(key.bytes.data(), key.bytes.size(), reinterpret_cast<const char*>(b),
                       kHexDigits, nullptr, &decoded, nullptr) != 0 ||
        decoded != kKeyBytes) {
      return make_error(
          ErrorKind::kInvalidArgument,
          "secrets key file " + quoted(path) + " holds 64 characters that are not all hex digits");
    }
  } else {
    const std::string got =
        size == buf.bytes.size() ? "more than " + std::to_string(size - 1) : std::to_string(size);
    return make_error(ErrorKind::kInvalidArgument,
                      "secrets key file " + quoted(path) +
                          " must hold exactly 32 raw bytes or 64 hex digits (optionally followed "
                          "by a newline), not " +
                          got + " bytes");
  }
  return from_key(
      std::string_view(reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size()));
}

SecretBox& SecretBox::operator=(SecretBox&& other) noexcept {
  if (this != &other) {
    if (key_ != nullptr) sodium_free(key_);
    key_ = std::exchange(other.key_, nullptr);
  }
  return *this;
}

SecretBox::~SecretBox() {
  if (key_ != nullptr) sodium_free(key_);
}

std::string SecretBox::seal(std::string_view plaintext) const {
  assert(key_ != nullptr);
  static const unsigned char kNothing = 0;  // a valid pointer for an empty plaintext
  const auto* m =
      plaintext.empty() ? &kNothing : reinterpret_cast<const unsigned char*>(plaintext.data());
  std::string out(kOverheadBytes + plaintext.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES, m, plaintext.size(), nonce, key_);
  return out;
}

Result<std::string> SecretBox::open(std::string_view sealed) const {
  assert(key_ != nullptr);
  auto cannot_open = [] {
    return make_error(ErrorKind::kInternal,
                      "a stored secret does not open with the current secrets key: the key file "
                      "may have changed since it was sealed, or the stored value is corrupted");
  };
  if (sealed.size() < kOverheadBytes) return cannot_open();
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string out(sealed.size() - kOverheadBytes, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()),
                                 nonce + crypto_secretbox_NONCEBYTES,
                                 sealed.size() - crypto_secretbox_NONCEBYTES, nonce, key_) != 0) {
    return cannot_open();
  }
  return out;
}

}  // namespace nebula::service
