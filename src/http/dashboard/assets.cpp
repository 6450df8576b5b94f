#include "http/dashboard/assets.hpp"

#include "http/dashboard/embedded_files.hpp"

namespace nebula::http::dashboard {

const Asset* find_asset(std::string_view path) noexcept {
  // Only absolute paths name an asset; "/" is the page itself.
  if (!path.starts_with('/')) return nullptr;
  path.remove_prefix(1);
  if (path.empty()) path = "index.html";
  // A handful of files: a linear scan beats any index.
  for (const EmbeddedFile& file : embedded_files()) {
    if (file.name == path) return &file.asset;
  }
  return nullptr;
}

const Asset* find_document(std::string_view name) noexcept {
  for (const EmbeddedFile& file : docs::embedded_files()) {
    if (file.name == name) return &file.asset;
  }
  return nullptr;
}

}  // namespace nebula::http::dashboard
