#include "project/build.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "base/files.hpp"
#include "base/format.hpp"
#include "base/subprocess.hpp"

namespace nebula::project {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One step, in the project folder, with the build environment; its output
// goes straight to ours so that a compiler's errors read as usual.
Status run_step(const Project& project, const std::vector<std::string>& argv,
                const std::string& shown) {
  std::fprintf(stderr, "  $ %s\n", shown.c_str());
  std::fflush(stderr);
  base::SpawnOptions options;
  options.env.mode = base::Environment::Mode::kAdd;
  options.env.vars = build_environment();
  options.cwd = project.dir;
  // The step stays in our process group: a Ctrl-C stops it with us.
  options.new_process_group = false;
  auto child = base::Subprocess::start(argv, options);
  if (!child) return std::move(child).error();
  const int status = child->wait();
  if (status != 0) {
    return make_error(ErrorKind::kInvalidArgument,
                      "build step failed (exit status " + std::to_string(status) + "): " + shown);
  }
  return {};
}

Status run_shell_steps(const Project& project, const std::vector<std::string>& steps) {
  for (const auto& step : steps) {
    if (auto st = run_step(project, {"/bin/sh", "-c", step}, step); !st) return st;
  }
  return {};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> build_environment() {
  const fs::path cache = base::cache_dir();
  const char* path = std::getenv("PATH");
  std::string search = (cache / "bin").string();
  search += ':';
  search += path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  return {{"PATH", search},
          {"NEBULA_CACHE_DIR", cache.string()},
          {"NEBULA_WIT", (cache / "wit").string()}};
}

std::optional<std::uint64_t> image_size(const std::string& docker_cli, const std::string& image) {
  base::RunOptions options;
  options.timeout = std::chrono::seconds(30);
  auto done = base::run({docker_cli, "image", "inspect", "--format", "{{.Size}}", image}, options);
  if (!done || done->status != 0) return std::nullopt;
  return std::strtoull(done->out.c_str(), nullptr, 10);
}

Result<BuildResult> build(const Project& project, const BuildOptions& options) {
  BuildResult result;
  if (options.wasm) {
    std::fprintf(stderr, "wasm (%s):\n", project.language.c_str());
    const auto start = Clock::now();
    if (auto st = run_shell_steps(project, project.wasm_build); !st) return st.error();
    std::error_code ec;
    const auto size = fs::file_size(project.wasm_artifact, ec);
    if (ec) {
      return make_error(ErrorKind::kNotFound,
                        "the build steps ran but made no " + project.wasm_artifact.string() +
                            " (wasm.artifact in " + std::string(kProjectFile) + ")");
    }
    result.wasm_bytes = size;
    result.wasm_seconds = seconds_since(start);
  }
  if (options.docker && project.docker) {
    std::fprintf(stderr, "docker (%s):\n", project.docker->image.c_str());
    const auto start = Clock::now();
    if (auto st = run_shell_steps(project, project.docker->build); !st) return st.error();
    const std::vector<std::string> argv = {
        options.docker_cli, "build", "-q", "--network", "none", "-t", project.docker->image, "."};
    if (auto st = run_step(
            project, argv,
            options.docker_cli + " build -q --network none -t " + project.docker->image + " .");
        !st) {
      return st.error();
    }
    result.image = project.docker->image;
    result.docker_seconds = seconds_since(start);
    // The size as the engine reports it, for the summary.
    result.image_bytes = image_size(options.docker_cli, project.docker->image);
  }
  return result;
}

}  // namespace nebula::project
