#include "project/templates.hpp"

#include <algorithm>
#include <set>

#include "base/files.hpp"
#include "core/function.hpp"
#include "project/project.hpp"

namespace nebula::project {
namespace {

namespace fs = std::filesystem;

// "<language>/hello/" or "<language>/http-hello/".
std::string prefix_of(std::string_view language, bool http) {
  return std::string(language) + (http ? "/http-hello/" : "/hello/");
}

bool has_template(std::string_view prefix) {
  const auto files = embedded_files();
  return std::any_of(files.begin(), files.end(),
                     [prefix](const EmbeddedFile& f) { return f.name.starts_with(prefix); });
}

}  // namespace

std::vector<std::string> http_languages() {
  std::set<std::string> out;
  for (const auto& file : embedded_files()) {
    const auto slash = file.name.find('/');
    if (slash == std::string_view::npos) continue;
    if (file.name.substr(slash + 1).starts_with("http-hello/")) {
      out.emplace(file.name.substr(0, slash));
    }
  }
  return {out.begin(), out.end()};
}

Result<std::vector<std::string>> write_template(std::string_view language, bool http,
                                                std::string_view name, const fs::path& dir) {
  if (auto st = check_function_name(name); !st) return st.error();
  if (std::find(std::begin(kLanguages), std::end(kLanguages), language) == std::end(kLanguages)) {
    return make_error(
        ErrorKind::kInvalidArgument,
        "no language '" + std::string(language) + "': choose one of c, cpp, rust, go, python, js");
  }
  const std::string prefix = prefix_of(language, http);
  if (!has_template(prefix)) {
    std::string list;
    for (const auto& l : http_languages()) list += (list.empty() ? "" : ", ") + l;
    return make_error(ErrorKind::kInvalidArgument,
                      http ? "there is no --http template for " + std::string(language) +
                                 " (languages with one: " + list + ")"
                           : "there is no template for " + std::string(language));
  }
  std::error_code ec;
  if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    return make_error(ErrorKind::kInvalidArgument,
                      dir.string() + " already exists and is not empty: choose another folder");
  }

  // Everything is prepared first, so that a template without a usable
  // nebula.toml writes nothing at all.
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& file : embedded_files()) {
    if (!file.name.starts_with(prefix)) continue;
    std::string relative(file.name.substr(prefix.size()));
    std::string body(file.asset.body);
    if (relative == kProjectFile) {
      auto renamed = rename_project(body, name);
      if (!renamed) return std::move(renamed).error();
      if (auto parsed = parse_project(*renamed, dir); !parsed) return std::move(parsed).error();
      body = std::move(*renamed);
    }
    files.emplace_back(std::move(relative), std::move(body));
  }

  std::vector<std::string> written;
  for (const auto& [relative, body] : files) {
    const fs::path path = dir / relative;
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return make_error(ErrorKind::kInternal,
                        "cannot create " + path.parent_path().string() + ": " + ec.message());
    }
    if (auto st = base::write_file(path, body); !st) return st.error();
    written.push_back(relative);
  }
  return written;
}

}  // namespace nebula::project
