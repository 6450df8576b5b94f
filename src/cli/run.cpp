#include "cli/run.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "base/console.hpp"
#include "base/files.hpp"
#include "base/format.hpp"
#include "core/invocation.hpp"
#include "service/platform.hpp"
#include "store/blob_store.hpp"
#include "wasm/engine.hpp"
#include "wasm/executor.hpp"
#include "wasm/module.hpp"
#include "wasm/module_cache.hpp"

namespace nebula::cli {
namespace {

using Clock = std::chrono::steady_clock;

using base::fail;

// Where `nebula run` keeps compiled modules: the cache directory's run/.
std::filesystem::path cache_dir() {
  const auto base = base::cache_dir();
  return base.empty() ? base : base / "run";
}

// The module for `bytes`: from the compiled cache when this engine build
// compiled it before (a memory map, no compilation), else compiled now and
// cached for the next run, the way the server keeps its modules. `cached`
// says which. A cache that cannot be opened only costs the compilation.
Result<wasm::Module> load_module(const wasm::Engine& engine, const std::string& bytes,
                                 bool& cached) {
  cached = false;
  auto digest = store::sha256_digest(bytes);
  const auto dir = cache_dir();
  if (!digest || dir.empty()) return wasm::Module::compile(engine, bytes);
  auto blobs = store::BlobStore::open(dir);
  if (!blobs) return wasm::Module::compile(engine, bytes);
  wasm::ModuleCache cache(engine,
                          service::compiled_artifacts(*blobs, wasm::Engine::compatibility_key()));
  bool compiled = false;
  auto module = cache.load(*digest, wasm::is_component_binary(bytes),
                           [&bytes, &compiled]() -> Result<std::string> {
    compiled = true;
    return bytes;
  });
  cached = module.has_value() && !compiled;
  return module;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int run_module(const RunOptions& options) {
  std::string bytes;
  if (!read_file(options.module_path, bytes)) {
    fail("cannot read " + options.module_path + ": no such file or not readable");
    return kExitUsage;
  }

  wasm::ExecSpec spec;
  spec.inherit_stdio = true;
  spec.memory_bytes = static_cast<std::uint64_t>(options.memory_mb) << 20;
  spec.timeout_ms =
      options.timeout_ms == 0 ? std::numeric_limits<std::uint32_t>::max() : options.timeout_ms;
  spec.argv.push_back(options.module_path);
  spec.argv.insert(spec.argv.end(), options.args.begin(), options.args.end());
  for (const auto& kv : options.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      fail("--env expects KEY=VALUE, got '" + kv + "'");
      return kExitUsage;
    }
    spec.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (std::string dir : options.dirs) {
    wasm::Preopen preopen;
    if (dir.size() > 3 && dir.ends_with(":ro")) {
      preopen.read_only = true;
      dir.resize(dir.size() - 3);
    }
    auto sep = dir.find("::");
    if (sep == std::string::npos) {
      preopen.host = dir;
      preopen.guest = dir;
    } else {
      preopen.host = dir.substr(0, sep);
      preopen.guest = dir.substr(sep + 2);
    }
    if (preopen.host.empty() || preopen.guest.empty()) {
      fail("--dir expects HOST::GUEST, got '" + dir + "'");
      return kExitUsage;
    }
    spec.preopens.push_back(std::move(preopen));
  }

  wasm::EngineOptions engine_options;
  engine_options.max_instances = 2;
  engine_options.pooling = false;
  engine_options.max_memory_bytes = std::max<std::uint64_t>(spec.memory_bytes, 64ULL << 10);
  auto engine = wasm::Engine::create(engine_options);
  if (!engine) {
    fail(engine.error().message);
    return kExitTrap;
  }

  const auto t0 = Clock::now();
  bool cached = false;
  auto module = load_module(**engine, bytes, cached);
  if (!module) {
    fail(options.module_path + ": " + module.error().message);
    return kExitUsage;
  }
  auto program = wasm::Program::link(**engine, std::move(*module));
  if (!program) {
    fail(options.module_path + ": " + program.error().message);
    return kExitUsage;
  }
  const auto load_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();

  if ((*program)->kind() == WasmKind::kHttp) {
    fail(options.module_path +
         " is an HTTP handler (it exports wasi:http/incoming-handler): serve it with "
         "`nebula serve-one " + options.module_path + "`");
    return kExitUsage;
  }
  auto result = wasm::execute(**program, spec);
  if (!result) {
    fail(result.error().message);
    return kExitTrap;
  }
  std::fflush(stdout);
  if (options.timings) {
    std::fprintf(stderr,
                 "nebula: %s %s, startup %s, exec %s, teardown %s, cpu %s, memory %.1f MiB, "
                 "outcome %s\n",
                 cached ? "load (cached)" : "compile", base::format_us(static_cast<double>(load_us)).c_str(),
                 base::format_us(static_cast<double>(result->timings.startup_us)).c_str(),
                 base::format_us(static_cast<double>(result->timings.exec_us)).c_str(),
                 base::format_us(static_cast<double>(result->timings.teardown_us)).c_str(),
                 base::format_us(static_cast<double>(result->cpu_us.value_or(0))).c_str(),
                 static_cast<double>(result->max_memory_bytes.value_or(0)) / (1024.0 * 1024.0),
                 to_string(result->outcome));
  }
  switch (result->outcome) {
    case Outcome::kOk:
    case Outcome::kExit: return result->exit_code;
    case Outcome::kTimeout: fail(result->message); return kExitTimeout;
    case Outcome::kMemory: fail(result->message); return kExitMemory;
    case Outcome::kTrap:
    case Outcome::kRejected: fail("wasm trap: " + result->message); return kExitTrap;
  }
  return kExitTrap;
}

}  // namespace nebula::cli
