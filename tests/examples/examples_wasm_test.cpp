// The example functions' wasm32-wasi modules, run through `nebula run` (the
// CLI's one-shot local runner) against the shared table.
#include <string>

#include <gtest/gtest.h>

#include "examples/cases.hpp"
#include "examples/run_process.hpp"

namespace nebula::test {
namespace {

std::string module_path(const std::string& example) {
  return NEBULA_EXAMPLES_DIR "/" + example + ".wasm";
}

class WasmExample : public testing::TestWithParam<ExampleCase> {};

TEST_P(WasmExample, Answers) {
  const ExampleCase& c = GetParam();
  ProcessResult r = run_process({NEBULA_BIN, "run", module_path(c.example)}, c.input);
  expect_answer(c, r);
}

INSTANTIATE_TEST_SUITE_P(Table, WasmExample, testing::ValuesIn(example_cases()), case_name);

// A memory limit below what the guest asks for must fail the run, whether
// the guest sees its allocation refused (alloc exits 1) or the runtime stops
// it.
TEST(WasmExampleLimits, AllocBeyondMemoryLimitFails) {
  ProcessResult r =
      run_process({NEBULA_BIN, "run", "--memory-mb", "16", module_path("alloc")}, "64");
  ASSERT_EQ(r.spawn_error, "");
  ASSERT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err, "") << "the failure should be explained on stderr";
}

TEST(WasmExampleLimits, AllocWithinMemoryLimitSucceeds) {
  ProcessResult r =
      run_process({NEBULA_BIN, "run", "--memory-mb", "64", module_path("alloc")}, "16");
  ASSERT_EQ(r.spawn_error, "");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "allocated 16 MiB, touched 4096 pages\n");
}

}  // namespace
}  // namespace nebula::test
