#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.hpp"

namespace nebula::service {

// Seals and opens secret values with libsodium's crypto_secretbox
// (XSalsa20-Poly1305): a random nonce per seal, stored in front of the
// ciphertext, so a sealed value is nonce (24 bytes) + MAC (16) + ciphertext
// (as long as the plaintext). The key lives in locked memory (sodium_malloc,
// which mlocks and guards it, then read-only) and is wiped when the box goes
// away. Move-only; seal and open may be called from any number of threads.
class SecretBox {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  // What seal adds to a value's length.
  static constexpr std::size_t kOverheadBytes = 24 + 16;

  // Reads a key file: exactly 32 raw bytes, or 64 hex digits (optionally
  // followed by a newline). When the file does not exist and `create` is
  // true, writes a new random key there first (hex, mode 0600, created with
  // O_EXCL so that two processes starting at once agree on one key).
  // Refuses a key file readable or writable by group or others (mode & 077),
  // saying to chmod 600 it. Errors name the file, never the key.
  [[nodiscard]] static Result<SecretBox> from_key_file(const std::filesystem::path& path,
                                                       bool create);

  // A box around a key given as bytes (kKeyBytes of them); for tests and
  // for keys that come from elsewhere than a file.
  [[nodiscard]] static Result<SecretBox> from_key(std::string_view key);

  SecretBox(SecretBox&& other) noexcept : key_(std::exchange(other.key_, nullptr)) {}
  SecretBox& operator=(SecretBox&& other) noexcept;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  ~SecretBox();

  // nonce || crypto_secretbox_easy(plaintext): binary, kOverheadBytes
  // longer than the plaintext. Two seals of one value differ.
  [[nodiscard]] std::string seal(std::string_view plaintext) const;

  // The plaintext of a value sealed with this key. A value that does not
  // open (another key, or corrupted) is kInternal with a message that says
  // the secrets key may have changed; it never includes the bytes.
  [[nodiscard]] Result<std::string> open(std::string_view sealed) const;

 private:
  explicit SecretBox(unsigned char* key) noexcept : key_(key) {}

  unsigned char* key_ = nullptr;  // kKeyBytes from sodium_malloc; null once moved from
};

}  // namespace nebula::service
