#include "project/project.hpp"

#include <algorithm>
#include <limits>
#include <sstream>
#include <toml++/toml.h>

#include "base/files.hpp"
#include "core/function.hpp"

namespace nebula::project {
namespace {

namespace fs = std::filesystem;

Error bad(std::string message) {
  return make_error(ErrorKind::kInvalidArgument, std::string(kProjectFile) + ": " + message);
}

// Every key of `table` must be among `known`; the first that is not is
// named, so that a typo ("timout_ms") is not silently ignored.
Status only_keys(const toml::table& table, std::initializer_list<std::string_view> known,
                 std::string_view where) {
  for (const auto& [key, value] : table) {
    if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return bad("unknown key '" + std::string(where) + std::string(key.str()) +
                 "' (known: " + list + ")");
    }
  }
  return {};
}

Result<std::string> string_at(const toml::table& table, std::string_view key,
                              std::string_view where, bool required) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    if (required) return bad("'" + std::string(where) + std::string(key) + "' is missing");
    return std::string();
  }
  const auto* s = node->as_string();
  if (s == nullptr) return bad("'" + std::string(where) + std::string(key) + "' must be a string");
  return s->get();
}

Result<std::vector<std::string>> strings_at(const toml::table& table, std::string_view key,
                                            std::string_view where) {
  std::vector<std::string> out;
  const toml::node* node = table.get(key);
  if (node == nullptr) return out;
  const auto* array = node->as_array();
  const std::string what = "'" + std::string(where) + std::string(key) + "'";
  if (array == nullptr) return bad(what + " must be an array of strings");
  for (const auto& item : *array) {
    const auto* s = item.as_string();
    if (s == nullptr) return bad(what + " must be an array of strings");
    if (s->get().empty()) return bad(what + " holds an empty command");
    out.push_back(s->get());
  }
  return out;
}

Result<std::optional<std::uint32_t>> u32_at(const toml::table& table, std::string_view key,
                                            std::string_view where) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return std::optional<std::uint32_t>();
  const auto* i = node->as_integer();
  const std::string what = "'" + std::string(where) + std::string(key) + "'";
  if (i == nullptr) return bad(what + " must be a whole number");
  if (i->get() <= 0 || i->get() > std::numeric_limits<std::uint32_t>::max()) {
    return bad(what + " must be a positive whole number");
  }
  return std::optional<std::uint32_t>(static_cast<std::uint32_t>(i->get()));
}

// A relative path that stays inside the project: the artifact is read
// from there, and a project must not point `nebula deploy` at files
// elsewhere on the machine.
Result<fs::path> inside(const fs::path& dir, std::string_view relative, std::string_view what) {
  const fs::path p(relative);
  if (relative.empty() || p.is_absolute()) {
    return bad("'" + std::string(what) + "' must be a path relative to the project");
  }
  for (const auto& part : p.lexically_normal()) {
    if (part == "..") return bad("'" + std::string(what) + "' must stay inside the project");
  }
  return dir / p.lexically_normal();
}

}  // namespace

Result<Project> parse_project(std::string_view text, const fs::path& dir) {
  toml::parse_result parsed = toml::parse(text);
  if (!parsed) {
    const auto& err = parsed.error();
    std::ostringstream where;
    where << "line " << err.source().begin.line << ", column " << err.source().begin.column;
    return bad("not valid TOML at " + where.str() + ": " + std::string(err.description()));
  }
  const toml::table& root = parsed.table();
  if (auto st = only_keys(root, {"name", "language", "kind", "wasm", "docker", "deploy"}, "");
      !st) {
    return st.error();
  }

  Project p;
  p.dir = dir;
  auto name = string_at(root, "name", "", true);
  if (!name) return std::move(name).error();
  if (auto st = check_function_name(*name); !st) return bad("name: " + st.error().message);
  p.name = std::move(*name);

  auto language = string_at(root, "language", "", true);
  if (!language) return std::move(language).error();
  if (std::find(std::begin(kLanguages), std::end(kLanguages), *language) == std::end(kLanguages)) {
    return bad("language '" + *language + "' is not one of c, cpp, rust, go, python, js");
  }
  p.language = std::move(*language);

  auto kind = string_at(root, "kind", "", false);
  if (!kind) return std::move(kind).error();
  p.kind = kind->empty() ? "command" : std::move(*kind);
  if (p.kind != "command" && p.kind != "http") {
    return bad("kind '" + p.kind +
               "' is not 'command' (stdin to stdout) or 'http' (a wasi:http "
               "handler)");
  }

  const toml::table* wasm = root["wasm"].as_table();
  if (wasm == nullptr)
    return bad("the [wasm] table is missing (build = [...], artifact = \"...\")");
  if (auto st = only_keys(*wasm, {"build", "artifact"}, "wasm."); !st) return st.error();
  auto steps = strings_at(*wasm, "build", "wasm.");
  if (!steps) return std::move(steps).error();
  p.wasm_build = std::move(*steps);
  auto artifact = string_at(*wasm, "artifact", "wasm.", true);
  if (!artifact) return std::move(artifact).error();
  auto artifact_path = inside(dir, *artifact, "wasm.artifact");
  if (!artifact_path) return std::move(artifact_path).error();
  p.wasm_artifact = std::move(*artifact_path);

  if (const toml::node* node = root.get("docker")) {
    const toml::table* docker = node->as_table();
    if (docker == nullptr) return bad("'docker' must be a table ([docker])");
    if (p.kind == "http") {
      return bad("an http project has no [docker] table: wasi:http handlers run on wasm only");
    }
    if (auto st = only_keys(*docker, {"build", "image"}, "docker."); !st) return st.error();
    Project::Docker d;
    auto docker_steps = strings_at(*docker, "build", "docker.");
    if (!docker_steps) return std::move(docker_steps).error();
    d.build = std::move(*docker_steps);
    auto image = string_at(*docker, "image", "docker.", false);
    if (!image) return std::move(image).error();
    d.image = image->empty() ? "nebula-fn-" + p.name + ":latest" : std::move(*image);
    p.docker = std::move(d);
  }

  if (const toml::node* node = root.get("deploy")) {
    const toml::table* deploy = node->as_table();
    if (deploy == nullptr) return bad("'deploy' must be a table ([deploy])");
    if (auto st =
            only_keys(*deploy, {"timeout_ms", "memory_mb", "default_runtime", "env"}, "deploy.");
        !st) {
      return st.error();
    }
    auto timeout = u32_at(*deploy, "timeout_ms", "deploy.");
    if (!timeout) return std::move(timeout).error();
    p.timeout_ms = *timeout;
    auto memory = u32_at(*deploy, "memory_mb", "deploy.");
    if (!memory) return std::move(memory).error();
    p.memory_mb = *memory;
    auto runtime = string_at(*deploy, "default_runtime", "deploy.", false);
    if (!runtime) return std::move(runtime).error();
    if (!runtime->empty() && *runtime != "wasm" && *runtime != "docker") {
      return bad("'deploy.default_runtime' must be \"wasm\" or \"docker\"");
    }
    if (*runtime == "docker" && !p.docker) {
      return bad("'deploy.default_runtime' is docker but the project has no [docker] table");
    }
    p.default_runtime = std::move(*runtime);
    if (const toml::node* env = deploy->get("env")) {
      const toml::table* vars = env->as_table();
      if (vars == nullptr) return bad("'deploy.env' must be a table of strings");
      for (const auto& [key, value] : *vars) {
        const auto* s = value.as_string();
        if (s == nullptr) {
          return bad("'deploy.env." + std::string(key.str()) + "' must be a string");
        }
        p.env.push_back(std::string(key.str()) + "=" + s->get());
      }
    }
  }
  return p;
}

Result<Project> load_project(const fs::path& dir) {
  const fs::path file = dir / kProjectFile;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    return make_error(ErrorKind::kNotFound,
                      "no " + std::string(kProjectFile) + " in " + dir.string() +
                          ": run this in a function project (make one with `nebula new NAME "
                          "--lang LANG`)");
  }
  auto text = base::read_file(file);
  if (!text) return make_error(ErrorKind::kNotFound, "cannot read " + file.string());
  return parse_project(*text, fs::absolute(dir, ec).lexically_normal());
}

Result<std::string> rename_project(std::string_view toml, std::string_view name) {
  if (auto st = check_function_name(name); !st) return st.error();
  // Only a line that starts with `name` before any table header: the
  // top-level key, never [docker]'s or a comment's.
  std::string out;
  out.reserve(toml.size() + name.size());
  bool renamed = false;
  bool in_table = false;
  std::size_t pos = 0;
  while (pos < toml.size()) {
    std::size_t end = toml.find('\n', pos);
    end = end == std::string_view::npos ? toml.size() : end + 1;
    std::string_view line = toml.substr(pos, end - pos);
    const auto first = line.find_first_not_of(" \t");
    const std::string_view body = first == std::string_view::npos ? "" : line.substr(first);
    if (body.starts_with('[')) in_table = true;
    const bool is_name = !in_table && !renamed && body.starts_with("name") &&
                         body.substr(4).find_first_not_of(" \t") != std::string_view::npos &&
                         body.substr(4)[body.substr(4).find_first_not_of(" \t")] == '=';
    if (is_name) {
      out += "name = \"";
      out += name;
      out += "\"";
      // Keep a trailing comment.
      const auto comment = line.find('#', line.find('"', line.find('"') + 1) + 1);
      if (comment != std::string_view::npos) {
        out += "  ";
        out += line.substr(comment);
        if (!out.ends_with('\n')) out += '\n';
      } else {
        out += '\n';
      }
      renamed = true;
    } else {
      out += line;
    }
    pos = end;
  }
  if (!renamed) return bad("the template has no top-level name = \"...\" line");
  return out;
}

}  // namespace nebula::project
