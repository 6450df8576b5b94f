#include "wasm/runtime.hpp"

#include <chrono>
#include <thread>

#include "wasm_fixture.hpp"

namespace nebula::wasm {
namespace {

using testing::WasmTest;

const std::string kDigest = "sha256:" + std::string(64, 'e');

class WasmRuntimeTest : public WasmTest {
 protected:
  void SetUp() override {
    runtime_ = std::make_unique<Runtime>(engine(), [this](const std::string& digest, bool) {
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

TEST_F(WasmRuntimeTest, InvokesAPreparedVariant) {
  auto variant = runtime_->prepare(function("echo"));
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest req;
  req.function = "echo";
  req.body = "ping";
  req.args = {"--x"};
  req.env = {{"REQUEST_METHOD", "POST"}};
  auto r = runtime_->invoke(**variant, req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->stdout_data, "ping\narg:--x\nenv:REQUEST_METHOD=POST");
  EXPECT_TRUE(r->cpu_us.has_value());
  EXPECT_GT(r->max_memory_bytes.value_or(0), 0U);
}

TEST_F(WasmRuntimeTest, FunctionsSharingAModuleLinkItOnce) {
  auto a = runtime_->prepare(function("a"));
  auto b = runtime_->prepare(function("b"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(loads_, 1);
  EXPECT_EQ(runtime_->live_programs(), 1U);
}

TEST_F(WasmRuntimeTest, TheProgramCacheHoldsNothingAlive) {
  {
    auto a = runtime_->prepare(function("a"));
    ASSERT_TRUE(a);
    EXPECT_EQ(runtime_->live_programs(), 1U);
    runtime_->retire(**a);
  }
  // The last variant is gone, and with it the program: a new prepare links
  // again.
  EXPECT_EQ(runtime_->live_programs(), 0U);
  auto again = runtime_->prepare(function("a"));
  ASSERT_TRUE(again);
  EXPECT_EQ(loads_, 2);
}

// A Runtime that lets an idle variant's Program go after `after`.
std::unique_ptr<Runtime> unloading_runtime(Engine& engine, std::chrono::milliseconds after,
                                           int& loads) {
  return std::make_unique<Runtime>(
      engine,
      [&engine, &loads](const std::string&, bool) {
        ++loads;
        return Module::compile(engine, testing::read_guest("echo_env"));
      },
      after);
}

InvocationRequest echo_request(std::string body) {
  InvocationRequest req;
  req.function = "echo";
  req.body = std::move(body);
  return req;
}

TEST_F(WasmRuntimeTest, AnIdleVariantLetsItsProgramGoAndLoadsItAgainOnItsNextCall) {
  int loads = 0;
  auto runtime = unloading_runtime(engine(), std::chrono::hours(1), loads);
  auto variant = runtime->prepare(function("echo"));
  ASSERT_TRUE(variant) << variant.error().message;
  EXPECT_EQ(runtime->live_programs(), 1U);
  // Not idle for an hour yet: kept.
  EXPECT_EQ(runtime->unload_idle(), 0U);
  EXPECT_EQ(runtime->live_programs(), 1U);

  auto idle = unloading_runtime(engine(), std::chrono::milliseconds(1), loads);
  auto v = idle->prepare(function("echo"));
  ASSERT_TRUE(v);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int loads_before = loads;
  // The sweeper may have been first; either way the program is gone.
  (void)idle->unload_idle();
  EXPECT_EQ(idle->live_programs(), 0U);
  auto r = idle->invoke(**v, echo_request("again"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->stdout_data.substr(0, 5), "again");
  EXPECT_EQ(loads, loads_before + 1);
  // The load counts in the start-up of the call that needed it.
  EXPECT_GT(r->timings.startup_us, 0);
}

TEST_F(WasmRuntimeTest, TheSweeperLetsIdleProgramsGoWithoutBeingAsked) {
  int loads = 0;
  auto runtime = unloading_runtime(engine(), std::chrono::milliseconds(50), loads);
  auto variant = runtime->prepare(function("echo"));
  ASSERT_TRUE(variant);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (runtime->live_programs() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(runtime->live_programs(), 0U);
  // And after a call loads it again, it goes again.
  ASSERT_TRUE(runtime->invoke(**variant, echo_request("x")));
  EXPECT_EQ(loads, 2);
  while (runtime->live_programs() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(runtime->live_programs(), 0U);
}

TEST_F(WasmRuntimeTest, CallsRacingTheSweeperAllAnswer) {
  int loads = 0;
  auto runtime = unloading_runtime(engine(), std::chrono::milliseconds(1), loads);
  auto variant = runtime->prepare(function("echo"));
  ASSERT_TRUE(variant);
  // Calls racing with the sweeper all answer, whichever side wins.
  for (int i = 0; i < 50; ++i) {
    auto r = runtime->invoke(**variant, echo_request(std::to_string(i)));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->stdout_data.substr(0, std::to_string(i).size()), std::to_string(i));
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
}

TEST_F(WasmRuntimeTest, AFunctionWithoutAModuleHasNoWasmVariant) {
  Function f;
  f.name = "docker-only";
  f.manifest.docker_image = "nebula-fn-hello:latest";
  auto variant = runtime_->prepare(f);
  ASSERT_FALSE(variant);
  EXPECT_EQ(variant.error().kind, ErrorKind::kNotFound);
}

TEST_F(WasmRuntimeTest, LimitsFromTheRequestApply) {
  auto variant = runtime_->prepare(function("echo"));
  ASSERT_TRUE(variant);
  InvocationRequest req;
  req.function = "echo";
  req.body = std::string(1000, 'x');
  // Room for the guest's 14-byte stderr line, not for its stdout: the cap
  // applies to each stream, and only stdout goes over.
  req.limits.max_output_bytes = 20;
  auto r = runtime_->invoke(**variant, req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, Outcome::kTrap);
  EXPECT_TRUE(r->output_truncated);
  EXPECT_EQ(r->stdout_data, std::string(20, 'x'));
  EXPECT_EQ(r->stderr_data, "echo_env done\n");
}

}  // namespace
}  // namespace nebula::wasm
