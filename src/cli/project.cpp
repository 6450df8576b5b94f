#include "cli/project.hpp"

#include <cstdio>
#include <filesystem>

#include "base/console.hpp"
#include "base/format.hpp"
#include "project/build.hpp"
#include "project/project.hpp"
#include "project/templates.hpp"

namespace nebula::cli {
namespace {

namespace fs = std::filesystem;
using base::fail;

std::string shown_dir(const fs::path& dir) {
  std::error_code ec;
  const fs::path rel = fs::relative(dir, fs::current_path(ec), ec);
  return ec || rel.empty() || rel.native().starts_with("..") ? dir.string() : rel.string();
}

}  // namespace

int new_project(const NewOptions& o) {
  const fs::path dir = o.dir.empty() ? fs::path(o.name) : fs::path(o.dir);
  auto written = project::write_template(o.language, o.http, o.name, dir);
  if (!written) return fail(written.error().message);
  std::printf("created %s (%s%s) in %s:\n", o.name.c_str(), o.language.c_str(),
              o.http ? ", wasi:http handler" : "", shown_dir(dir).c_str());
  for (const auto& file : *written) std::printf("  %s\n", file.c_str());
  std::printf("next: cd %s && nebula build && nebula deploy\n", shown_dir(dir).c_str());
  return 0;
}

int build_project(const BuildOptions& o) {
  auto loaded = project::load_project(o.dir);
  if (!loaded) return fail(loaded.error().message);
  const project::Project& p = *loaded;
  if (o.docker_only && !p.docker) {
    return fail(p.name + " has no Docker variant (no [docker] table in nebula.toml)");
  }
  project::BuildOptions options;
  options.wasm = !o.docker_only;
  options.docker = !o.wasm_only;
  auto built = project::build(p, options);
  if (!built) return fail(built.error().message);
  std::printf("built %s\n", p.name.c_str());
  if (built->wasm_bytes) {
    std::printf("  wasm    %s  %s  in %.1f s\n", shown_dir(p.wasm_artifact).c_str(),
                base::format_bytes(static_cast<double>(*built->wasm_bytes)).c_str(),
                built->wasm_seconds);
  }
  if (built->image) {
    std::printf("  docker  %s  %s  in %.1f s\n", built->image->c_str(),
                built->image_bytes
                    ? base::format_bytes(static_cast<double>(*built->image_bytes)).c_str()
                    : "size unknown",
                built->docker_seconds);
  }
  return 0;
}

int deploy_project(const ClientOptions& client, const std::string& dir, DeployOptions o,
                   bool skip_docker) {
  auto loaded = project::load_project(dir);
  if (!loaded) return fail(loaded.error().message);
  const project::Project& p = *loaded;
  o.name = p.name;
  std::error_code ec;
  if (!fs::is_regular_file(p.wasm_artifact, ec)) {
    return fail("no " + shown_dir(p.wasm_artifact) + ": run `nebula build` first");
  }
  if (o.wasm_file.empty()) o.wasm_file = p.wasm_artifact.string();
  if (o.image.empty() && p.docker && !skip_docker) o.image = p.docker->image;
  if (!o.timeout_ms) o.timeout_ms = p.timeout_ms;
  if (!o.memory_mb) o.memory_mb = p.memory_mb;
  if (o.default_runtime.empty()) o.default_runtime = p.default_runtime;
  // The project's variables first: one given on the command line comes
  // later and wins.
  std::vector<std::string> env = p.env;
  env.insert(env.end(), o.env.begin(), o.env.end());
  o.env = std::move(env);
  return deploy(client, o);
}

}  // namespace nebula::cli
