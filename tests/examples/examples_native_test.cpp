// The example functions' static native builds (the binaries that go into
// the Docker images), run directly as subprocesses against the shared table.
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "examples/cases.hpp"
#include "examples/run_process.hpp"

namespace nebula::test {
namespace {

// The names listed in examples.txt, which deployment scripts read.
std::vector<std::string> listed_examples() {
  std::ifstream file(NEBULA_EXAMPLES_DIR "/examples.txt");
  std::vector<std::string> names;
  for (std::string line; std::getline(file, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

TEST(ExampleTable, CoversEveryListedExample) {
  std::vector<std::string> listed = listed_examples();
  ASSERT_FALSE(listed.empty()) << "cannot read " NEBULA_EXAMPLES_DIR "/examples.txt";
  std::set<std::string> in_table;
  std::set<std::string> with_bad_input;
  for (const auto& c : example_cases()) {
    in_table.insert(c.example);
    if (c.exit_code == 2) with_bad_input.insert(c.example);
  }
  for (const auto& name : listed) {
    EXPECT_TRUE(in_table.contains(name)) << name << " has no case in the table";
    // echo accepts any bytes at all, so it has no bad input.
    if (name != "echo") {
      EXPECT_TRUE(with_bad_input.contains(name)) << name << " has no bad-input case";
    }
  }
  std::set<std::string> listed_set(listed.begin(), listed.end());
  for (const auto& name : in_table) {
    EXPECT_TRUE(listed_set.contains(name)) << name << " is in the table but not in examples.txt";
  }
}

class NativeExample : public testing::TestWithParam<ExampleCase> {};

TEST_P(NativeExample, Answers) {
  const ExampleCase& c = GetParam();
  ProcessResult r = run_process({NEBULA_EXAMPLES_DIR "/native/" + c.example}, c.input);
  expect_answer(c, r);
}

INSTANTIATE_TEST_SUITE_P(Table, NativeExample, testing::ValuesIn(example_cases()), case_name);

}  // namespace
}  // namespace nebula::test
