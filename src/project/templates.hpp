#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace nebula::project {

// A file of a template as cmake/EmbedFiles.cmake writes it into the
// generated source: the example projects examples/lang/<lang>/hello and
// examples/lang/<lang>/http-hello, built into the binary so that `nebula
// new` needs no files on disk.
struct TemplateAsset {
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;
};

struct EmbeddedFile {
  std::string_view name;  // relative to examples/lang/, e.g. "go/hello/main.go"
  TemplateAsset asset;
};

// Defined in the generated source, sorted by name. Static storage.
[[nodiscard]] std::span<const EmbeddedFile> embedded_files() noexcept;

// The languages that have a wasi:http handler template.
[[nodiscard]] std::vector<std::string> http_languages();

// Writes a new project for function `name` in `dir` from the template of
// `language` (the http one when `http`), with nebula.toml naming it. `dir`
// must not exist or be empty: nothing is ever overwritten. Returns the
// paths written, relative to `dir`.
[[nodiscard]] Result<std::vector<std::string>> write_template(std::string_view language, bool http,
                                                              std::string_view name,
                                                              const std::filesystem::path& dir);

}  // namespace nebula::project
