// The container backend against the real engine (label `docker`): cold and
// warm invocations of the fixture image and, when built, the example images.
#include "docker/runtime.hpp"

#include <cstdlib>

#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "unit/docker/engine_support.hpp"

namespace nebula::docker {
namespace {

using namespace std::chrono_literals;
using testing::containers_of_this_process;
using testing::image_present;
using testing::kFixtureImage;
using testing::test_client;

[[maybe_unused]] auto* const kNoLeftovers =
    ::testing::AddGlobalTestEnvironment(new testing::NoLeftoversEnvironment);

RuntimeOptions test_options() {
  RuntimeOptions options;
  options.watchdog_path = NEBULA_WATCHDOG_PATH;
  return options;
}

Function make_function(std::string name, std::string image, DockerPool pool = {}) {
  Function function;
  function.name = std::move(name);
  function.manifest.docker_image = std::move(image);
  function.manifest.default_runtime = RuntimeKind::kDocker;
  function.manifest.docker_pool = pool;
  return function;
}

InvocationRequest make_request(std::string function, std::string body,
                               std::vector<std::string> args = {}) {
  InvocationRequest request;
  request.function = std::move(function);
  request.body = std::move(body);
  request.args = std::move(args);
  return request;
}

// Containers of one runtime (its instance label), running or not.
std::size_t containers_of(const Runtime& runtime) {
  auto list = test_client().list_containers(kInstanceLabel, runtime.instance());
  return list ? list->size() : 0;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// --- cold mode -------------------------------------------------------------

TEST(DockerRuntimeCold, EchoesAndMeasuresEveryPhase) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  auto result = runtime.invoke(**variant, make_request("fixture", "hello docker"));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kOk);
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->stdout_data, "hello docker");
  EXPECT_TRUE(result->cold);
  EXPECT_GT(result->timings.startup_us, 0);
  EXPECT_GT(result->timings.exec_us, 0);
  EXPECT_GT(result->timings.teardown_us, 0);
  // total is the invoker's to measure (request read -> response ready).
  // This machine runs the cgroupfs driver (scripts/ensure-docker.sh), where
  // the per-invocation parent cgroup gives real numbers.
  auto info = test_client().info();
  if (info && info->cgroup_driver == "cgroupfs") {
    EXPECT_GT(result->cpu_us.value_or(0), 0U);
    EXPECT_GT(result->max_memory_bytes.value_or(0), 0U);
  }
  EXPECT_EQ(containers_of(runtime), 0U);
}

TEST(DockerRuntimeCold, FibonacciExampleAnswersRight) {
  NEBULA_REQUIRE_ENGINE();
  if (!image_present("nebula-fn-fibonacci:latest")) {
    GTEST_SKIP() << "nebula-fn-fibonacci:latest is not built (target example_images)";
  }
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fibonacci", "nebula-fn-fibonacci:latest"));
  ASSERT_TRUE(variant) << variant.error().message;
  auto result = runtime.invoke(**variant, make_request("fibonacci", "90"));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kOk) << result->stderr_data;
  EXPECT_EQ(trimmed(result->stdout_data), "2880067194370816120");
}

TEST(DockerRuntimeCold, FixtureFibonacciWithArgsAndEnv) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  auto fib = runtime.invoke(**variant, make_request("fixture", "90", {"fib"}));
  ASSERT_TRUE(fib) << fib.error().message;
  EXPECT_EQ(fib->stdout_data, "2880067194370816120\n");

  InvocationRequest env = make_request("fixture", "PATH_INFO", {"env"});
  env.env = {{"PATH_INFO", "/v1/functions/fixture/invoke"}};
  auto result = runtime.invoke(**variant, env);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->stdout_data, "/v1/functions/fixture/invoke");
}

TEST(DockerRuntimeCold, NonZeroExitIsAnOutcomeNotAnError) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  auto result = runtime.invoke(**variant, make_request("fixture", "3", {"exit"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kExit);
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->stderr_data, "failing with 3\n");
}

TEST(DockerRuntimeCold, TimeoutKillsAndRemovesTheContainer) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "", {"sleep"});
  request.limits.timeout_ms = 1000;
  const auto begin = Clock::now();
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kTimeout);
  EXPECT_EQ(result->exit_code, 137);
  EXPECT_NE(result->message.find("timeout_ms (1000 ms)"), std::string::npos);
  EXPECT_GE(result->timings.exec_us, 1'000'000);
  EXPECT_LT(Clock::now() - begin, 15s);
  EXPECT_EQ(containers_of(runtime), 0U);
}

TEST(DockerRuntimeCold, MemoryLimitIsAMemoryOutcome) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "64", {"alloc"});
  request.limits.memory_mb = 16;
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kMemory) << result->message;
  EXPECT_EQ(result->exit_code, 137);
  // Within the limit the same function succeeds.
  request.body = "4";
  result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kOk);
  EXPECT_GE(result->max_memory_bytes.value_or(0), 4ULL << 20U);
}

TEST(DockerRuntimeCold, OutputOverTheLimitIsCutAndFails) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "", {"flood"});
  request.limits.max_output_bytes = 100'000;
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kTrap);
  EXPECT_TRUE(result->output_truncated);
  EXPECT_EQ(result->stdout_data.size(), 100'000U);
  EXPECT_NE(result->message.find("max_output_bytes"), std::string::npos);
  EXPECT_EQ(containers_of(runtime), 0U);
}

// Containment: what a hostile or broken guest can do stays in its
// container, with an outcome of its own.

TEST(DockerRuntimeCold, AFunctionIgnoringSigtermIsKilledAtItsTimeoutWithoutAGracePeriod) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "", {"ignore-term"});
  request.limits.timeout_ms = 500;
  const auto begin = Clock::now();
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kTimeout);
  // SIGKILL at once: a stop with SIGTERM first would wait out the engine's
  // 10 s grace period for this function.
  EXPECT_LT(Clock::now() - begin, 9s);
  EXPECT_EQ(containers_of(runtime), 0U);
}

TEST(DockerRuntimeWarm, AFunctionIgnoringSigtermDoesNotHoldUpItsContainersRemoval) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "", {"ignore-term"});
  request.limits.timeout_ms = 500;
  const auto begin = Clock::now();
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kTimeout);
  EXPECT_LT(Clock::now() - begin, 9s);
  // The pool still serves.
  auto next = runtime.invoke(**variant, make_request("fixture", "after"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->stdout_data, "after");
}

TEST(DockerRuntimeCold, AForkBombIsHeldByThePidsLimit) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  RuntimeOptions options = test_options();
  options.pids_limit = 32;
  Runtime runtime(options);
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "", {"fork-bomb"});
  request.limits.timeout_ms = 20'000;
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  // The bomb ran out of processes, said so and exited 1: its own outcome.
  EXPECT_EQ(result->outcome, Outcome::kExit) << result->message;
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_NE(result->stdout_data.find("forked "), std::string::npos) << result->stdout_data;
  const long forked = std::strtol(result->stdout_data.c_str() + 7, nullptr, 10);
  EXPECT_GT(forked, 0);
  EXPECT_LT(forked, 32);
  // Removing the container took every child with it.
  EXPECT_EQ(containers_of(runtime), 0U);
}

TEST(DockerRuntimeCold, FillingTmpStopsAtItsBoundAndTheRootIsReadOnly) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  Function function = make_function("fixture", kFixtureImage);
  function.manifest.limits.memory_mb = 256;  // a quarter: a 64 MiB /tmp
  auto variant = runtime.prepare(function);
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "", {"fill-tmp"});
  request.limits.memory_mb = 256;
  request.limits.timeout_ms = 20'000;
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kExit) << result->message;
  const std::string& out = result->stdout_data;
  // The tmpfs filled at its size (a write may stop a chunk short of it).
  const long mib = std::strtol(out.c_str() + 4, nullptr, 10);
  EXPECT_GE(mib, 60) << out;
  EXPECT_LE(mib, 64) << out;
  EXPECT_NE(out.find("No space left on device"), std::string::npos) << out;
  EXPECT_NE(out.find("root: Read-only file system"), std::string::npos) << out;
  EXPECT_EQ(containers_of(runtime), 0U);
}

TEST(DockerRuntimeCold, LargeBodyRoundTrips) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  std::string body(6 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 13);
  auto result = runtime.invoke(**variant, make_request("fixture", body));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kOk);
  EXPECT_TRUE(result->stdout_data == body);
}

TEST(DockerRuntime, MissingImageIsNotFoundAtPrepare) {
  NEBULA_REQUIRE_ENGINE();
  Runtime runtime(test_options());
  auto prepared = runtime.prepare(make_function("ghost", "nebula-fn-does-not-exist:latest"));
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(prepared.error().message.find("build or pull it first"), std::string::npos);
}

TEST(DockerRuntime, WarmPoolWithoutWatchdogIsRefused) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  RuntimeOptions options = test_options();
  options.watchdog_path = "/nonexistent/nebula-watchdog";
  Runtime runtime(options);
  auto prepared = runtime.prepare(make_function("fixture", kFixtureImage, {0, 2, 60}));
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(prepared.error().message.find("nebula-watchdog"), std::string::npos);
}

// --- warm mode -------------------------------------------------------------

TEST(DockerRuntimeWarm, SecondCallReusesTheContainer) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {0, 2, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  EXPECT_EQ(runtime.warm_containers(**variant), 0U);

  auto first = runtime.invoke(**variant, make_request("fixture", "one"));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->stdout_data, "one");
  EXPECT_TRUE(first->cold);
  EXPECT_GT(first->timings.startup_us, 0);

  auto second = runtime.invoke(**variant, make_request("fixture", "two"));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->outcome, Outcome::kOk);
  EXPECT_EQ(second->stdout_data, "two");
  EXPECT_FALSE(second->cold);
  EXPECT_EQ(second->timings.startup_us, 0);
  EXPECT_EQ(second->timings.teardown_us, 0);
  EXPECT_GT(second->timings.exec_us, 0);
  EXPECT_GT(second->max_memory_bytes.value_or(0), 0U);
  EXPECT_EQ(runtime.warm_containers(**variant), 1U);
  EXPECT_EQ(containers_of(runtime), 1U);

  runtime.retire(**variant);
  EXPECT_EQ(runtime.warm_containers(**variant), 0U);
  EXPECT_EQ(containers_of(runtime), 0U);
}

TEST(DockerRuntimeWarm, FibonacciExampleAnswersRight) {
  NEBULA_REQUIRE_ENGINE();
  if (!image_present("nebula-fn-fibonacci:latest")) {
    GTEST_SKIP() << "nebula-fn-fibonacci:latest is not built (target example_images)";
  }
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fibonacci", "nebula-fn-fibonacci:latest", {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  EXPECT_EQ(runtime.warm_containers(**variant), 1U);
  auto result = runtime.invoke(**variant, make_request("fibonacci", "90"));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kOk) << result->stderr_data;
  EXPECT_FALSE(result->cold);
  EXPECT_EQ(trimmed(result->stdout_data), "2880067194370816120");
}

TEST(DockerRuntimeWarm, CpuAndMemoryComeFromTheContainersCgroup) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  auto info = test_client().info();
  if (!info || info->cgroup_driver != "cgroupfs") GTEST_SKIP() << "needs the cgroupfs driver";
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  // 200 ms of spinning, then 8 MiB allocated and touched: the container's
  // counters see both, request by request (the peak is reset in between).
  auto spin = runtime.invoke(**variant, make_request("fixture", "200", {"spin-ms"}));
  ASSERT_TRUE(spin) << spin.error().message;
  ASSERT_TRUE(spin->cpu_us.has_value());
  // A busy machine gives the spin less than its 200 ms of wall time.
  EXPECT_GE(*spin->cpu_us, 100'000U);
  auto alloc = runtime.invoke(**variant, make_request("fixture", "8", {"alloc"}));
  ASSERT_TRUE(alloc) << alloc.error().message;
  ASSERT_EQ(alloc->outcome, Outcome::kOk) << alloc->stderr_data;
  ASSERT_TRUE(alloc->max_memory_bytes.has_value());
  EXPECT_GE(*alloc->max_memory_bytes, 8ULL << 20U);
  EXPECT_LT(alloc->cpu_us.value_or(0), *spin->cpu_us);
  auto small = runtime.invoke(**variant, make_request("fixture", "tiny"));
  ASSERT_TRUE(small) << small.error().message;
  ASSERT_TRUE(small->max_memory_bytes.has_value());
  EXPECT_LT(*small->max_memory_bytes, *alloc->max_memory_bytes);
}

TEST(DockerRuntimeWarm, ArgsEnvAndExitCodes) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  auto fib = runtime.invoke(**variant, make_request("fixture", "90", {"fib"}));
  ASSERT_TRUE(fib) << fib.error().message;
  EXPECT_EQ(fib->stdout_data, "2880067194370816120\n");

  InvocationRequest env = make_request("fixture", "QUERY_STRING", {"env"});
  env.env = {{"QUERY_STRING", "n=90"}};
  auto got = runtime.invoke(**variant, env);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->stdout_data, "n=90");

  auto failed = runtime.invoke(**variant, make_request("fixture", "4", {"exit"}));
  ASSERT_TRUE(failed) << failed.error().message;
  EXPECT_EQ(failed->outcome, Outcome::kExit);
  EXPECT_EQ(failed->exit_code, 4);
  EXPECT_EQ(failed->stderr_data, "failing with 4\n");
  EXPECT_FALSE(failed->cold);
  // One container served all three.
  EXPECT_EQ(containers_of(runtime), 1U);
}

TEST(DockerRuntimeWarm, TimeoutKillsAndReplacesTheContainer) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "", {"sleep"});
  request.limits.timeout_ms = 500;
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kTimeout);
  EXPECT_GT(result->timings.teardown_us, 0);
  EXPECT_EQ(runtime.warm_containers(**variant), 0U);
  EXPECT_EQ(containers_of(runtime), 0U);

  // The next request gets a fresh container, and says it was a cold start.
  auto next = runtime.invoke(**variant, make_request("fixture", "again"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->stdout_data, "again");
  EXPECT_TRUE(next->cold);
}

TEST(DockerRuntimeWarm, MemoryLimitIsAMemoryOutcome) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  Function function = make_function("fixture", kFixtureImage, {1, 1, 60});
  function.manifest.limits.memory_mb = 16;
  auto variant = runtime.prepare(function);
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "64", {"alloc"});
  request.limits.memory_mb = 16;
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kMemory) << result->message;
  // The pool recovers either way (same container or a replacement).
  auto next = runtime.invoke(**variant, make_request("fixture", "ok"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->stdout_data, "ok");
}

TEST(DockerRuntimeWarm, OutputOverTheLimitIsCutAndFails) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  InvocationRequest request = make_request("fixture", "", {"flood"});
  request.limits.max_output_bytes = 100'000;
  auto result = runtime.invoke(**variant, request);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->outcome, Outcome::kTrap);
  EXPECT_TRUE(result->output_truncated);
  EXPECT_EQ(result->stdout_data.size(), 100'000U);
  EXPECT_EQ(runtime.warm_containers(**variant), 1U);
}

TEST(DockerRuntimeWarm, AContainerKilledWhileIdleIsReplaced) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  // Regression: with the only slot taken by a dead container, the request
  // waited for a slot it held itself. The reaper must not get there first:
  // it wakes only when the idle timeout (60 s) is due.
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  auto list = test_client().list_containers(kInstanceLabel, runtime.instance());
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1U);
  ASSERT_TRUE(test_client().kill(list->front().id));
  // Let the engine close the attach stream.
  std::this_thread::sleep_for(300ms);
  auto result = runtime.invoke(**variant, make_request("fixture", "survived"));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->stdout_data, "survived");
  EXPECT_TRUE(result->cold);
  EXPECT_EQ(containers_of(runtime), 1U);
}

TEST(DockerRuntimeWarm, BusyPoolQueues) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  auto slow = std::async(std::launch::async, [&runtime, &variant] {
    return runtime.invoke(**variant, make_request("fixture", "400", {"spin-ms"}));
  });
  std::this_thread::sleep_for(100ms);
  auto queued = runtime.invoke(**variant, make_request("fixture", "after"));
  auto first = slow.get();
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(queued) << queued.error().message;
  EXPECT_EQ(queued->stdout_data, "after");
  EXPECT_GE(queued->timings.queue_us, 150'000);
  EXPECT_FALSE(queued->cold);
  EXPECT_EQ(containers_of(runtime), 1U);
}

TEST(DockerRuntimeWarm, AFullPoolRefusesAfterTheTimeout) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  auto slow = std::async(std::launch::async, [&runtime, &variant] {
    return runtime.invoke(**variant, make_request("fixture", "1500", {"spin-ms"}));
  });
  std::this_thread::sleep_for(100ms);
  InvocationRequest impatient = make_request("fixture", "x");
  impatient.limits.timeout_ms = 300;
  auto refused = runtime.invoke(**variant, impatient);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kOverloaded);
  ASSERT_TRUE(slow.get());
}

TEST(DockerRuntimeWarm, ReaperScalesToZero) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  // min_warm 2 is a pre-warm, not a floor: idle containers go anyway.
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {2, 2, 1}));
  ASSERT_TRUE(variant) << variant.error().message;
  EXPECT_EQ(runtime.warm_containers(**variant), 2U);
  const auto deadline = Clock::now() + 10s;
  while (runtime.warm_containers(**variant) > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(runtime.warm_containers(**variant), 0U);
  EXPECT_EQ(containers_of(runtime), 0U);
  // And it scales back up on demand.
  auto result = runtime.invoke(**variant, make_request("fixture", "back"));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->cold);
  EXPECT_EQ(runtime.warm_containers(**variant), 1U);
}

TEST(DockerRuntimeWarm, DestructorRemovesEveryContainer) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  std::string instance;
  {
    Runtime runtime(test_options());
    instance = runtime.instance();
    auto fixture = runtime.prepare(make_function("fixture", kFixtureImage, {2, 3, 60}));
    ASSERT_TRUE(fixture) << fixture.error().message;
    auto other = runtime.prepare(make_function("other", kFixtureImage, {1, 1, 60}));
    ASSERT_TRUE(other) << other.error().message;
    EXPECT_EQ(runtime.warm_containers(**fixture), 2U);
    // Without retire(): dropping the variants at destruction still stops
    // their containers.
  }
  auto list = test_client().list_containers(kInstanceLabel, instance);
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
}

TEST(DockerRuntimeWarm, RetiringAVariantStopsItsContainers) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  // A redeploy, as the function service runs it: the new variant is
  // prepared beside the old one, then the old one is retired.
  auto first = runtime.prepare(make_function("fixture", kFixtureImage, {2, 2, 60}));
  ASSERT_TRUE(first) << first.error().message;
  auto second = runtime.prepare(make_function("fixture", kFixtureImage, {1, 2, 60}));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(containers_of(runtime), 3U);
  runtime.retire(**first);
  EXPECT_EQ(runtime.warm_containers(**first), 0U);
  EXPECT_EQ(runtime.warm_containers(**second), 1U);
  EXPECT_EQ(containers_of(runtime), 1U);
  // Redeployed without a pool: cold from now on, no container kept.
  auto cold = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(cold) << cold.error().message;
  runtime.retire(**second);
  EXPECT_EQ(containers_of(runtime), 0U);
  auto result = runtime.invoke(**cold, make_request("fixture", "cold again"));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->cold);
  // A call on a retired pool is refused, not run.
  auto late = runtime.invoke(**second, make_request("fixture", "late"));
  EXPECT_FALSE(late);
}

TEST(DockerRuntime, CleanupRemovesLeftoversOfDeadInstances) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  // A container as a crashed Nebula would leave it: labelled, its
  // instance's process long gone (pid 0 never names a live process).
  ContainerSpec spec;
  spec.image = kFixtureImage;
  spec.labels = {{std::string(kFunctionLabel), "leftover"},
                 {std::string(kInstanceLabel), "0-deadbeef"}};
  auto id = test_client().create_container(spec, "");
  ASSERT_TRUE(id) << id.error().message;

  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage, {1, 1, 60}));
  ASSERT_TRUE(variant) << variant.error().message;
  Status cleaned = runtime.cleanup_leftovers();
  ASSERT_TRUE(cleaned) << cleaned.error().message;
  auto leftover = test_client().inspect_container(*id);
  EXPECT_FALSE(leftover);
  // Its own warm container is not a leftover.
  EXPECT_EQ(runtime.warm_containers(**variant), 1U);
  EXPECT_EQ(containers_of(runtime), 1U);
}

TEST(DockerRuntime, ConcurrentColdInvocations) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Runtime runtime(test_options());
  auto variant = runtime.prepare(make_function("fixture", kFixtureImage));
  ASSERT_TRUE(variant) << variant.error().message;
  std::vector<std::future<Result<InvocationResult>>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(std::async(std::launch::async, [&runtime, &variant, i] {
      return runtime.invoke(**variant, make_request("fixture", "call " + std::to_string(i)));
    }));
  }
  for (int i = 0; i < 4; ++i) {
    auto result = calls[static_cast<std::size_t>(i)].get();
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->stdout_data, "call " + std::to_string(i));
  }
  EXPECT_EQ(containers_of(runtime), 0U);
}

TEST(DockerRuntime, ZzNothingLeftBehind) {
  NEBULA_REQUIRE_ENGINE();
  EXPECT_TRUE(containers_of_this_process().empty());
}

}  // namespace
}  // namespace nebula::docker
