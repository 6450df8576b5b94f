#include "wasm/runtime.hpp"

#include "wasm_fixture.hpp"

namespace nebula::wasm {
namespace {

using testing::WasmTest;

const std::string kDigest = "sha256:" + std::string(64, 'e');

class WasmRuntimeTest : public WasmTest {
 protected:
  void SetUp() override {
    runtime_ = std::make_unique<Runtime>(engine(), [this](const std::string& digest) {
      ++loads_;
      EXPECT_EQ(digest, kDigest);
      return Module::compile(engine(), testing::read_guest("echo_env"));
    });
  }

  static Function function(const std::string& name) {
    Function f;
    f.name = name;
    f.manifest.wasm_module = kDigest;
    return f;
  }

  std::unique_ptr<Runtime> runtime_;
  int loads_ = 0;
};

TEST_F(WasmRuntimeTest, InvokesAPreparedFunction) {
  ASSERT_TRUE(runtime_->prepare(function("echo")));
  InvocationRequest req;
  req.function = "echo";
  req.body = "ping";
  req.args = {"--x"};
  req.env = {{"REQUEST_METHOD", "POST"}};
  auto r = runtime_->invoke(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->stdout_data, "ping\narg:--x\nenv:REQUEST_METHOD=POST");
}

TEST_F(WasmRuntimeTest, FunctionsSharingAModuleLinkItOnce) {
  ASSERT_TRUE(runtime_->prepare(function("a")));
  ASSERT_TRUE(runtime_->prepare(function("b")));
  EXPECT_EQ(loads_, 1);
}

TEST_F(WasmRuntimeTest, UnknownOrRemovedFunctionIsNotFound) {
  InvocationRequest req;
  req.function = "nope";
  auto r = runtime_->invoke(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);

  ASSERT_TRUE(runtime_->prepare(function("gone")));
  runtime_->remove("gone");
  req.function = "gone";
  EXPECT_FALSE(runtime_->invoke(req));
}

TEST_F(WasmRuntimeTest, LimitsFromTheRequestApply) {
  ASSERT_TRUE(runtime_->prepare(function("echo")));
  InvocationRequest req;
  req.function = "echo";
  req.body = std::string(1000, 'x');
  // Room for the guest's 14-byte stderr line, not for its stdout: the cap
  // applies to each stream, and only stdout goes over.
  req.limits.max_output_bytes = 20;
  auto r = runtime_->invoke(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, Outcome::kTrap);
  EXPECT_TRUE(r->output_truncated);
  EXPECT_EQ(r->stdout_data, std::string(20, 'x'));
  EXPECT_EQ(r->stderr_data, "echo_env done\n");
}

}  // namespace
}  // namespace nebula::wasm
