#include "project/templates.hpp"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "base/files.hpp"
#include "project/project.hpp"

namespace nebula::project {
namespace {

namespace fs = std::filesystem;

std::set<std::string> template_languages() {
  std::set<std::string> out;
  for (const auto& f : embedded_files()) {
    if (f.name.find("/hello/") != std::string_view::npos) {
      out.emplace(f.name.substr(0, f.name.find('/')));
    }
  }
  return out;
}

// Every template is a valid project once named: a broken one would only
// show when a user runs `nebula new`.
TEST(Templates, EveryLanguageHasAValidTemplate) {
  const auto languages = template_languages();
  for (auto lang : kLanguages) {
    EXPECT_TRUE(languages.contains(std::string(lang))) << "no template for " << lang;
  }
  for (const auto& lang : languages) {
    for (bool http : {false, true}) {
      const auto with_http = http_languages();
      if (http && std::ranges::find(with_http, lang) == with_http.end()) continue;
      auto dir = base::TempDir::create("nebula-template-");
      ASSERT_TRUE(dir);
      const fs::path target = dir->path() / "fn";
      auto written = write_template(lang, http, "my-fn", target);
      ASSERT_TRUE(written) << lang << (http ? " http: " : ": ") << written.error().message;
      EXPECT_TRUE(std::ranges::find(*written, std::string(kProjectFile)) != written->end());
      auto loaded = load_project(target);
      ASSERT_TRUE(loaded) << lang << ": " << loaded.error().message;
      EXPECT_EQ(loaded->name, "my-fn");
      EXPECT_EQ(loaded->language, lang);
      EXPECT_EQ(loaded->kind, http ? "http" : "command");
      EXPECT_EQ(loaded->docker.has_value(), !http) << lang;
    }
  }
}

TEST(Templates, NeverOverwriteAnything) {
  auto dir = base::TempDir::create("nebula-template-");
  ASSERT_TRUE(dir);
  ASSERT_TRUE(base::write_file(dir->path() / "keep.txt", "mine"));
  auto written = write_template("c", false, "x", dir->path());
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message.find("not empty"), std::string::npos);
  EXPECT_EQ(base::read_file(dir->path() / "keep.txt"), "mine");
  EXPECT_FALSE(fs::exists(dir->path() / kProjectFile));
}

TEST(Templates, AnEmptyFolderIsFine) {
  auto dir = base::TempDir::create("nebula-template-");
  ASSERT_TRUE(dir);
  auto written = write_template("c", false, "x", dir->path());
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_TRUE(fs::exists(dir->path() / kProjectFile));
}

TEST(Templates, BadRequestsSayWhatToDo) {
  auto dir = base::TempDir::create("nebula-template-");
  ASSERT_TRUE(dir);
  auto lang = write_template("cobol", false, "x", dir->path() / "a");
  ASSERT_FALSE(lang);
  EXPECT_NE(lang.error().message.find("choose one of"), std::string::npos);
  auto name = write_template("c", false, "Bad Name", dir->path() / "b");
  ASSERT_FALSE(name);
  auto http = write_template("go", true, "x", dir->path() / "c");
  ASSERT_FALSE(http);
  EXPECT_NE(http.error().message.find("no --http template for go"), std::string::npos)
      << http.error().message;
  EXPECT_FALSE(fs::exists(dir->path() / "c"));
}

}  // namespace
}  // namespace nebula::project
