#pragma once

#include <span>
#include <string_view>

namespace nebula::bench {

// A file as cmake/EmbedFiles.cmake writes it into the generated source.
// Private to the bench part; the charts use plot_script().
struct EmbeddedAsset {
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;
};

struct EmbeddedFile {
  std::string_view name;  // relative to bench/, e.g. "plot.py"
  EmbeddedAsset asset;
};

// Defined in the generated source, sorted by name. Static storage.
[[nodiscard]] std::span<const EmbeddedFile> embedded_files() noexcept;

}  // namespace nebula::bench
