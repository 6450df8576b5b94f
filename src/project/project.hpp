#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace nebula::project {

// The file that makes a folder a function project.
inline constexpr std::string_view kProjectFile = "nebula.toml";

// The languages Nebula has templates and toolchains for.
inline constexpr std::string_view kLanguages[] = {"c", "cpp", "rust", "go", "python", "js"};

// A function project as its nebula.toml describes it (docs/languages.md):
// how to build the wasm artifact and the Docker image, and what to deploy.
struct Project {
  std::filesystem::path dir;  // the folder holding nebula.toml
  std::string name;           // the deployed function's name
  std::string language;       // one of kLanguages
  // "command": request body on stdin, answer on stdout; "http": a
  // wasi:http handler, which has no Docker variant.
  std::string kind;

  // Shell commands run in order in `dir`, then the artifact must exist.
  std::vector<std::string> wasm_build;
  std::filesystem::path wasm_artifact;  // absolute (dir / the relative path)

  struct Docker {
    std::vector<std::string> build;  // host steps before `docker build`
    std::string image;               // nebula-fn-<name>:latest unless given
  };
  std::optional<Docker> docker;

  // [deploy]: the same meaning as `nebula deploy`'s flags.
  std::optional<std::uint32_t> timeout_ms;
  std::optional<std::uint32_t> memory_mb;
  std::string default_runtime;   // empty: the server's default (wasm)
  std::vector<std::string> env;  // "KEY=VALUE"
};

// Parses a nebula.toml document. `dir` anchors the relative paths. Unknown
// keys, wrong types, a bad name or language, and paths that leave the
// project are errors naming the key.
[[nodiscard]] Result<Project> parse_project(std::string_view toml,
                                            const std::filesystem::path& dir);

// Reads `dir`/nebula.toml.
[[nodiscard]] Result<Project> load_project(const std::filesystem::path& dir);

// `toml` with the value of its top-level `name = "…"` line replaced by
// `name`, everything else byte for byte (comments, order). What `nebula
// new` does to a template.
[[nodiscard]] Result<std::string> rename_project(std::string_view toml, std::string_view name);

}  // namespace nebula::project
