// The function projects of every language (examples/lang/) against one
// table of answers — those of the C examples, byte for byte:
//
//  - LangExample: every built project on wasm through `nebula run` (its
//    compiled-code cache makes a repeated component cheap), and — in the
//    docker build of this test — every image through `docker run`, the way
//    the C examples are tested;
//  - LangProject: the author's path per language, end to end: `nebula new`,
//    `nebula build`, `nebula deploy` to a real server and an invocation
//    through the HTTP API (wasm; docker in the docker build), with bad
//    input giving a 502 that carries the function's message.
//
// The projects built are listed in lang-examples.txt (examples/lang/
// CMakeLists.txt writes it); a language whose toolchain is missing is not
// there and not tested.
#include <cctype>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "examples/run_process.hpp"
#include "integration/server_process.hpp"

namespace nebula::testing {
namespace {

struct Project {
  std::string function;  // e.g. "python-hello"
  std::string language;
  std::string example;        // hello, fibonacci, json-transform, http-hello
  std::string kind;           // command or http
  std::filesystem::path dir;  // the built copy, holding nebula.toml
  bool has_image = false;
};

std::vector<Project> read_projects() {
  std::vector<Project> out;
  std::ifstream list(std::string(NEBULA_EXAMPLES_DIR) + "/lang-examples.txt");
  for (std::string line; std::getline(list, line);) {
    std::istringstream fields(line);
    Project p;
    std::string artifact;
    std::string image;
    if (!(fields >> p.function >> p.language >> p.example >> p.kind >> artifact >> image)) continue;
    p.dir = std::filesystem::path(artifact).parent_path().parent_path();
    p.has_image = image != "-";
    out.push_back(std::move(p));
  }
  return out;
}

// One request and what must come back.
struct Case {
  std::string name;  // for the test's name
  std::string input;
  unsigned status = 200;
  std::string body;      // exact, when status is 200
  std::string in_error;  // a part of the error, when it is not
};

const std::string kOrder =
    R"({"customer":"Ada","items":[{"sku":"a1","qty":2,"price_cents":150},{"sku":"b2","qty":1,"price_cents":99}]})";

std::map<std::string, std::vector<Case>> cases_by_example() {
  return {
      {"hello",
       {{"name", "Ada", 200, "Hello, Ada!\n", ""},
        {"empty", "", 200, "Hello, World!\n", ""},
        {"json_trimmed", "  {\"a\":1} \n", 200, "Hello, {\"a\":1}!\n", ""},
        {"utf8", "Zoë", 200, "Hello, Zoë!\n", ""},
        {"too_long", std::string(101, 'x'), 502, "", "100 bytes"},
        {"control",
         "a\x01"
         "b",
         502, "", "control character"}}},
      {"fibonacci",
       {{"f90", "90", 200, "2880067194370816120\n", ""},
        {"f0", "0", 200, "0\n", ""},
        {"plus_and_space", " +7\n", 200, "13\n", ""},
        {"f200", "200", 200, "280571172992510140037611932413038677189525\n", ""},
        {"not_a_number", "abc", 502, "", "fibonacci:"},
        {"too_big", "10001", 502, "", "10000"}}},
      {"json-transform",
       {{"order", kOrder, 200,
         R"({"customer":"Ada","item_count":2,"items":[{"price_cents":150,"qty":2,"sku":"a1"},{"price_cents":99,"qty":1,"sku":"b2"}],"total_cents":399})"
         "\n",
         ""},
        {"no_items", "{}", 200, "{\"item_count\":0,\"total_cents\":0}\n", ""},
        {"utf8_and_html", R"({"note":"Zoë <&>","z":{"b":1,"a":[true,null]}})", 200,
         R"({"item_count":0,"note":"Zoë <&>","total_cents":0,"z":{"a":[true,null],"b":1}})"
         "\n",
         ""},
        {"not_json", "not json", 502, "", "json-transform:"},
        {"not_an_object", "[1,2]", 502, "", "json-transform:"},
        {"bad_qty", R"({"items":[{"qty":"two","price_cents":1}]})", 502, "", "json-transform:"}}},
  };
}

struct Param {
  Project project;
  Case c;
};

// For the test list: the function and the case, not the bytes.
void PrintTo(const Param& p, std::ostream* os) {
  *os << p.project.function << " " << p.c.name;
}

std::vector<Param> params() {
  std::vector<Param> out;
  const auto table = cases_by_example();
  for (const auto& p : read_projects()) {
    auto it = table.find(p.example);
    if (it == table.end()) continue;
#ifdef NEBULA_LANG_DOCKER
    if (!p.has_image) continue;
#endif
    for (const auto& c : it->second) out.push_back({p, c});
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string name = info.param.project.function + "_" + info.param.c.name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

#ifdef NEBULA_LANG_DOCKER
// Asked once per test binary: `docker info` fails when no engine answers.
bool docker_available() {
  static const bool available =
      test::run_process({"docker", "info"}, "", std::chrono::seconds(30)).exit_code == 0;
  return available;
}
#define NEBULA_REQUIRE_DOCKER()                                                        \
  do {                                                                                 \
    if (!docker_available()) GTEST_SKIP() << "no Docker engine answers `docker info`"; \
  } while (false)
#endif

class LangExample : public ::testing::TestWithParam<Param> {};

TEST_P(LangExample, Answers) {
  const Param& p = GetParam();
#ifdef NEBULA_LANG_DOCKER
  NEBULA_REQUIRE_DOCKER();
  const std::string image = "nebula-fn-" + p.project.function + ":latest";
  if (test::run_process({"docker", "image", "inspect", image}, "").exit_code != 0) {
    GTEST_FAIL() << "no image " << image
                 << ": build it with cmake --build --preset release --target lang_example_images";
  }
  auto r = test::run_process({"docker", "run", "--rm", "-i", "--network", "none", image}, p.c.input,
                             std::chrono::seconds(60));
#else
  auto r = test::run_process({NEBULA_BIN, "run", (p.project.dir / "build/function.wasm").string()},
                             p.c.input, std::chrono::seconds(120));
#endif
  ASSERT_TRUE(r.spawn_error.empty()) << r.spawn_error;
  if (p.c.status == 200) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, p.c.body) << r.err;
  } else {
    // A failure, with the function's own message on stderr.
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.err.find(p.c.in_error), std::string::npos) << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, LangExample, ::testing::ValuesIn(params()), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LangExample);

// The languages whose projects were built here: their toolchains are
// installed, so `nebula new` + `nebula build` work for them too.
std::vector<std::string> built_languages() {
  std::vector<std::string> out;
  for (const auto& p : read_projects()) {
    if (p.example == "hello") out.push_back(p.language);
  }
  return out;
}

class LangProject : public ::testing::TestWithParam<std::string> {
 protected:
  test::ProcessResult nebula(std::vector<std::string> args, const std::filesystem::path& cwd) {
    // `nebula build` and `nebula deploy` run in the project folder, as a
    // user types them there.
    std::string command = "cd '" + cwd.string() + "' && exec";
    for (const auto& a : args) command += " '" + a + "'";
    auto r = test::run_process({"/bin/sh", "-c", command}, "", std::chrono::minutes(5));
    r.err = r.out + r.err;
    return r;
  }

  // nebula new + build + deploy of a fresh project named `name`; the
  // server's URL for the rest.
  void make_and_deploy(const std::string& lang, bool http, const std::string& name,
                       ServerProcess& server, bool with_docker) {
    std::vector<std::string> make = {NEBULA_BIN, "new", name, "--lang", lang};
    if (http) make.push_back("--http");
    auto made = nebula(make, dir_.path());
    ASSERT_EQ(made.exit_code, 0) << made.err;
    const auto project = dir_.path() / name;
    auto built = nebula(with_docker ? std::vector<std::string>{NEBULA_BIN, "build"}
                                    : std::vector<std::string>{NEBULA_BIN, "build", "--wasm-only"},
                        project);
    ASSERT_EQ(built.exit_code, 0) << built.err;
    EXPECT_NE(built.out.find("built " + name), std::string::npos) << built.out;
    std::vector<std::string> deploy = {NEBULA_BIN, "deploy", "--server", server.url()};
    if (!with_docker) deploy.push_back("--no-docker");
    auto deployed = nebula(deploy, project);
    ASSERT_EQ(deployed.exit_code, 0) << deployed.err;
    EXPECT_NE(deployed.out.find("created " + name), std::string::npos) << deployed.out;
  }

  TempDir dir_;
};

TEST_P(LangProject, NewBuildDeployInvoke) {
  const std::string lang = GetParam();
#ifdef NEBULA_LANG_DOCKER
  NEBULA_REQUIRE_DOCKER();
  const bool with_docker = true;
  ServerProcess server(dir_.path() / "data");
#else
  const bool with_docker = false;
  ServerProcess server(dir_.path() / "data", {"--no-docker"});
#endif
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_NO_FATAL_FAILURE(make_and_deploy(lang, false, "demo", server, with_docker));

  const std::string runtime = with_docker ? "docker" : "wasm";
  auto ok = server.client().request("POST", "/v1/functions/demo/invoke?runtime=" + runtime,
                                    R"({"a":1})", "application/json");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->status, 200U) << ok->body;
  EXPECT_EQ(ok->body, "Hello, {\"a\":1}!\n");
  EXPECT_EQ(ok->header("x-nebula-runtime"), runtime);
  // Bad input: a 502 with the function's message, and the server carries on.
  auto bad = server.client().request("POST", "/v1/functions/demo/invoke?runtime=" + runtime,
                                     std::string(200, 'x'), "text/plain");
  ASSERT_TRUE(bad) << bad.error().message;
  EXPECT_EQ(bad->status, 502U) << bad->body;
  EXPECT_NE(bad->body.find("100 bytes"), std::string::npos) << bad->body;
  auto health = server.client().request("GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200U);
}

INSTANTIATE_TEST_SUITE_P(Languages, LangProject, ::testing::ValuesIn(built_languages()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LangProject);

#ifndef NEBULA_LANG_DOCKER
std::vector<std::string> http_languages() {
  std::vector<std::string> out;
  for (const auto& p : read_projects()) {
    if (p.kind == "http") out.push_back(p.language);
  }
  return out;
}

// `nebula new --http`: a wasi:http handler at /fn/<name>/, with its own
// status and headers.
class LangHttpProject : public LangProject {};

TEST_P(LangHttpProject, NewBuildDeployAndServe) {
  ServerProcess server(dir_.path() / "data", {"--no-docker"});
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_NO_FATAL_FAILURE(make_and_deploy(GetParam(), true, "web", server, false));
  auto res = server.client().request("GET", "/fn/web/greet?x=1");
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200U) << res->body;
  EXPECT_NE(res->body.find("Hello from"), std::string::npos) << res->body;
  EXPECT_EQ(res->header("x-hello"), "nebula");
}

INSTANTIATE_TEST_SUITE_P(Languages, LangHttpProject, ::testing::ValuesIn(http_languages()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LangHttpProject);
#endif

}  // namespace
}  // namespace nebula::testing
