#include "wasm/executor.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <time.h>

#include "core/outbound.hpp"

namespace nebula::wasm {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t micros_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

std::int64_t thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// Collects one output stream up to a cap. Called by wasmtime on the thread
// running the guest; lives on execute()'s stack, which outlives the Store.
struct OutputSink {
  std::string data;
  std::uint64_t cap = 0;
  bool exceeded = false;

  static ptrdiff_t write(void* self, const unsigned char* buf, std::size_t len) {
    auto& sink = *static_cast<OutputSink*>(self);
    std::uint64_t room = sink.cap > sink.data.size() ? sink.cap - sink.data.size() : 0;
    if (len > room) {
      sink.data.append(reinterpret_cast<const char*>(buf), room);
      sink.exceeded = true;
      // The guest sees EFBIG; the epoch callback then stops it.
      return -static_cast<ptrdiff_t>(EFBIG);
    }
    sink.data.append(reinterpret_cast<const char*>(buf), len);
    return static_cast<ptrdiff_t>(len);
  }
};

// Shared between execute() and the epoch-deadline callback (same thread).
struct Watch {
  Clock::time_point deadline;
  const OutputSink* out = nullptr;
  const OutputSink* err = nullptr;
  bool timed_out = false;
  bool output_exceeded = false;

  // Called by wasmtime every epoch tick while the guest runs: stops the
  // guest once the deadline has passed or an output cap was hit.
  static wasmtime_error_t* on_epoch(wasmtime_context_t* /*ctx*/, void* self, std::uint64_t* delta,
                                    wasmtime_update_deadline_kind_t* kind) {
    auto& watch = *static_cast<Watch*>(self);
    if ((watch.out != nullptr && watch.out->exceeded) ||
        (watch.err != nullptr && watch.err->exceeded)) {
      watch.output_exceeded = true;
      return wasmtime_error_new("output limit exceeded");
    }
    if (Clock::now() >= watch.deadline) {
      watch.timed_out = true;
      return wasmtime_error_new("timeout");
    }
    *delta = 1;
    *kind = WASMTIME_UPDATE_DEADLINE_CONTINUE;
    return nullptr;
  }
};

// Owns the argv/env C arrays a wasi_config_t copies from.
std::vector<const char*> c_strings(const std::vector<std::string>& items) {
  std::vector<const char*> out;
  out.reserve(items.size());
  for (const auto& s : items) out.push_back(s.c_str());
  return out;
}

Result<OwnedWasiConfig> make_wasi(const ExecSpec& spec, OutputSink& out, OutputSink& err) {
  OwnedWasiConfig wasi(wasi_config_new());
  auto argv = c_strings(spec.argv);
  if (!wasi_config_set_argv(wasi.get(), argv.size(), argv.data())) {
    return make_error(ErrorKind::kInvalidArgument, "argv is not valid UTF-8");
  }
  std::vector<const char*> names;
  std::vector<const char*> values;
  for (const auto& [k, v] : spec.env) {
    names.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  if (!wasi_config_set_env(wasi.get(), names.size(), names.data(), values.data())) {
    return make_error(ErrorKind::kInvalidArgument, "environment is not valid UTF-8");
  }
  if (spec.inherit_stdio) {
    wasi_config_inherit_stdin(wasi.get());
    wasi_config_inherit_stdout(wasi.get());
    wasi_config_inherit_stderr(wasi.get());
  } else {
    wasm_byte_vec_t input;
    wasm_byte_vec_new(&input, spec.stdin_bytes.size(), spec.stdin_bytes.data());
    wasi_config_set_stdin_bytes(wasi.get(), &input);  // takes the vector's bytes
    wasi_config_set_stdout_custom(wasi.get(), &OutputSink::write, &out, nullptr);
    wasi_config_set_stderr_custom(wasi.get(), &OutputSink::write, &err, nullptr);
  }
  for (const auto& dir : spec.preopens) {
    if (!wasi_config_preopen_dir(wasi.get(), dir.host.c_str(), dir.guest.c_str(),
                                 /*fs_mutable=*/!dir.read_only)) {
      return make_error(ErrorKind::kInvalidArgument,
                        "cannot preopen directory " + dir.host.string() + " as " + dir.guest);
    }
  }
  return wasi;
}

// Size of the guest's exported `memory` (linear memory only grows, so this
// is its peak), or 0 when it exports none.
std::uint64_t linear_memory_bytes(wasmtime_context_t* ctx, const wasmtime_instance_t& instance) {
  wasmtime_extern_t item;
  if (!wasmtime_instance_export_get(ctx, &instance, "memory", 6, &item)) return 0;
  std::uint64_t size = 0;
  if (item.kind == WASMTIME_EXTERN_MEMORY) size = wasmtime_memory_data_size(ctx, &item.of.memory);
  wasmtime_extern_delete(&item);
  return size;
}

// Fills result.outcome/exit_code/message from what `_start` returned.
void classify(wasmtime_error_t* error, wasm_trap_t* trap, const Watch& watch, const ExecSpec& spec,
              InvocationResult& result) {
  OwnedError owned_error(error);
  OwnedTrap owned_trap(trap);
  if (watch.timed_out) {
    result.outcome = Outcome::kTimeout;
    result.message = "timed out after " + std::to_string(spec.timeout_ms) + " ms";
    return;
  }
  // A guest may also ignore the failed write and finish before the next
  // epoch tick: the cap was still hit.
  const bool capped = watch.output_exceeded || (watch.out != nullptr && watch.out->exceeded) ||
                      (watch.err != nullptr && watch.err->exceeded);
  if (capped) {
    result.outcome = Outcome::kTrap;
    result.output_truncated = true;
    result.message = "output limit: the function wrote more than " +
                     std::to_string(spec.max_output_bytes) +
                     " bytes to stdout or stderr and was stopped";
    return;
  }
  if (owned_error) {
    int status = 0;
    if (wasmtime_error_exit_status(owned_error.get(), &status)) {
      // proc_exit(n): exit 0 is success like a plain return.
      result.exit_code = status;
      result.outcome = status == 0 ? Outcome::kOk : Outcome::kExit;
      if (status != 0) result.message = "exited with code " + std::to_string(status);
      return;
    }
    std::string message = take_message(owned_error.release());
    // With trap_on_grow_failure, a refused memory.grow surfaces as an error
    // naming the forced growth failure.
    if (message.find("memory") != std::string::npos && message.find("grow") != std::string::npos) {
      result.outcome = Outcome::kMemory;
      result.message = "memory limit: the function tried to grow its memory beyond " +
                       std::to_string(spec.memory_bytes >> 20) + " MiB";
      return;
    }
    result.outcome = Outcome::kTrap;
    result.message = std::move(message);
    return;
  }
  if (owned_trap) {
    result.outcome = Outcome::kTrap;
    std::string message = trap_message(owned_trap.get());
    if (message.find("forcing a memory growth failure") != std::string::npos) {
      result.outcome = Outcome::kMemory;
      result.message = "memory limit: the function tried to grow its memory beyond " +
                       std::to_string(spec.memory_bytes >> 20) + " MiB";
      return;
    }
    result.message = message + "\n" + trap_backtrace(owned_trap.get());
    return;
  }
  result.outcome = Outcome::kOk;
}

// --- components -------------------------------------------------------------

nebula_str_t str(std::string_view s) {
  return nebula_str_t{s.data(), s.size()};
}

std::string_view view(const nebula_bytes_t& b) {
  return {reinterpret_cast<const char*>(b.data), b.len};
}

// Owns the C arrays a nebula_component_spec_t points into.
struct ComponentSpec {
  std::vector<nebula_str_t> argv;
  std::vector<nebula_pair_t> env;
  std::vector<nebula_preopen_t> preopens;
  std::vector<std::string> preopen_hosts;
  OutboundPolicy outbound;
  nebula_component_spec_t raw{};

  explicit ComponentSpec(const ExecSpec& spec) : outbound(spec.allowed_outbound_hosts) {
    for (const auto& a : spec.argv) argv.push_back(str(a));
    for (const auto& [k, v] : spec.env) env.push_back(nebula_pair_t{str(k), str(v)});
    preopen_hosts.reserve(spec.preopens.size());
    for (const auto& p : spec.preopens) {
      preopen_hosts.push_back(p.host.string());
      preopens.push_back(nebula_preopen_t{str(preopen_hosts.back()), str(p.guest), p.read_only});
    }
    raw.argv = argv.data();
    raw.argc = argv.size();
    raw.env = env.data();
    raw.env_count = env.size();
    raw.preopens = preopens.data();
    raw.preopen_count = preopens.size();
    raw.stdin_bytes = str(spec.stdin_bytes);
    raw.inherit_stdio = spec.inherit_stdio;
    raw.memory_bytes = spec.memory_bytes;
    raw.max_output_bytes = spec.max_output_bytes;
    raw.timeout_ms = spec.timeout_ms;
    raw.outbound_policy = &ComponentSpec::allow;
    raw.outbound_ctx = this;
    raw.outbound_timeout_ms = spec.outbound_timeout_ms;
  }
  ComponentSpec(const ComponentSpec&) = delete;
  ComponentSpec& operator=(const ComponentSpec&) = delete;

  // Called by the component runtime on the invoking thread.
  static bool allow(void* self, nebula_str_t scheme, nebula_str_t host, std::uint16_t port) {
    const auto& spec = *static_cast<const ComponentSpec*>(self);
    return spec.outbound.allows(std::string_view(scheme.data, scheme.len),
                                std::string_view(host.data, host.len), port);
  }
};

// Frees a component result on every path.
struct ResultGuard {
  nebula_component_result_t raw{};
  ResultGuard() = default;
  ResultGuard(const ResultGuard&) = delete;
  ResultGuard& operator=(const ResultGuard&) = delete;
  ~ResultGuard() { nebula_component_result_free(&raw); }
};

Result<InvocationResult> host_error(wasmtime_error_t* error) {
  std::string message = take_message(error);
  if (message.find("no free wasm instance slot") != std::string::npos) {
    return make_error(ErrorKind::kOverloaded, std::move(message));
  }
  return make_error(ErrorKind::kInternal, std::move(message));
}

InvocationResult to_result(const nebula_component_result_t& r) {
  InvocationResult result;
  result.cold = true;
  switch (r.outcome) {
    case NEBULA_OUTCOME_OK: result.outcome = Outcome::kOk; break;
    case NEBULA_OUTCOME_EXIT: result.outcome = Outcome::kExit; break;
    case NEBULA_OUTCOME_TIMEOUT: result.outcome = Outcome::kTimeout; break;
    case NEBULA_OUTCOME_MEMORY: result.outcome = Outcome::kMemory; break;
    default: result.outcome = Outcome::kTrap; break;
  }
  result.exit_code = r.exit_code;
  result.output_truncated = r.output_truncated;
  result.timings.startup_us = static_cast<std::int64_t>(r.startup_ns / 1000);
  result.timings.exec_us = static_cast<std::int64_t>(r.exec_ns / 1000);
  result.timings.teardown_us = static_cast<std::int64_t>(r.teardown_ns / 1000);
  result.cpu_us = r.cpu_ns / 1000;
  result.max_memory_bytes = r.max_memory_bytes;
  result.outbound_requests = r.outbound_requests;
  result.outbound_denied = r.outbound_denied;
  result.stdout_data = std::string(view(r.stdout_data));
  result.stderr_data = std::string(view(r.stderr_data));
  result.message = std::string(view(r.message));
  return result;
}

Result<InvocationResult> run_command_component(const Program& program, const ExecSpec& spec) {
  ComponentSpec c_spec(spec);
  ResultGuard out;
  // The epoch advances while the component runs (deadline, output caps).
  Engine::Activity activity(const_cast<Engine&>(program.engine()));
  if (wasmtime_error_t* e = nebula_component_run(program.component(), &c_spec.raw, &out.raw)) {
    return host_error(e);
  }
  return to_result(out.raw);
}

// Hands the component's response to the exchange's sink, counting the body.
struct SinkBridge {
  ResponseSink* sink;
  std::atomic<bool> responded{false};
  std::atomic<std::uint64_t> bytes{0};

  static void on_head(void* self, std::uint16_t status, const nebula_pair_t* headers,
                      std::size_t count) {
    auto& bridge = *static_cast<SinkBridge*>(self);
    HeaderList list;
    list.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      list.emplace_back(std::string(headers[i].name.data, headers[i].name.len),
                        std::string(headers[i].value.data, headers[i].value.len));
    }
    bridge.responded = true;
    if (bridge.sink != nullptr) bridge.sink->head(status, std::move(list));
  }

  static bool on_chunk(void* self, const std::uint8_t* data, std::size_t len) {
    auto& bridge = *static_cast<SinkBridge*>(self);
    bridge.bytes += len;
    if (bridge.sink == nullptr) return true;
    return bridge.sink->body(std::string_view(reinterpret_cast<const char*>(data), len));
  }
};

}  // namespace

Result<InvocationResult> handle_http(const Program& program, const ExecSpec& spec,
                                     const HttpExchange& exchange, std::string_view body) {
  if (program.kind() != WasmKind::kHttp) {
    return make_error(ErrorKind::kInvalidArgument,
                      "this function is a command program, not an HTTP handler");
  }
  ComponentSpec c_spec(spec);
  std::vector<nebula_pair_t> headers;
  headers.reserve(exchange.headers.size());
  for (const auto& [k, v] : exchange.headers) headers.push_back(nebula_pair_t{str(k), str(v)});
  nebula_http_request_t request{};
  request.method = str(exchange.method);
  request.scheme = str(exchange.scheme);
  request.authority = str(exchange.authority);
  request.path_with_query = str(exchange.path_with_query);
  request.headers = headers.data();
  request.header_count = headers.size();
  request.body = str(body);
  SinkBridge bridge{exchange.sink};
  nebula_http_sink_t sink{&bridge, &SinkBridge::on_head, &SinkBridge::on_chunk};

  ResultGuard out;
  Engine::Activity activity(const_cast<Engine&>(program.engine()));
  if (wasmtime_error_t* e =
          nebula_component_handle(program.component(), &c_spec.raw, &request, &sink, &out.raw)) {
    return host_error(e);
  }
  InvocationResult result = to_result(out.raw);
  result.responded = bridge.responded;
  result.body_bytes = bridge.bytes;
  return result;
}

Result<InvocationResult> execute(const Program& program, const ExecSpec& spec) {
  if (program.kind() == WasmKind::kCommand) return run_command_component(program, spec);
  if (program.kind() == WasmKind::kHttp) {
    return make_error(ErrorKind::kInvalidArgument,
                      "this function is an HTTP handler (wasi:http/proxy): invoke it over HTTP");
  }
  const Engine& engine = program.engine();
  InvocationResult result;
  result.cold = true;  // every wasm invocation instantiates afresh

  OutputSink out{.data = {}, .cap = spec.max_output_bytes};
  OutputSink err{.data = {}, .cap = spec.max_output_bytes};
  Watch watch;
  if (!spec.inherit_stdio) {
    watch.out = &out;
    watch.err = &err;
  }

  const auto t_start = Clock::now();
  watch.deadline = t_start + std::chrono::milliseconds(spec.timeout_ms);

  OwnedStore store(wasmtime_store_new(engine.raw(), nullptr, nullptr));
  wasmtime_context_t* ctx = wasmtime_store_context(store.get());
  nebula_store_limit_memory(store.get(), spec.memory_bytes, 1);

  auto wasi = make_wasi(spec, out, err);
  if (!wasi) return std::move(wasi).error();
  if (wasmtime_error_t* e = wasmtime_context_set_wasi(ctx, wasi->release())) {
    return to_error(ErrorKind::kInternal, "cannot set up WASI", e);
  }
  wasmtime_context_set_epoch_deadline(ctx, 1);
  wasmtime_store_epoch_deadline_callback(store.get(), &Watch::on_epoch, &watch, nullptr);

  // Time spent instantiating counts against the deadline too.
  Engine::Activity activity(const_cast<Engine&>(engine));

  wasmtime_instance_t instance;
  wasm_trap_t* trap = nullptr;
  if (wasmtime_error_t* e =
          wasmtime_instance_pre_instantiate(program.instance_pre(), ctx, &instance, &trap)) {
    std::string message = take_message(e);
    // All pooling slots taken: the host is saturated, not the guest broken.
    if (message.find("maximum concurrent") != std::string::npos ||
        message.find("pooling") != std::string::npos) {
      return make_error(ErrorKind::kOverloaded, "no free wasm instance slot: " + message);
    }
    return make_error(ErrorKind::kInternal, "instantiation failed: " + message);
  }
  if (trap != nullptr) {
    // A trap in the start function or data segment initialisation.
    const auto t_fail = Clock::now();
    classify(nullptr, trap, watch, spec, result);
    result.timings.startup_us = micros_between(t_start, t_fail);
    return result;
  }

  wasmtime_extern_t start;
  if (!wasmtime_instance_export_get(ctx, &instance, "_start", 6, &start) ||
      start.kind != WASMTIME_EXTERN_FUNC) {
    return make_error(ErrorKind::kInvalidArgument, "module exports no `_start` function");
  }
  const auto t_ready = Clock::now();
  const std::int64_t cpu_before = thread_cpu_us();

  wasmtime_error_t* call_error =
      wasmtime_func_call(ctx, &start.of.func, nullptr, 0, nullptr, 0, &trap);

  const std::int64_t cpu_after = thread_cpu_us();
  const auto t_done = Clock::now();
  classify(call_error, trap, watch, spec, result);
  result.max_memory_bytes = linear_memory_bytes(ctx, instance);
  result.cpu_us = static_cast<std::uint64_t>(cpu_after - cpu_before);

  store.reset();  // teardown: the instance slot returns to the pool
  const auto t_gone = Clock::now();

  result.stdout_data = std::move(out.data);
  result.stderr_data = std::move(err.data);
  result.timings.startup_us = micros_between(t_start, t_ready);
  result.timings.exec_us = micros_between(t_ready, t_done);
  result.timings.teardown_us = micros_between(t_done, t_gone);
  return result;
}

}  // namespace nebula::wasm
