#pragma once

#include <span>
#include <string_view>

#include "http/dashboard/assets.hpp"

namespace nebula::http::dashboard {

// A file as cmake/EmbedFiles.cmake writes it into the generated source.
// Private to the dashboard library; servers use find_asset().
struct EmbeddedFile {
  std::string_view name;  // relative to src/http/dashboard, e.g. "app.js"
  Asset asset;
};

// Defined in the generated source, sorted by name. Static storage.
[[nodiscard]] std::span<const EmbeddedFile> embedded_files() noexcept;

namespace docs {
// The documents the API serves about itself (docs/openapi.yaml).
[[nodiscard]] std::span<const EmbeddedFile> embedded_files() noexcept;
}  // namespace docs

}  // namespace nebula::http::dashboard
