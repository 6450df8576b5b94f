#include "wasm/executor.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "wasm_fixture.hpp"

namespace nebula::wasm {
namespace {

using testing::WasmTest;

constexpr const char* kEndlessLoop = R"((module
  (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l)))))";

constexpr const char* kGrowForever = R"((module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $l (drop (memory.grow (i32.const 16))) (br $l)))))";

constexpr const char* kUnreachable = R"((module
  (memory (export "memory") 1)
  (func $inner unreachable)
  (func (export "_start") (call $inner))))";

constexpr const char* kExit3 = R"((module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 3)))))";

// Writes the 4,096 bytes at address 1024 to stdout forever.
constexpr const char* kStdoutFlood = R"((module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 4096))
    (loop $l
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
      (br $l)))))";

TEST_F(WasmTest, EchoesStdinArgsAndEnv) {
  auto program = guest("echo_env");
  ASSERT_TRUE(program);
  ExecSpec spec;
  spec.stdin_bytes = "hello nebula";
  spec.argv = {"echo_env", "--flag"};
  spec.env = {{"NEBULA_KEY", "v1"}, {"REQUEST_METHOD", "POST"}, {"OTHER", "hidden"}};
  auto r = run(*program, spec);
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_data, "hello nebula\narg:--flag\nenv:NEBULA_KEY=v1\nenv:REQUEST_METHOD=POST");
  EXPECT_EQ(r.stderr_data, "echo_env done\n");
  EXPECT_TRUE(r.cold);
  EXPECT_GT(r.timings.startup_us, 0);
  EXPECT_GE(r.timings.exec_us, 0);
  EXPECT_GT(r.max_memory_bytes.value_or(0), 0U);
}

TEST_F(WasmTest, EndlessLoopTimesOut) {
  auto program = link(kEndlessLoop);
  ASSERT_TRUE(program);
  ExecSpec spec;
  spec.timeout_ms = 100;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run(*program, spec);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.outcome, Outcome::kTimeout);
  EXPECT_NE(r.message.find("100 ms"), std::string::npos) << r.message;
  // Stopped by the deadline, not by the 10 s default or never.
  EXPECT_GE(elapsed, std::chrono::milliseconds(100));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(WasmTest, UnboundedMemoryGrowHitsTheLimit) {
  auto program = link(kGrowForever);
  ASSERT_TRUE(program);
  ExecSpec spec;
  spec.memory_bytes = 8ULL << 20;
  auto r = run(*program, spec);
  EXPECT_EQ(r.outcome, Outcome::kMemory) << r.message;
  EXPECT_NE(r.message.find("8 MiB"), std::string::npos) << r.message;
  EXPECT_LE(r.max_memory_bytes.value_or(0), 8ULL << 20);
}

TEST_F(WasmTest, MallocUntilFailureHitsTheLimit) {
  auto program = guest("malloc_until_failure");
  ASSERT_TRUE(program);
  ExecSpec spec;
  spec.memory_bytes = 16ULL << 20;
  auto r = run(*program, spec);
  EXPECT_EQ(r.outcome, Outcome::kMemory) << r.message << r.stdout_data;
  EXPECT_GT(r.max_memory_bytes.value_or(0), 8ULL << 20);
  EXPECT_LE(r.max_memory_bytes.value_or(0), 16ULL << 20);
}

TEST_F(WasmTest, UnreachableTrapsWithMessageAndBacktrace) {
  auto program = link(kUnreachable);
  ASSERT_TRUE(program);
  auto r = run(*program);
  EXPECT_EQ(r.outcome, Outcome::kTrap);
  EXPECT_NE(r.message.find("unreachable"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("#0 func[0]"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("#1 func[1]"), std::string::npos) << r.message;
}

TEST_F(WasmTest, ProcExitReportsTheCode) {
  auto program = link(kExit3);
  ASSERT_TRUE(program);
  auto r = run(*program);
  EXPECT_EQ(r.outcome, Outcome::kExit);
  EXPECT_EQ(r.exit_code, 3);
}

TEST_F(WasmTest, StdoutFloodIsCappedAndStopped) {
  auto program = link(kStdoutFlood);
  ASSERT_TRUE(program);
  ExecSpec spec;
  spec.max_output_bytes = 100'000;
  spec.timeout_ms = 10'000;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run(*program, spec);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.outcome, Outcome::kTrap);
  EXPECT_TRUE(r.output_truncated);
  EXPECT_EQ(r.stdout_data.size(), 100'000U);
  EXPECT_NE(r.message.find("output limit"), std::string::npos) << r.message;
  // Stopped by the cap, long before the timeout.
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(WasmTest, HostFilesystemIsInvisible) {
  auto program = guest("open_host_file");
  ASSERT_TRUE(program);
  auto r = run(*program);
  EXPECT_EQ(r.outcome, Outcome::kOk) << r.stdout_data;
  EXPECT_EQ(r.stdout_data.rfind("denied:", 0), 0U) << r.stdout_data;
}

TEST_F(WasmTest, NothingLeaksBetweenInvocations) {
  auto program = guest("counter");
  ASSERT_TRUE(program);
  for (int i = 0; i < 5; ++i) {
    auto r = run(*program);
    EXPECT_EQ(r.stdout_data, "1 1\n") << "invocation " << i;
  }
}

TEST_F(WasmTest, ManyThreadsManyInvocationsAllAnsweredRight) {
  auto program = guest("echo_env");
  ASSERT_TRUE(program);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::atomic<int> wrong{0};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&program, &wrong, &ok, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string input = "thread " + std::to_string(t) + " call " + std::to_string(i);
        ExecSpec spec;
        spec.argv = {"echo_env"};
        spec.stdin_bytes = input;
        auto r = execute(*program, spec);
        if (r && r->outcome == Outcome::kOk && r->stdout_data == input) {
          ok.fetch_add(1);
        } else {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
}

TEST_F(WasmTest, InvalidModuleBytesGiveAClearError) {
  auto garbage = Module::compile(engine(), std::string("\0asm\x01\x00\x00\x00\xff\xff", 10));
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(garbage.error().message.find("invalid WebAssembly module"), std::string::npos);

  auto empty = Module::compile(engine(), "");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos);

  auto text = Module::compile(engine(), "this is not wasm");
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message.find("not a WebAssembly module"), std::string::npos);
}

TEST_F(WasmTest, ReactorWithoutStartIsRejectedAtLink) {
  auto module = Module::compile(engine(), "(module (func (export \"run\")))");
  ASSERT_TRUE(module);
  auto program = Program::link(engine(), std::move(*module));
  ASSERT_FALSE(program);
  EXPECT_NE(program.error().message.find("_start"), std::string::npos);
}

TEST_F(WasmTest, UnknownImportsAreRejectedAtLink) {
  auto module = Module::compile(
      engine(), R"((module (import "env" "secret" (func)) (func (export "_start"))))");
  ASSERT_TRUE(module);
  auto program = Program::link(engine(), std::move(*module));
  ASSERT_FALSE(program);
  EXPECT_NE(program.error().message.find("WASI preview 1"), std::string::npos)
      << program.error().message;
}

}  // namespace
}  // namespace nebula::wasm
