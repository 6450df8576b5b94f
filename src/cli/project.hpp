#pragma once

#include <string>

#include "cli/commands.hpp"

namespace nebula::cli {

struct NewOptions {
  std::string name;
  std::string language;
  bool http = false;
  std::string dir;  // default: ./<name>
};

struct BuildOptions {
  std::string dir = ".";
  bool wasm_only = false;
  bool docker_only = false;
};

// `nebula new`: a function project from the built-in template.
[[nodiscard]] int new_project(const NewOptions& options);

// `nebula build`: the project's wasm artifact and Docker image.
[[nodiscard]] int build_project(const BuildOptions& options);

// `nebula deploy` without a name: the project in `dir`, with what its
// nebula.toml says; flags given on the command line win over it. The
// artifact must have been built (`nebula build`).
[[nodiscard]] int deploy_project(const ClientOptions& client, const std::string& dir,
                                 DeployOptions options, bool skip_docker);

}  // namespace nebula::cli
