// The example functions' Docker images (nebula-fn-<name>:latest, built by
// the `example_images` target), run with `docker run` against the shared
// table. Needs a running Docker engine; skipped without one.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "examples/cases.hpp"
#include "examples/run_process.hpp"

namespace nebula::test {
namespace {

std::string image(const std::string& example) {
  return "nebula-fn-" + example + ":latest";
}

// Asked once per test binary: `docker info` fails when no engine answers.
bool engine_available() {
  static const bool available =
      run_process({"docker", "info"}, "", std::chrono::seconds(30)).exit_code == 0;
  return available;
}

class DockerExample : public testing::TestWithParam<ExampleCase> {
 protected:
  void SetUp() override {
    if (!engine_available()) {
      GTEST_SKIP() << "no Docker engine answers `docker info` (start one with "
                      "scripts/ensure-docker.sh)";
    }
  }
};

TEST_P(DockerExample, Answers) {
  const ExampleCase& c = GetParam();
  ProcessResult inspect = run_process({"docker", "image", "inspect", image(c.example)}, "");
  ASSERT_EQ(inspect.exit_code, 0) << image(c.example)
                                  << " is missing: build the images with "
                                     "`cmake --build <build dir> --target example_images`";
  // The same isolation the platform applies: no network at all. --rm
  // removes the container when it exits.
  ProcessResult r =
      run_process({"docker", "run", "--rm", "-i", "--network", "none", image(c.example)}, c.input);
  expect_answer(c, r);
}

INSTANTIATE_TEST_SUITE_P(Table, DockerExample, testing::ValuesIn(example_cases()), case_name);

}  // namespace
}  // namespace nebula::test
