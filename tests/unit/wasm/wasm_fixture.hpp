#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "base/files.hpp"
#include "wasm/engine.hpp"
#include "wasm/executor.hpp"
#include "wasm/module.hpp"

namespace nebula::wasm::testing {

inline std::string read_guest(const std::string& name) {
  std::string path = std::string(NEBULA_TEST_GUESTS) + "/" + name + ".wasm";
  auto bytes = base::read_file(path);
  EXPECT_TRUE(bytes) << "missing test guest " << path;
  return bytes.value_or("");
}

// One engine for the whole test binary, as in the server.
class WasmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!engine_) {
      auto engine = Engine::create();
      ASSERT_TRUE(engine) << engine.error().message;
      engine_ = std::move(*engine).release();
    }
  }

  static Engine& engine() { return *engine_; }

  static std::shared_ptr<const Program> link(std::string_view source) {
    auto module = Module::compile(*engine_, source);
    EXPECT_TRUE(module) << module.error().message;
    if (!module) return nullptr;
    auto program = Program::link(*engine_, std::move(*module));
    EXPECT_TRUE(program) << program.error().message;
    return program ? *program : nullptr;
  }

  static std::shared_ptr<const Program> guest(const std::string& name) {
    return link(read_guest(name));
  }

  static InvocationResult run(const Program& program, ExecSpec spec = {}) {
    if (spec.argv.empty()) spec.argv.push_back("guest");
    auto result = execute(program, spec);
    EXPECT_TRUE(result) << result.error().message;
    return result ? std::move(*result) : InvocationResult{};
  }

 private:
  static inline Engine* engine_ = nullptr;  // intentionally lives for the process
};

}  // namespace nebula::wasm::testing
