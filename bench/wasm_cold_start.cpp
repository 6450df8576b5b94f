// Cold start of wasm functions in-process, Nebula's path against the naive
// path of the original prototype, in one run on the same modules.
//
//   nebula path: one pooled Engine, an InstancePre per function; per call a
//                fresh Store + WASI context + instantiate.
//   naive path:  per call a new Engine + Linker + deserialize the compiled
//                module + Store + instantiate (what the prototype did).
//
// Usage: wasm_cold_start [--runs N] [--dir EXAMPLES_DIR] [name[:input]]...
// Prints per function startup p50/p99 and whole-invocation p50 for both
// paths, and the ratio naive/nebula.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/files.hpp"
#include "wasm/engine.hpp"
#include "wasm/executor.hpp"
#include "wasm/module.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nebula::wasm::Engine;
using nebula::wasm::ExecSpec;
using nebula::wasm::Module;
using nebula::wasm::Program;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// wasmtime_error_delete must not be given NULL (success).
void drop_error(wasmtime_error_t* error) {
  if (error != nullptr) wasmtime_error_delete(error);
}

ptrdiff_t discard(void*, const unsigned char*, std::size_t len) {
  return static_cast<ptrdiff_t>(len);
}

// The prototype's path: everything rebuilt per call. Returns {startup, total} µs.
std::pair<double, double> naive_call(const std::string& serialized, const std::string& input) {
  const auto t0 = Clock::now();
  wasm_engine_t* engine = wasm_engine_new();
  wasmtime_module_t* module = nullptr;
  wasmtime_error_t* err = wasmtime_module_deserialize(
      engine, reinterpret_cast<const std::uint8_t*>(serialized.data()), serialized.size(), &module);
  if (err != nullptr) {
    std::fprintf(stderr, "naive: deserialize failed\n");
    std::exit(1);
  }
  wasmtime_linker_t* linker = wasmtime_linker_new(engine);
  drop_error(wasmtime_linker_define_wasi(linker));
  wasmtime_store_t* store = wasmtime_store_new(engine, nullptr, nullptr);
  wasmtime_context_t* ctx = wasmtime_store_context(store);
  wasi_config_t* wasi = wasi_config_new();
  wasm_byte_vec_t in;
  wasm_byte_vec_new(&in, input.size(), input.data());
  wasi_config_set_stdin_bytes(wasi, &in);
  wasi_config_set_stdout_custom(wasi, discard, nullptr, nullptr);
  wasi_config_set_stderr_custom(wasi, discard, nullptr, nullptr);
  drop_error(wasmtime_context_set_wasi(ctx, wasi));
  wasmtime_instance_t instance;
  wasm_trap_t* trap = nullptr;
  err = wasmtime_linker_instantiate(linker, ctx, module, &instance, &trap);
  if (err != nullptr || trap != nullptr) {
    std::fprintf(stderr, "naive: instantiate failed\n");
    std::exit(1);
  }
  wasmtime_extern_t start;
  wasmtime_instance_export_get(ctx, &instance, "_start", 6, &start);
  const auto t1 = Clock::now();
  err = wasmtime_func_call(ctx, &start.of.func, nullptr, 0, nullptr, 0, &trap);
  drop_error(err);  // proc_exit(0) arrives as an error
  if (trap != nullptr) wasm_trap_delete(trap);
  wasmtime_store_delete(store);
  wasmtime_linker_delete(linker);
  wasmtime_module_delete(module);
  wasm_engine_delete(engine);
  const auto t2 = Clock::now();
  return {us_between(t0, t1), us_between(t0, t2)};
}

struct Case {
  std::string name;
  std::string input;
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 2000;
  int naive_runs = 100;
  std::string dir = NEBULA_EXAMPLES_DIR;
  std::vector<Case> cases;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (arg == "--naive-runs" && i + 1 < argc) {
      naive_runs = std::atoi(argv[++i]);
    } else if (arg == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      auto colon = arg.find(':');
      cases.push_back(
          {arg.substr(0, colon), colon == std::string::npos ? "" : arg.substr(colon + 1)});
    }
  }
  if (cases.empty())
    cases = {{"hello", ""}, {"echo", "ping"}, {"fibonacci", "30"}, {"factorial", "100"}};

  auto engine = Engine::create();
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.error().message.c_str());
    return 1;
  }
  std::printf("wasm cold start, in-process (%d runs; naive %d runs)\n\n", runs, naive_runs);
  std::printf("%-20s %10s %10s %12s | %12s %12s %12s | %8s\n", "function", "start p50", "start p99",
              "invoke p50", "naive st p50", "naive st p99", "naive inv p50", "ratio");
  std::printf("%-20s %10s %10s %12s | %12s %12s %12s | %8s\n", "", "µs", "µs", "µs", "µs", "µs",
              "µs", "st p50");
  for (const auto& c : cases) {
    std::string path = dir + "/" + c.name + ".wasm";
    std::string bytes = nebula::base::read_file(path).value_or("");
    if (bytes.empty()) {
      std::fprintf(stderr, "cannot read %s (build the examples first)\n", path.c_str());
      return 1;
    }
    auto module = Module::compile(**engine, bytes);
    if (!module) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), module.error().message.c_str());
      return 1;
    }
    auto program = Program::link(**engine, std::move(*module));
    if (!program) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), program.error().message.c_str());
      return 1;
    }
    ExecSpec spec;
    spec.argv = {c.name};
    spec.stdin_bytes = c.input;
    std::vector<double> startup;
    std::vector<double> whole;
    for (int i = 0; i < runs / 10; ++i) (void)nebula::wasm::execute(**program, spec);  // warm-up
    for (int i = 0; i < runs; ++i) {
      auto r = nebula::wasm::execute(**program, spec);
      if (!r || r->outcome != nebula::Outcome::kOk) {
        std::fprintf(stderr, "%s failed: %s\n", c.name.c_str(),
                     r ? r->message.c_str() : r.error().message.c_str());
        return 1;
      }
      startup.push_back(static_cast<double>(r->timings.startup_us));
      whole.push_back(
          static_cast<double>(r->timings.startup_us + r->timings.exec_us + r->timings.teardown_us));
    }

    // The naive path deserializes an artifact made by a default engine.
    wasm_engine_t* plain = wasm_engine_new();
    wasmtime_module_t* plain_module = nullptr;
    wasmtime_error_t* err = wasmtime_module_new(
        plain, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), &plain_module);
    if (err != nullptr) return 1;
    wasm_byte_vec_t ser;
    drop_error(wasmtime_module_serialize(plain_module, &ser));
    std::string serialized(ser.data, ser.size);
    wasm_byte_vec_delete(&ser);
    wasmtime_module_delete(plain_module);
    wasm_engine_delete(plain);

    std::vector<double> naive_startup;
    std::vector<double> naive_whole;
    for (int i = 0; i < naive_runs; ++i) {
      auto [st, tot] = naive_call(serialized, c.input);
      naive_startup.push_back(st);
      naive_whole.push_back(tot);
    }
    double p50 = percentile(startup, 50);
    std::printf("%-20s %10.1f %10.1f %12.1f | %12.1f %12.1f %12.1f | %7.0fx\n", c.name.c_str(), p50,
                percentile(startup, 99), percentile(whole, 50), percentile(naive_startup, 50),
                percentile(naive_startup, 99), percentile(naive_whole, 50),
                percentile(naive_startup, 50) / p50);
  }
  std::printf(
      "\nstart = Store + WASI context + instantiate until _start is called;\n"
      "invoke = start + exec + teardown. ratio = naive start p50 / nebula start p50.\n");

  // The same functions as components: wasi:cli/command twins of the
  // modules, and the wasi:http hello, each through the component path.
  std::printf("\ncomponents, in-process (%d runs): start = store + WASI (and HTTP) context + "
              "instantiate\n\n",
              runs);
  std::printf("%-26s %10s %10s %12s\n", "component", "start p50", "start p99", "invoke p50");
  struct ComponentCase {
    std::string label;
    std::string path;
    std::string input;
    bool http;
  };
  std::vector<ComponentCase> components;
  for (const auto& c : cases) {
    components.push_back({c.name + " (command)", dir + "/components/" + c.name + ".wasm", c.input,
                          false});
  }
  components.push_back({"http-hello (wasi:http)", dir + "/http/http-hello.wasm", "", true});
  for (const auto& c : components) {
    auto bytes = nebula::base::read_file(c.path);
    if (!bytes) {
      std::printf("%-26s (not built: %s)\n", c.label.c_str(), c.path.c_str());
      continue;
    }
    auto module = Module::compile(**engine, *bytes);
    auto program = module ? Program::link(**engine, std::move(*module))
                          : nebula::Result<std::shared_ptr<const Program>>(module.error());
    if (!program) {
      std::fprintf(stderr, "%s: %s\n", c.path.c_str(), program.error().message.c_str());
      return 1;
    }
    ExecSpec spec;
    spec.argv = {c.label};
    spec.stdin_bytes = c.input;
    nebula::HttpExchange exchange;
    exchange.authority = "localhost";
    auto once = [&]() {
      return c.http ? nebula::wasm::handle_http(**program, spec, exchange, "")
                    : nebula::wasm::execute(**program, spec);
    };
    std::vector<double> startup;
    std::vector<double> whole;
    for (int i = 0; i < runs / 10; ++i) (void)once();
    for (int i = 0; i < runs; ++i) {
      auto r = once();
      if (!r || r->outcome != nebula::Outcome::kOk) {
        std::fprintf(stderr, "%s failed: %s\n", c.label.c_str(),
                     r ? r->message.c_str() : r.error().message.c_str());
        return 1;
      }
      startup.push_back(static_cast<double>(r->timings.startup_us));
      whole.push_back(
          static_cast<double>(r->timings.startup_us + r->timings.exec_us + r->timings.teardown_us));
    }
    std::printf("%-26s %10.1f %10.1f %12.1f\n", c.label.c_str(), percentile(startup, 50),
                percentile(startup, 99), percentile(whole, 50));
  }
  return 0;
}
