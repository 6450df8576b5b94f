#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "project/project.hpp"

namespace nebula::project {

struct BuildOptions {
  bool wasm = true;
  bool docker = true;  // ignored for projects without a [docker] table
  // The Docker CLI that builds images (`docker build`); looked up in PATH.
  std::string docker_cli = "docker";
};

struct BuildResult {
  std::optional<std::uint64_t> wasm_bytes;  // the artifact, when built
  double wasm_seconds = 0;
  std::optional<std::string> image;          // the tag, when built
  std::optional<std::uint64_t> image_bytes;  // as the engine reports it
  double docker_seconds = 0;
};

// The environment build steps run with: PATH starting with the cache's
// bin/ (where scripts/setup.sh puts the language toolchains), NEBULA_WIT
// (the WASI 0.2 WIT files) and NEBULA_CACHE_DIR.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> build_environment();

// The size of a local image as the engine reports it (its layers and its
// base's), through the Docker CLI; nullopt when it cannot say.
[[nodiscard]] std::optional<std::uint64_t> image_size(const std::string& docker_cli,
                                                      const std::string& image);

// Runs the project's build steps in its folder, each with /bin/sh -c, their
// output going to this process's stdout and stderr; then checks that the
// wasm artifact exists and, for the Docker variant, runs
// `docker build --network none -t IMAGE .` in the folder. The first step
// that fails stops the build with an error naming it and its exit status.
[[nodiscard]] Result<BuildResult> build(const Project& project, const BuildOptions& options);

}  // namespace nebula::project
