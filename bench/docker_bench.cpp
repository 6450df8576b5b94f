// docker_bench: Nebula's container paths against the docker CLI.
//
//   1. cold: Runtime::invoke_cold vs `docker run --rm -i --network none
//      <image>`, interleaved (ours, CLI, ours, CLI, …) so that both see the
//      same engine state, N runs each;
//   2. warm: Runtime::invoke_warm through a one-container pool, M runs.
//
// Every figure is wall time on the monotonic clock around the whole call, as
// a client would see it; Nebula's own phases are printed beside it.
//
//   docker_bench [--image nebula-fn-hello:latest] [--body TEXT] [--cold N]
//                [--warm M] [--socket PATH] [--watchdog PATH]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/subprocess.hpp"
#include "docker/runtime.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string image = "nebula-fn-hello:latest";
  std::string body = "world";
  int cold_runs = 20;
  int warm_runs = 200;
  std::string socket = "/var/run/docker.sock";
  std::string watchdog = NEBULA_WATCHDOG_PATH;
};

double ms(std::int64_t us) {
  return static_cast<double>(us) / 1000.0;
}

std::int64_t micros_since(Clock::time_point begin) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count();
}

// The p-th percentile (nearest rank) of a sample.
std::int64_t percentile(std::vector<std::int64_t> sample, double p) {
  if (sample.empty()) return 0;
  std::sort(sample.begin(), sample.end());
  const auto rank =
      static_cast<std::size_t>(p / 100.0 * static_cast<double>(sample.size() - 1) + 0.5);
  return sample[std::min(rank, sample.size() - 1)];
}

void print_row(const char* name, const std::vector<std::int64_t>& sample) {
  std::printf("  %-22s p50 %9.3f ms   p90 %9.3f ms   p99 %9.3f ms   (n=%zu)\n", name,
              ms(percentile(sample, 50)), ms(percentile(sample, 90)), ms(percentile(sample, 99)),
              sample.size());
}

// Runs `docker run --rm -i --network none <image>` with `body` on stdin and
// returns its wall time in µs, or -1 if it failed. The function's log lines
// on stderr are dropped: they would interleave with the report.
std::int64_t run_cli(const Options& options, std::string& output) {
  nebula::base::RunOptions run_options;
  run_options.input = options.body;
  const std::vector<std::string> argv = {"docker",    "-H",   "unix://" + options.socket,
                                         "run",       "--rm", "-i",
                                         "--network", "none", options.image};
  const Clock::time_point begin = Clock::now();
  auto done = nebula::base::run(argv, run_options);
  const std::int64_t elapsed = micros_since(begin);
  if (!done || done->status != 0) return -1;
  output = std::move(done->out);
  return elapsed;
}

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "docker_bench: %s needs a value\n", flag.c_str());
      return false;
    }
    const std::string value = argv[++i];
    if (flag == "--image") {
      options.image = value;
    } else if (flag == "--body") {
      options.body = value;
    } else if (flag == "--cold") {
      options.cold_runs = std::atoi(value.c_str());
    } else if (flag == "--warm") {
      options.warm_runs = std::atoi(value.c_str());
    } else if (flag == "--socket") {
      options.socket = value;
    } else if (flag == "--watchdog") {
      options.watchdog = value;
    } else {
      std::fprintf(stderr, "docker_bench: unknown flag %s\n", flag.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) return 2;

  nebula::docker::RuntimeOptions runtime_options;
  runtime_options.client.socket_path = options.socket;
  runtime_options.watchdog_path = options.watchdog;
  nebula::docker::Runtime runtime(runtime_options);
  if (nebula::Status ping = runtime.ping(); !ping) {
    std::fprintf(stderr, "docker_bench: %s\n", ping.error().message.c_str());
    return 1;
  }

  nebula::Function cold_fn;
  cold_fn.name = "bench-cold";
  cold_fn.manifest.docker_image = options.image;
  nebula::Function warm_fn = cold_fn;
  warm_fn.name = "bench-warm";
  warm_fn.manifest.docker_pool = {1, 1, 600};
  auto cold = runtime.prepare(cold_fn);
  auto warm = runtime.prepare(warm_fn);
  for (const auto* prepared : {&cold, &warm}) {
    if (!*prepared) {
      std::fprintf(stderr, "docker_bench: %s\n", prepared->error().message.c_str());
      return 1;
    }
  }
  nebula::InvocationRequest request;
  request.body = options.body;

  std::printf("docker_bench: image %s, body %zu bytes\n\n", options.image.c_str(),
              options.body.size());

  // --- cold, interleaved with the CLI ---
  std::vector<std::int64_t> ours;
  std::vector<std::int64_t> cli;
  std::vector<std::int64_t> startup;
  std::vector<std::int64_t> exec;
  std::vector<std::int64_t> teardown;
  std::vector<std::int64_t> cpu;
  std::vector<std::int64_t> memory;
  request.function = cold_fn.name;
  std::string cli_output;
  std::string first_output;
  // One untimed round each, so that neither pays for a cold page cache.
  (void)runtime.invoke(**cold, request);
  (void)run_cli(options, cli_output);
  for (int i = 0; i < options.cold_runs; ++i) {
    const Clock::time_point begin = Clock::now();
    auto result = runtime.invoke(**cold, request);
    const std::int64_t elapsed = micros_since(begin);
    if (!result || result->outcome != nebula::Outcome::kOk) {
      std::fprintf(stderr, "docker_bench: cold invocation failed: %s\n",
                   result ? result->message.c_str() : result.error().message.c_str());
      return 1;
    }
    if (i == 0) first_output = result->stdout_data;
    ours.push_back(elapsed);
    startup.push_back(result->timings.startup_us);
    exec.push_back(result->timings.exec_us);
    teardown.push_back(result->timings.teardown_us);
    cpu.push_back(static_cast<std::int64_t>(result->cpu_us.value_or(0)));
    memory.push_back(static_cast<std::int64_t>(result->max_memory_bytes.value_or(0)));

    const std::int64_t cli_us = run_cli(options, cli_output);
    if (cli_us < 0) {
      std::fprintf(stderr, "docker_bench: `docker run` failed\n");
      return 1;
    }
    cli.push_back(cli_us);
  }
  if (cli_output != first_output) {
    std::fprintf(stderr, "docker_bench: warning: the CLI answered %zu bytes, Nebula %zu\n",
                 cli_output.size(), first_output.size());
  }
  std::printf("cold start (one container per invocation), wall time per invocation:\n");
  print_row("nebula cold invoke", ours);
  print_row("docker run --rm -i", cli);
  std::printf("  ratio nebula/cli:      p50 %.2fx   p90 %.2fx\n",
              static_cast<double>(percentile(ours, 50)) / static_cast<double>(percentile(cli, 50)),
              static_cast<double>(percentile(ours, 90)) / static_cast<double>(percentile(cli, 90)));
  std::printf(
      "  nebula phases:         startup p50 %.3f ms, exec p50 %.3f ms, teardown p50 %.3f ms\n",
      ms(percentile(startup, 50)), ms(percentile(exec, 50)), ms(percentile(teardown, 50)));
  std::printf("  container cgroup:      cpu p50 %.3f ms, peak memory p50 %.2f MiB\n\n",
              ms(percentile(cpu, 50)),
              static_cast<double>(percentile(memory, 50)) / (1024.0 * 1024.0));

  // --- warm ---
  request.function = warm_fn.name;
  std::vector<std::int64_t> warm_total;
  std::vector<std::int64_t> warm_exec;
  std::vector<std::int64_t> warm_cpu;
  int cold_starts = 0;
  for (int i = 0; i < 5; ++i) (void)runtime.invoke(**warm, request);  // settle
  for (int i = 0; i < options.warm_runs; ++i) {
    const Clock::time_point begin = Clock::now();
    auto result = runtime.invoke(**warm, request);
    const std::int64_t elapsed = micros_since(begin);
    if (!result || result->outcome != nebula::Outcome::kOk) {
      std::fprintf(stderr, "docker_bench: warm invocation failed: %s\n",
                   result ? result->message.c_str() : result.error().message.c_str());
      return 1;
    }
    if (result->cold) ++cold_starts;
    warm_total.push_back(elapsed);
    warm_exec.push_back(result->timings.exec_us);
    warm_cpu.push_back(static_cast<std::int64_t>(result->cpu_us.value_or(0)));
  }
  std::printf("warm pool (one container, %d cold start(s) among the runs):\n", cold_starts);
  print_row("nebula invoke_warm", warm_total);
  print_row("  exec phase", warm_exec);
  std::printf("  function cpu (rusage): p50 %.3f ms\n", ms(percentile(warm_cpu, 50)));
  return 0;
}
