#pragma once

// Shared by the tests that need a real Docker engine (label `docker`): skip
// with a reason when none answers, build the fixture image once per
// process, and check at the end that no container of this process is left.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "docker/client.hpp"

namespace nebula::docker::testing {

inline constexpr const char* kFixtureImage = "nebula-test-fixture:latest";

inline Client& test_client() {
  static Client client;
  return client;
}

// Why the engine cannot be used, or empty when it can.
inline const std::string& engine_problem() {
  static const std::string problem = [] {
    Status ping = test_client().ping();
    return ping ? std::string() : ping.error().message;
  }();
  return problem;
}

// Builds nebula-test-fixture:latest (FROM scratch, the static fixture as its
// entrypoint) with the docker CLI; the layer cache makes repeats cheap.
// Returns why it failed, or empty.
inline const std::string& fixture_image_problem() {
  static const std::string problem = []() -> std::string {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("nebula-fixture-" + std::to_string(getpid()));
    std::error_code ec;
    fs::create_directories(dir, ec);
    fs::copy_file(NEBULA_FIXTURE_PATH, dir / "fixture", fs::copy_options::overwrite_existing, ec);
    if (ec) return "cannot copy the fixture binary: " + ec.message();
    std::ofstream(dir / "Dockerfile") << "FROM scratch\nCOPY fixture /fixture\n"
                                         "ENTRYPOINT [\"/fixture\"]\n";
    const std::string command = "DOCKER_BUILDKIT=0 docker build -q -t " +
                                std::string(kFixtureImage) + " " + dir.string() +
                                " >/dev/null 2>&1";
    const int rc = std::system(command.c_str());
    fs::remove_all(dir, ec);
    if (rc != 0) return "`docker build` of the fixture image failed (is the docker CLI installed?)";
    return {};
  }();
  return problem;
}

#define NEBULA_REQUIRE_ENGINE()                                                            \
  do {                                                                                     \
    if (!::nebula::docker::testing::engine_problem().empty()) {                            \
      GTEST_SKIP() << "no Docker engine: " << ::nebula::docker::testing::engine_problem(); \
    }                                                                                      \
  } while (false)

#define NEBULA_REQUIRE_FIXTURE_IMAGE()                                    \
  do {                                                                    \
    NEBULA_REQUIRE_ENGINE();                                              \
    if (!::nebula::docker::testing::fixture_image_problem().empty()) {    \
      GTEST_SKIP() << ::nebula::docker::testing::fixture_image_problem(); \
    }                                                                     \
  } while (false)

// True when `image` exists on the engine (the example images come from the
// example_images target and may not have been built).
inline bool image_present(const std::string& image) {
  return engine_problem().empty() && test_client().inspect_image(image).has_value();
}

// Containers labelled nebula.function that this test process created (its
// runtimes' instance labels start with its pid).
inline std::vector<std::string> containers_of_this_process() {
  std::vector<std::string> ids;
  auto list = test_client().list_containers(kFunctionLabel);
  if (!list) return ids;
  const std::string prefix = std::to_string(getpid()) + "-";
  for (const ContainerSummary& c : *list) {
    auto it = c.labels.find(kInstanceLabel);
    if (it != c.labels.end() && it->second.rfind(prefix, 0) == 0) ids.push_back(c.id);
  }
  return ids;
}

// After the last test: nothing this process created may remain.
class NoLeftoversEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!engine_problem().empty()) return;
    const auto left = containers_of_this_process();
    EXPECT_TRUE(left.empty()) << left.size() << " container(s) left behind, first "
                              << (left.empty() ? "" : left.front());
    for (const std::string& id : left) (void)test_client().remove(id);
  }
};

}  // namespace nebula::docker::testing
