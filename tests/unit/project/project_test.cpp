#include "project/project.hpp"

#include <gtest/gtest.h>

namespace nebula::project {
namespace {

constexpr std::string_view kFull = R"(# a comment
name = "demo"   # the function
language = "python"
kind = "command"

[wasm]
build = ["mkdir -p build", "componentize-py componentize app -o build/function.wasm"]
artifact = "build/function.wasm"

[docker]
build = []

[deploy]
timeout_ms = 10000
memory_mb = 256
default_runtime = "docker"
env = { GREETING = "hi", MODE = "fast" }
)";

Result<Project> parse(std::string_view text) {
  return parse_project(text, "/p");
}

std::string error_of(std::string_view text) {
  auto p = parse(text);
  EXPECT_FALSE(p) << "accepted:\n" << text;
  return p ? "" : p.error().message;
}

TEST(ProjectFile, ParsesEveryKey) {
  auto p = parse(kFull);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->dir, "/p");
  EXPECT_EQ(p->name, "demo");
  EXPECT_EQ(p->language, "python");
  EXPECT_EQ(p->kind, "command");
  ASSERT_EQ(p->wasm_build.size(), 2U);
  EXPECT_EQ(p->wasm_build[1], "componentize-py componentize app -o build/function.wasm");
  EXPECT_EQ(p->wasm_artifact, "/p/build/function.wasm");
  ASSERT_TRUE(p->docker);
  EXPECT_TRUE(p->docker->build.empty());
  EXPECT_EQ(p->docker->image, "nebula-fn-demo:latest");
  EXPECT_EQ(p->timeout_ms, 10000U);
  EXPECT_EQ(p->memory_mb, 256U);
  EXPECT_EQ(p->default_runtime, "docker");
  EXPECT_EQ(p->env, (std::vector<std::string>{"GREETING=hi", "MODE=fast"}));
}

TEST(ProjectFile, KindDefaultsToCommandAndDockerAndDeployAreOptional) {
  auto p = parse("name = \"x\"\nlanguage = \"go\"\n[wasm]\nartifact = \"f.wasm\"\n");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->kind, "command");
  EXPECT_TRUE(p->wasm_build.empty());
  EXPECT_FALSE(p->docker);
  EXPECT_FALSE(p->timeout_ms);
}

TEST(ProjectFile, AnImageCanBeNamed) {
  auto p = parse(
      "name = \"x\"\nlanguage = \"go\"\n[wasm]\nartifact = \"f.wasm\"\n[docker]\nimage = "
      "\"registry.local/x:1\"\n");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->docker->image, "registry.local/x:1");
}

TEST(ProjectFile, ErrorsNameWhatIsWrong) {
  const std::string base = "language = \"go\"\n[wasm]\nartifact = \"f.wasm\"\n";
  EXPECT_NE(error_of("name = \"x\"\nlanguage = \"go\"\n[wasm\n").find("not valid TOML at line 3"),
            std::string::npos);
  EXPECT_NE(error_of(base).find("'name' is missing"), std::string::npos);
  EXPECT_NE(error_of("name = \"Bad_Name\"\n" + base).find("name:"), std::string::npos);
  EXPECT_NE(error_of("name = 7\n" + base).find("'name' must be a string"), std::string::npos);
  EXPECT_NE(error_of("name = \"x\"\nlanguage = \"cobol\"\n[wasm]\nartifact = \"f\"\n")
                .find("language 'cobol'"),
            std::string::npos);
  EXPECT_NE(error_of("name = \"x\"\nkind = \"batch\"\n" + base).find("kind 'batch'"),
            std::string::npos);
  EXPECT_NE(error_of("name = \"x\"\nlanguage = \"go\"\n").find("[wasm] table is missing"),
            std::string::npos);
  EXPECT_NE(error_of("name = \"x\"\nlanguage = \"go\"\n[wasm]\nbuild = []\n")
                .find("'wasm.artifact' is missing"),
            std::string::npos);
  EXPECT_NE(
      error_of("name = \"x\"\nlanguage = \"go\"\n[wasm]\nartifact = \"f\"\nbuild = \"make\"\n")
          .find("'wasm.build' must be an array of strings"),
      std::string::npos);
  EXPECT_NE(error_of("name = \"x\"\nlanguage = \"go\"\n[wasm]\nartifact = \"f\"\nbuild = [\"\"]\n")
                .find("empty command"),
            std::string::npos);
}

TEST(ProjectFile, UnknownKeysAreRefusedNotIgnored) {
  const std::string base = "name = \"x\"\nlanguage = \"go\"\n[wasm]\nartifact = \"f.wasm\"\n";
  EXPECT_NE(error_of("colour = \"red\"\n" + base).find("unknown key 'colour'"), std::string::npos);
  EXPECT_NE(error_of(base + "artefact = \"g\"\n").find("unknown key 'wasm.artefact'"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[deploy]\ntimout_ms = 5\n").find("unknown key 'deploy.timout_ms'"),
            std::string::npos);
}

TEST(ProjectFile, TheArtifactStaysInsideTheProject) {
  const std::string base = "name = \"x\"\nlanguage = \"go\"\n[wasm]\n";
  EXPECT_NE(error_of(base + "artifact = \"/etc/passwd\"\n").find("relative to the project"),
            std::string::npos);
  EXPECT_NE(error_of(base + "artifact = \"build/../../secret.wasm\"\n").find("stay inside"),
            std::string::npos);
  auto p = parse(base + "artifact = \"./build/../out/f.wasm\"\n");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->wasm_artifact, "/p/out/f.wasm");
}

TEST(ProjectFile, DeployValuesAreChecked) {
  const std::string base = "name = \"x\"\nlanguage = \"go\"\n[wasm]\nartifact = \"f.wasm\"\n";
  EXPECT_NE(error_of(base + "[deploy]\ntimeout_ms = 0\n").find("positive whole number"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[deploy]\nmemory_mb = \"lots\"\n").find("must be a whole number"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[deploy]\ndefault_runtime = \"vm\"\n").find("\"wasm\" or \"docker\""),
            std::string::npos);
  EXPECT_NE(error_of(base + "[deploy]\ndefault_runtime = \"docker\"\n").find("no [docker] table"),
            std::string::npos);
  EXPECT_NE(error_of(base + "[deploy]\nenv = { A = 1 }\n").find("'deploy.env.A' must be a string"),
            std::string::npos);
}

TEST(ProjectFile, AnHttpProjectHasNoDockerVariant) {
  EXPECT_NE(error_of("name = \"x\"\nlanguage = \"js\"\nkind = \"http\"\n[wasm]\nartifact = "
                     "\"f.wasm\"\n[docker]\n")
                .find("wasm only"),
            std::string::npos);
}

TEST(RenameProject, ReplacesOnlyTheTopLevelNameAndKeepsTheRest) {
  auto renamed = rename_project(kFull, "other-fn");
  ASSERT_TRUE(renamed) << renamed.error().message;
  EXPECT_NE(renamed->find("name = \"other-fn\"  # the function\n"), std::string::npos) << *renamed;
  EXPECT_EQ(renamed->find("\"demo\""), std::string::npos);
  EXPECT_NE(renamed->find("# a comment\n"), std::string::npos);
  auto p = parse(*renamed);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->name, "other-fn");
  EXPECT_EQ(p->docker->image, "nebula-fn-other-fn:latest");
}

TEST(RenameProject, RefusesABadNameAndATemplateWithoutOne) {
  EXPECT_FALSE(rename_project(kFull, "Not Valid"));
  EXPECT_FALSE(rename_project("language = \"go\"\n[wasm]\nname = \"x\"\n", "ok"));
}

}  // namespace
}  // namespace nebula::project
