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

#ifdef NEBULA_EXAMPLE_COMPONENTS
// The same examples packaged as wasi:cli/command components: the output is
// byte for byte the module's, on stdout and on stderr. WASI 0.2 commands
// report success or failure only, so a failing one exits 1 whatever code
// its module twin gives.
class ComponentExample : public testing::TestWithParam<ExampleCase> {};

TEST_P(ComponentExample, AnswersLikeItsModule) {
  const ExampleCase& c = GetParam();
  const std::string component = NEBULA_EXAMPLES_DIR "/components/" + c.example + ".wasm";
  ProcessResult as_component = run_process({NEBULA_BIN, "run", component}, c.input);
  ProcessResult as_module = run_process({NEBULA_BIN, "run", module_path(c.example)}, c.input);
  ASSERT_EQ(as_component.spawn_error, "");
  EXPECT_TRUE(as_component.out == as_module.out)
      << "component: " << as_component.out.size() << " bytes, module: " << as_module.out.size();
  EXPECT_EQ(as_component.err, as_module.err);
  EXPECT_EQ(as_component.exit_code, c.exit_code == 0 ? 0 : 1) << as_component.err;
  if (c.exit_code == 0) {
    EXPECT_TRUE(as_component.out == c.output);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ComponentExample, testing::ValuesIn(example_cases()), case_name);
#endif

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
