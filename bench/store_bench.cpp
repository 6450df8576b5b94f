// Costs of the store's hot paths. The server aims at 5,000 invocations/s, so
// add_invocation has a budget of well under 100 µs. Run from a Release build:
//
//   store_bench [--benchmark_filter=AddInvocation]
//
// The database lives in a fresh directory under $NEBULA_BENCH_DIR (default:
// the system temp directory), on the same kind of disk as a real data dir.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdlib.h>
#include <string>
#include <system_error>

#include <benchmark/benchmark.h>

#include "store/blob_store.hpp"
#include "store/invocation_id.hpp"
#include "store/registry.hpp"

namespace nebula::store {
namespace {

namespace fs = std::filesystem;

// A data directory that is removed when the benchmark ends.
class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("NEBULA_BENCH_DIR");
    std::string templ =
        ((base != nullptr ? fs::path(base) : fs::temp_directory_path()) / "nebula-bench-XXXXXX")
            .string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    path_ = templ;
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  ~BenchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A registry with one deployed function, "bench".
struct Fixture {
  explicit Fixture(std::size_t max_records) {
    RegistryOptions options;
    options.max_records_per_function = max_records;
    auto opened = Registry::open(dir.path(), options);
    if (!opened) std::abort();
    registry = std::move(opened).value();
    Function f;
    f.name = "bench";
    f.manifest.wasm_module = "sha256:" + std::string(64, 'a');
    if (!registry->put_function(f)) std::abort();
  }

  BenchDir dir;
  std::unique_ptr<Registry> registry;
};

// A record as the invoker writes it: every field set, a short stderr tail.
InvocationRecord typical_record() {
  InvocationRecord r;
  r.id = new_invocation_id();
  r.function = "bench";
  r.runtime = RuntimeKind::kWasm;
  r.outcome = Outcome::kOk;
  r.cold = true;
  r.timings = Timings{12, 45, 830, 20, 960};
  r.cpu_us = 810;
  r.max_memory_bytes = 1ULL << 20;
  r.input_bytes = 64;
  r.output_bytes = 128;
  r.started_at_us = 1'700'000'000'000'000;
  r.stderr_tail = "computing fibonacci(30)\n";
  return r;
}

void add_records(Registry& registry, int n) {
  for (int i = 0; i < n; ++i) {
    auto r = typical_record();
    if (!registry.add_invocation(r)) std::abort();
  }
}

// Steady state of a busy function: the log is full, so every insert also
// prunes the oldest record.
void BM_AddInvocation(benchmark::State& state) {
  Fixture fx(1000);
  add_records(*fx.registry, 1000);
  for (auto _ : state) {
    auto r = typical_record();
    auto st = fx.registry->add_invocation(r);
    if (!st) state.SkipWithError(st.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddInvocation)->Unit(benchmark::kMicrosecond);

// The same without pruning (a log that is not yet full).
void BM_AddInvocationNoPrune(benchmark::State& state) {
  Fixture fx(100'000'000);
  for (auto _ : state) {
    auto r = typical_record();
    auto st = fx.registry->add_invocation(r);
    if (!st) state.SkipWithError(st.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddInvocationNoPrune)->Unit(benchmark::kMicrosecond);

// Several worker threads recording at once, as the invoker's pool does; they
// serialise on the registry's mutex, so this shows the throughput ceiling.
std::unique_ptr<Fixture> g_shared;

void BM_AddInvocationThreads(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_shared = std::make_unique<Fixture>(1000);
    add_records(*g_shared->registry, 1000);
  }
  // Google Benchmark starts the timed loop of all threads together, after
  // thread 0's set-up above.
  for (auto _ : state) {
    auto r = typical_record();
    auto st = g_shared->registry->add_invocation(r);
    if (!st) state.SkipWithError(st.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) g_shared.reset();
}
BENCHMARK(BM_AddInvocationThreads)->Threads(4)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The dashboard's and the API's default page.
void BM_ListInvocations(benchmark::State& state) {
  Fixture fx(1000);
  add_records(*fx.registry, 1000);
  InvocationQuery q;
  q.function = "bench";
  q.limit = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto page = fx.registry->list_invocations(q);
    if (!page) state.SkipWithError(page.error().message.c_str());
    benchmark::DoNotOptimize(page);
  }
}
BENCHMARK(BM_ListInvocations)->Arg(50)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_GetInvocation(benchmark::State& state) {
  Fixture fx(1000);
  add_records(*fx.registry, 999);
  const auto r = typical_record();
  if (!fx.registry->add_invocation(r)) std::abort();
  for (auto _ : state) {
    auto back = fx.registry->get_invocation(r.id);
    if (!back) state.SkipWithError(back.error().message.c_str());
    benchmark::DoNotOptimize(back);
  }
}
BENCHMARK(BM_GetInvocation)->Unit(benchmark::kMicrosecond);

void BM_FunctionStats(benchmark::State& state) {
  Fixture fx(1000);
  add_records(*fx.registry, 1000);
  for (auto _ : state) {
    auto stats = fx.registry->function_stats("bench");
    if (!stats) state.SkipWithError(stats.error().message.c_str());
    benchmark::DoNotOptimize(stats);
  }
}
BENCHMARK(BM_FunctionStats)->Unit(benchmark::kMicrosecond);

void BM_NewInvocationId(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(new_invocation_id());
}
BENCHMARK(BM_NewInvocationId);

// A module upload: hash, temp file, two fsyncs, rename. Disk-bound.
void BM_BlobPut(benchmark::State& state) {
  BenchDir dir;
  auto store = BlobStore::open(dir.path());
  if (!store) std::abort();
  std::string bytes(static_cast<std::size_t>(state.range(0)), 'x');
  std::uint64_t n = 0;
  for (auto _ : state) {
    // Distinct content each time, or put would find the blob and skip.
    bytes.replace(0, sizeof n, reinterpret_cast<const char*>(&n), sizeof n);
    ++n;
    auto digest = store->put(bytes);
    if (!digest) state.SkipWithError(digest.error().message.c_str());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BlobPut)->Arg(64 << 10)->Arg(4 << 20)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace nebula::store

BENCHMARK_MAIN();
