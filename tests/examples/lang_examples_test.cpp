// The function projects of every language (examples/lang/), as a user runs
// them: deployed with `nebula deploy` from their built project folder, then
// invoked through a real server with the same inputs on wasm and — in the
// docker build of this test — on Docker, against one table of answers. The
// answers are those of the C examples, byte for byte.
//
// The projects built are listed in lang-examples.txt (examples/lang/
// CMakeLists.txt writes it); a language whose toolchain is missing is not
// there and not tested.
#include <fstream>
#include <map>
#include <optional>
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
  std::string runtime;
};

std::vector<Param> params() {
  std::vector<Param> out;
  const auto table = cases_by_example();
  for (const auto& p : read_projects()) {
    auto it = table.find(p.example);
    if (it == table.end()) continue;
    for (const auto& c : it->second) {
      out.push_back({p, c, "wasm"});
#ifdef NEBULA_LANG_DOCKER
      if (p.has_image) out.push_back({p, c, "docker"});
#endif
    }
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string name =
      info.param.project.function + "_" + info.param.c.name + "_" + info.param.runtime;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

// One server for every case, with every project deployed once by `nebula
// deploy` from its folder.
class LangServer {
 public:
  static LangServer& get() {
    static LangServer server;
    return server;
  }
  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] const std::string& problem() const { return problem_; }
  [[nodiscard]] ServerProcess& server() { return *server_; }

 private:
  LangServer() {
    std::vector<std::string> args;
#ifndef NEBULA_LANG_DOCKER
    args.push_back("--no-docker");
#endif
    server_.emplace(dir_.path() / "data", args);
    if (!server_->start()) {
      problem_ = "server did not start: " + server_->log();
      return;
    }
    for (const auto& p : read_projects()) {
      std::vector<std::string> argv = {NEBULA_BIN,     "deploy",    "--server",
                                       server_->url(), "--project", p.dir.string()};
#ifndef NEBULA_LANG_DOCKER
      argv.push_back("--no-docker");
#endif
      auto r = test::run_process(argv, "");
      if (r.exit_code != 0) {
        problem_ += "deploy of " + p.function + " failed: " + r.out + r.err + "\n";
      }
    }
    ready_ = problem_.empty();
  }

  TempDir dir_;
  std::optional<ServerProcess> server_;
  bool ready_ = false;
  std::string problem_;
};

class LangExample : public ::testing::TestWithParam<Param> {};

TEST_P(LangExample, Answers) {
  auto& shared = LangServer::get();
  ASSERT_TRUE(shared.ready()) << shared.problem();
  const Param& p = GetParam();
  auto res = shared.server().client().request(
      "POST", "/v1/functions/" + p.project.function + "/invoke?runtime=" + p.runtime, p.c.input,
      "text/plain");
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, p.c.status) << res->body;
  if (p.c.status == 200) {
    EXPECT_EQ(res->body, p.c.body);
  } else {
    // The function's own message reaches the caller in the error.
    EXPECT_NE(res->body.find(p.c.in_error), std::string::npos) << res->body;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, LangExample, ::testing::ValuesIn(params()), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LangExample);

#ifndef NEBULA_LANG_DOCKER
// The http-hello projects: a wasi:http handler at /fn/<name>/, with its own
// status and headers.
TEST(LangHttpExample, AnswersWithItsOwnHeaders) {
  auto& shared = LangServer::get();
  ASSERT_TRUE(shared.ready()) << shared.problem();
  int seen = 0;
  for (const auto& p : read_projects()) {
    if (p.kind != "http") continue;
    ++seen;
    auto res = shared.server().client().request("GET", "/fn/" + p.function + "/greet?x=1");
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200U) << p.function << ": " << res->body;
    EXPECT_NE(res->body.find("Hello from"), std::string::npos) << p.function << ": " << res->body;
    EXPECT_EQ(res->header("x-hello"), "nebula") << p.function;
  }
  if (seen == 0) GTEST_SKIP() << "no http project was built";
}
#endif

}  // namespace
}  // namespace nebula::testing
