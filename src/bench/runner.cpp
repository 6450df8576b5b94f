#include "bench/runner.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "base/console.hpp"
#include "base/files.hpp"
#include "base/subprocess.hpp"
#include "bench/calls.hpp"
#include "bench/charts.hpp"
#include "bench/machine.hpp"
#include "bench/model.hpp"
#include "bench/report.hpp"
#include "bench/server_child.hpp"
#include "bench/server_info.hpp"
#include "bench/support.hpp"
#include "http/client.hpp"
#include "project/build.hpp"

namespace nebula::bench {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using http::Client;
using http::problem_detail;

// The default set finishes in a few minutes on 2 cores and covers the
// kinds of work in the thesis: trivial, I/O of the body, integer
// arithmetic, big numbers, a sieve, a Monte Carlo loop.
const std::vector<std::string> kDefaultFunctions = {"hello",     "echo",         "fibonacci",
                                                    "factorial", "prime-number", "mc-estimate-pi"};

// Inputs small enough that one call takes well under a millisecond of work
// natively, so that the runtimes' own costs are what is measured.
const std::map<std::string, std::string>& default_inputs() {
  static const std::map<std::string, std::string> inputs = {
      {"hello", "Nebula"},
      {"echo", "The quick brown fox jumps over the lazy dog"},
      {"add", "40 2"},
      {"fibonacci", "90"},
      {"fibonacci-recursive", "25"},
      {"factorial", "100"},
      {"exponential", "1"},
      {"prime-number", "1000"},
      {"mc-estimate-pi", "100000"},
      {"mc-estimate-euler", "100000"},
      {"birthday-paradox", "23 10000"},
      {"alloc", "16"},
      {"text-transform", "upper\nNebula runs the same function on wasm and docker"},
  };
  return inputs;
}

// Calls per window at most, so a very fast runtime cannot run for ever.
constexpr unsigned kMaxWindowCalls = 20'000;

using base::fail;

// --- options -------------------------------------------------------------

// "\n", "\t", "\\" and "\," in an --inputs value; "," separates entries.
Result<std::map<std::string, std::string>> parse_inputs(const std::vector<std::string>& raw) {
  std::map<std::string, std::string> out;
  for (const auto& arg : raw) {
    std::vector<std::string> entries(1);
    for (std::size_t i = 0; i < arg.size(); ++i) {
      const char c = arg[i];
      if (c == '\\' && i + 1 < arg.size()) {
        const char next = arg[++i];
        entries.back() += next == 'n' ? '\n' : next == 't' ? '\t' : next;
      } else if (c == ',') {
        entries.emplace_back();
      } else {
        entries.back() += c;
      }
    }
    for (const auto& entry : entries) {
      if (entry.empty()) continue;
      const auto eq = entry.find('=');
      if (eq == std::string::npos || eq == 0) {
        return make_error(ErrorKind::kInvalidArgument,
                          "--inputs expects name=input[,name=input…], got '" + entry + "'");
      }
      out[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  return out;
}

struct Plan {
  std::string name;
  std::string input;
  std::string language;  // --languages only
  std::string example;
  fs::path module;
  std::string function;       // deployed name: wasm and docker cold
  std::string warm_function;  // deployed name: docker warm pool
};

// The order every language example gets: the same document in each.
constexpr std::string_view kLanguageInputs[][2] = {
    {"hello", "Nebula"},
    {"json-transform", R"({"customer":"Ada","items":[{"sku":"a1","qty":2,"price_cents":150},)"
                       R"({"sku":"b2","qty":1,"price_cents":99}]})"},
};

// --languages: every command project of lang-examples.txt (examples/lang/
// CMakeLists.txt writes it: "<function> <language> <example> <kind>
// <artifact> <image|->") whose example has an input above.
Result<std::vector<Plan>> make_language_plans(const fs::path& examples_dir,
                                              const std::string& name_prefix) {
  const fs::path list = examples_dir / "lang-examples.txt";
  std::istringstream lines(base::read_file(list).value_or(""));
  std::vector<Plan> plans;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string function, language, example, kind, artifact, image;
    if (!(fields >> function >> language >> example >> kind >> artifact >> image)) continue;
    if (kind != "command") continue;
    const auto* input = std::find_if(std::begin(kLanguageInputs), std::end(kLanguageInputs),
                                     [&example](const auto& e) { return e[0] == example; });
    if (input == std::end(kLanguageInputs)) continue;
    Plan p;
    p.name = function;
    p.language = language;
    p.example = example;
    p.input = std::string((*input)[1]);
    p.module = artifact;
    std::error_code ec;
    if (!fs::is_regular_file(p.module, ec)) {
      return make_error(ErrorKind::kNotFound, "no " + p.module.string() +
                                                  ": build the language examples with cmake "
                                                  "--build --preset release");
    }
    p.function = name_prefix + function;
    p.warm_function = name_prefix + function + "-warm";
    plans.push_back(std::move(p));
  }
  if (plans.empty()) {
    return make_error(ErrorKind::kNotFound,
                      "no language examples listed in " + list.string() +
                          " (scripts/setup.sh installs the toolchains; then cmake --build "
                          "--preset release)");
  }
  // Languages side by side: hello of every language, then json-transform.
  std::stable_sort(plans.begin(), plans.end(),
                   [](const Plan& a, const Plan& b) { return a.example > b.example; });
  return plans;
}

Result<std::vector<Plan>> make_plans(const Options& o, const fs::path& examples_dir,
                                     const std::string& name_prefix) {
  if (o.languages) {
    if (!o.functions.empty() || !o.inputs.empty()) {
      return make_error(ErrorKind::kInvalidArgument,
                        "--languages runs its own set: leave out --functions and --inputs");
    }
    return make_language_plans(examples_dir, name_prefix);
  }
  std::vector<std::string> names = o.functions.empty() ? kDefaultFunctions : o.functions;
  if (names.size() == 1 && names[0] == "all") {
    const fs::path list = examples_dir / "examples.txt";
    names.clear();
    std::istringstream lines(base::read_file(list).value_or(""));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) names.push_back(line);
    }
    if (names.empty()) {
      return make_error(ErrorKind::kNotFound,
                        "no example list at " + list.string() +
                            " (build the examples: cmake --build --preset release)");
    }
  }
  auto overrides = parse_inputs(o.inputs);
  if (!overrides) return std::move(overrides).error();
  for (const auto& [name, input] : *overrides) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      return make_error(ErrorKind::kInvalidArgument,
                        "--inputs names '" + name + "', which is not among the functions run");
    }
  }
  std::vector<Plan> plans;
  std::set<std::string> seen;
  for (const auto& name : names) {
    if (!seen.insert(name).second) continue;
    Plan p;
    p.name = name;
    p.module = examples_dir / (name + ".wasm");
    std::error_code ec;
    if (!fs::is_regular_file(p.module, ec)) {
      return make_error(ErrorKind::kNotFound,
                        "no module " + p.module.string() + " (is '" + name +
                            "' an example? build them with cmake --build "
                            "--preset release, or point --examples at their directory)");
    }
    if (auto it = overrides->find(name); it != overrides->end()) {
      p.input = it->second;
    } else if (auto d = default_inputs().find(name); d != default_inputs().end()) {
      p.input = d->second;
    } else {
      return make_error(
          ErrorKind::kInvalidArgument,
          "no default input for '" + name + "'; give one with --inputs " + name + "=…");
    }
    p.function = name_prefix + name;
    p.warm_function = name_prefix + name + "-warm";
    plans.push_back(std::move(p));
  }
  return plans;
}

Target target_of(const Plan& plan, Runtime runtime) {
  switch (runtime) {
    case Runtime::kWasm: return {"/v1/functions/" + plan.function + "/invoke?runtime=wasm", "wasm"};
    case Runtime::kDockerCold:
      return {"/v1/functions/" + plan.function + "/invoke?runtime=docker", "docker-cold"};
    case Runtime::kDockerWarm:
      return {"/v1/functions/" + plan.warm_function + "/invoke?runtime=docker", "docker-warm"};
  }
  return {};
}

// --- deployment ----------------------------------------------------------

Status deploy(const Client& client, const Plan& plan, bool with_docker) {
  auto bytes = base::read_file(plan.module);
  if (!bytes) return make_error(ErrorKind::kNotFound, "cannot read " + plan.module.string());
  auto res = client.request("POST", "/v1/modules", std::move(*bytes), "application/wasm");
  if (!res) return std::move(res).error();
  if (res->status != 201) {
    return make_error(ErrorKind::kInvalidArgument,
                      "module " + plan.module.string() + " rejected: " + problem_detail(*res));
  }
  boost::system::error_code ec;
  auto doc = json::parse(res->body, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("digest")) {
    return make_error(ErrorKind::kInternal, "the server answered the upload with no digest");
  }
  const std::string image = "nebula-fn-" + plan.name + ":latest";

  auto put = [&client, &image](const std::string& name, const json::object& manifest) -> Status {
    auto r = client.request("PUT", "/v1/functions/" + name, json::serialize(manifest),
                            "application/json");
    if (!r) return std::move(r).error();
    // 404 on a manifest with an image: the server's engine does not have it.
    if (r->status == 404 && manifest.contains("docker")) {
      return make_error(ErrorKind::kNotFound,
                        "deploying '" + name +
                            "' failed: the server's Docker engine has no image " + image + " (" +
                            problem_detail(*r) +
                            "); build the example images with `cmake --build --preset release "
                            "--target example_images`, or pass --no-docker");
    }
    if (r->status != 200 && r->status != 201) {
      return make_error(ErrorKind::kInvalidArgument,
                        "deploying '" + name + "' failed: " + problem_detail(*r));
    }
    return {};
  };

  json::object manifest{{"wasm", json::object{{"module", doc.as_object().at("digest")}}}};
  if (with_docker) manifest["docker"] = json::object{{"image", image}};
  if (auto st = put(plan.function, manifest); !st) return st;
  if (!with_docker) return {};
  // The same image, kept running: one container, started at deploy time and
  // not stopped while the benchmark runs.
  json::object warm{
      {"docker", json::object{{"image", image}}},
      {"docker_pool", json::object{{"min_warm", 1}, {"max_warm", 1}, {"idle_timeout_s", 600}}}};
  return put(plan.warm_function, warm);
}

// --- the server ----------------------------------------------------------

// The versions in the report are the server's (GET /v1/info). A server
// that cannot say is noted, not fatal; one without a Docker runtime when
// docker is to be measured is.
Status apply_server_info(const Client& client, bool with_docker, Run& run) {
  auto info = fetch_server_info(client);
  if (!info) {
    run.notes.push_back("the server's wasmtime and Docker versions are unknown: " +
                        info.error().message);
    return {};
  }
  if (!info->known) {
    run.notes.emplace_back(
        "the server does not answer GET /v1/info (it predates the route): its wasmtime and "
        "Docker versions are unknown");
    return {};
  }
  run.machine.server_version = info->version;
  run.machine.wasmtime_version = info->wasmtime;
  if (!with_docker) return {};
  if (!info->docker_available) {
    return make_error(ErrorKind::kUnavailable,
                      "the server at " + client.server() +
                          " has no Docker runtime (it runs with --no-docker, or its Docker "
                          "engine does not answer); pass --no-docker to measure wasm only");
  }
  run.machine.docker_version = info->docker_description();
  return {};
}

// --- the benchmark -------------------------------------------------------

// The order of the runtimes in repetition `rep`: rotated, so that each
// runtime goes first equally often.
std::vector<Runtime> rotated(const std::vector<Runtime>& runtimes, unsigned rep) {
  std::vector<Runtime> order = runtimes;
  std::rotate(order.begin(), order.begin() + static_cast<long>(rep % order.size()), order.end());
  return order;
}

struct Context {
  const Options& options;
  const Client& client;
  std::vector<Runtime> runtimes;
  std::vector<Plan> plans;
  Run& run;
  Progress& progress;
  EnergyMeter& energy;
};

void reference_and_warmup(Context& ctx) {
  for (std::size_t i = 0; i < ctx.plans.size(); ++i) {
    const Plan& plan = ctx.plans[i];
    FunctionRun& fn = ctx.run.functions[i];
    ctx.progress.set_status("reference + warm-up  " + plan.name);
    // wasm's answer is the reference every other call is compared with.
    auto ref = call_once(ctx.client, target_of(plan, Runtime::kWasm), plan.input, std::nullopt);
    if (ref) {
      fn.reference_output = *ref;
    } else {
      fn.reference_error = ref.error().message;
      ctx.run.notes.push_back(plan.name + ": the reference call on wasm failed (" +
                              ref.error().message + "); outputs are not compared");
    }
    ctx.progress.advance();
    for (unsigned k = 0; k < ctx.options.warmup && !interrupted(); ++k) {
      for (Runtime rt : rotated(ctx.runtimes, k)) {
        Cell& cell = fn.cells[static_cast<std::size_t>(
            std::find(ctx.runtimes.begin(), ctx.runtimes.end(), rt) - ctx.runtimes.begin())];
        auto out = call_once(ctx.client, target_of(plan, rt), plan.input, fn.reference_output);
        ++cell.warmup_calls;
        if (!out) {
          ++cell.warmup_failures;
          if (cell.warmup_failures == 1) {
            ctx.run.notes.push_back(plan.name + " " + to_string(rt) +
                                    ": a warm-up call failed: " + out.error().message);
          }
        }
        ctx.progress.advance();
      }
    }
    if (!ctx.progress.tty()) ctx.progress.line("warmed up " + plan.name);
  }
}

// The machine left alone for baseline_s: the benchmark only sleeps.
Baseline measure_idle(Context& ctx, const char* when) {
  Baseline idle;
  ctx.progress.set_status(std::string("measuring the idle machine ") + when);
  auto before = take_reading(ctx.energy);
  const auto until = SteadyClock::now() +
                     std::chrono::milliseconds(static_cast<long>(ctx.options.baseline_s * 1000));
  while (SteadyClock::now() < until && !interrupted()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto after = take_reading(ctx.energy);
  if (!before || !after) return idle;
  idle = idle_period(between(*before, *after, ctx.run.machine.clock_ticks_per_second));
  char line[160];
  std::snprintf(
      line, sizeof line, "idle %s: %.1f%% of the machine's CPU busy over %.1f s", when,
      100.0 * idle.busy_cpu_us_per_s() / (1e6 * std::max(1U, ctx.run.machine.logical_cpus)),
      idle.wall_s);
  ctx.progress.line(line);
  return idle;
}

void measure_interleaved(Context& ctx) {
  const unsigned runs = ctx.options.runs;
  for (unsigned rep = 0; rep < runs && !interrupted(); ++rep) {
    const auto order = rotated(ctx.runtimes, rep);
    for (std::size_t i = 0; i < ctx.plans.size() && !interrupted(); ++i) {
      const Plan& plan = ctx.plans[i];
      FunctionRun& fn = ctx.run.functions[i];
      for (unsigned pos = 0; pos < order.size(); ++pos) {
        const Runtime rt = order[pos];
        ctx.progress.set_status("measuring " + std::to_string(rep + 1) + "/" +
                                std::to_string(runs) + "  " + plan.name + " " + to_string(rt));
        // wasm too is compared with its own reference answer: a function
        // that answers differently from one call to the next is a failure.
        Sample s = call_measured(ctx.client, target_of(plan, rt), plan.input, fn.reference_output);
        s.repetition = rep;
        s.position = pos;
        for (auto& cell : fn.cells) {
          if (cell.runtime == rt) cell.samples.push_back(std::move(s));
        }
        ctx.progress.advance();
      }
    }
    if (!ctx.progress.tty()) {
      ctx.progress.line("measured repetition " + std::to_string(rep + 1) + "/" +
                        std::to_string(runs));
    }
  }
}

// Per function and runtime, back-to-back calls between two readings of
// /proc/stat: at least `runs` calls and at least min_window_s of wall time,
// so that the 10 ms tick of /proc/stat is small against the window.
void measure_windows(Context& ctx) {
  const double min_wall = ctx.options.min_window_s;
  for (std::size_t i = 0; i < ctx.plans.size() && !interrupted(); ++i) {
    const Plan& plan = ctx.plans[i];
    FunctionRun& fn = ctx.run.functions[i];
    std::string summary_line = plan.name + ": system CPU windows:";
    for (Runtime rt : rotated(ctx.runtimes, static_cast<unsigned>(i))) {
      if (interrupted()) break;
      Cell* cell = nullptr;
      for (auto& c : fn.cells) {
        if (c.runtime == rt) cell = &c;
      }
      const Target target = target_of(plan, rt);
      Window w;
      ctx.progress.set_status("system CPU  " + plan.name + " " + to_string(rt));
      auto before = take_reading(ctx.energy);
      while (!interrupted() && w.calls < kMaxWindowCalls) {
        // Without /proc/stat there is nothing to measure beyond the calls.
        if (w.calls >= ctx.options.runs &&
            (!before ||
             std::chrono::duration<double>(SteadyClock::now() - before->at).count() >= min_wall)) {
          break;
        }
        auto out = call_once(ctx.client, target, plan.input, fn.reference_output);
        ++w.calls;
        if (!out) {
          ++w.failures;
          const std::string& e = out.error().message;
          ++w.failure_kinds[e.substr(0, e.find(':'))];
        }
        if (w.calls <= ctx.options.runs) ctx.progress.advance();
      }
      auto after = take_reading(ctx.energy);
      if (!before || !after) continue;
      w.set_interval(between(*before, *after, ctx.run.machine.clock_ticks_per_second));
      char buf[160];
      std::snprintf(buf, sizeof buf, " %s %u calls in %.1f s", to_string(rt), w.calls, w.wall_s);
      summary_line += buf;
      cell->window = std::move(w);
    }
    if (!ctx.progress.tty()) ctx.progress.line(summary_line);
  }
}

// Other work on the machine during the idle periods makes every system-wide
// figure uncertain by about as much; the report says so.
void note_busy_machine(Run& run) {
  const double capacity_us_per_s = 1e6 * std::max(1U, run.machine.logical_cpus);
  const double before = run.idle_before.busy_cpu_us_per_s() / capacity_us_per_s;
  const double after = run.idle_after.busy_cpu_us_per_s() / capacity_us_per_s;
  if (std::max(before, after) < 0.05) return;
  char text[400];
  std::snprintf(text, sizeof text,
                "the machine was not idle: %.0f%% of its CPU was busy before the runs and %.0f%% "
                "after, without any call. Other processes' work varies during the windows, so "
                "the system-wide CPU figures (and energy) carry that much noise; the per-call "
                "records are not affected",
                100 * before, 100 * after);
  run.notes.emplace_back(text);
}

}  // namespace

int run(const Options& o) {
  const auto started = SteadyClock::now();
  if (o.out_dir.empty()) return fail("--out DIR is required");
  if (o.runs == 0) return fail("--runs must be at least 1");

  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return fail("cannot find the nebula binary (/proc/self/exe): " + ec.message());
  const fs::path examples_dir =
      o.examples_dir.empty() ? self.parent_path() / "examples" : fs::path(o.examples_dir);
  const fs::path out_dir = o.out_dir;
  fs::create_directories(out_dir, ec);
  if (ec) return fail("cannot create " + out_dir.string() + ": " + ec.message());

  const bool no_docker = o.no_docker;
  const bool own_server = !o.server.has_value();
  // On someone else's server, our functions get a prefix so that theirs
  // are never replaced, and they are removed at the end.
  auto plans = make_plans(o, examples_dir, own_server ? "" : "bench-");
  if (!plans) return fail(plans.error().message);

  Run run;
  run.started_at = utc_now();
  run.server = own_server ? "own" : *o.server;
  run.runs = o.runs;
  run.warmup = o.warmup;
  run.min_window_s = o.min_window_s;
  run.runtimes = {Runtime::kWasm};
  if (!no_docker)
    run.runtimes.insert(run.runtimes.end(), {Runtime::kDockerCold, Runtime::kDockerWarm});
  run.machine = describe_machine();
  if (!own_server) {
    run.notes.push_back("the server was " + *o.server +
                        ": the machine description and the system-wide CPU figures are this "
                        "machine's, which is right only when the server runs here too");
  }
  auto energy = EnergyMeter::open();
  run.machine.energy_available = energy.available();
  run.machine.energy_source = energy.description();

  // Ctrl-C stops between two calls; the server child is stopped either way.
  catch_interrupts();

  std::optional<base::TempDir> work_dir;
  std::optional<ServerChild> server;
  std::string url;
  if (own_server) {
    auto dir = base::TempDir::create("nebula-bench-");
    if (!dir) return fail(dir.error().message);
    work_dir.emplace(std::move(*dir));
    std::vector<std::string> args;
    if (no_docker) {
      args.emplace_back("--no-docker");
    } else {
      args.insert(args.end(), {"--docker-socket", o.docker_socket});
    }
    std::fprintf(stderr, "starting a nebula server (%s)…\n",
                 no_docker ? "wasm only" : "wasm and docker");
    auto child = ServerChild::start(self.string(), work_dir->path(), std::move(args));
    if (!child) return fail(child.error().message);
    server.emplace(std::move(*child));
    url = server->url();
  } else {
    url = *o.server;
  }
  const Client client(url, o.token, std::chrono::seconds(60));
  if (auto st = apply_server_info(client, !no_docker, run); !st) return fail(st.error().message);

  for (const auto& plan : *plans) {
    FunctionRun fn;
    fn.name = plan.name;
    fn.input = plan.input;
    fn.language = plan.language;
    fn.example = plan.example;
    if (o.languages) {
      fn.wasm_bytes = fs::file_size(plan.module, ec);
      if (ec) fn.wasm_bytes.reset();
      if (!no_docker)
        fn.image_bytes = project::image_size("docker", "nebula-fn-" + plan.name + ":latest");
    }
    for (Runtime rt : run.runtimes) {
      Cell cell;
      cell.runtime = rt;
      fn.cells.push_back(std::move(cell));
    }
    run.functions.push_back(std::move(fn));
  }
  const std::size_t n_fn = plans->size();
  const std::size_t n_rt = run.runtimes.size();
  Progress progress(n_fn * (1 + o.warmup * n_rt + 2 * o.runs * n_rt));
  Context ctx{o, client, run.runtimes, *plans, run, progress, energy};

  std::string failure;
  progress.set_status("deploying");
  for (const auto& plan : *plans) {
    if (auto st = deploy(client, plan, !no_docker); !st) {
      failure = st.error().message;
      break;
    }
  }
  if (failure.empty()) {
    progress.line("deployed " + std::to_string(n_fn) + (n_fn == 1 ? " function" : " functions") +
                  " on " + url + " (" + std::to_string(n_rt) + " runtimes, " +
                  std::to_string(o.runs) + " measured calls each)");
    reference_and_warmup(ctx);
    if (!interrupted()) run.idle_before = measure_idle(ctx, "before");
    if (!interrupted()) measure_interleaved(ctx);
    if (!interrupted()) measure_windows(ctx);
    if (!interrupted()) run.idle_after = measure_idle(ctx, "after");
  }
  progress.finish();

  // Tear down what we started. Our own server removes its containers when
  // it stops; on another server, deleting the functions removes theirs.
  if (server) {
    const int status = server->stop();
    if (status != 0) {
      run.notes.push_back("the server child exited with status " + std::to_string(status) +
                          " when stopped");
    }
  } else {
    for (const auto& plan : *plans) {
      for (const auto& name : {plan.function, plan.warm_function}) {
        (void)client.request("DELETE", "/v1/functions/" + name);
      }
    }
  }
  if (!failure.empty()) {
    std::string message = failure;
    if (server) message += "\nserver log (end):\n" + server->log_tail();
    return fail(message);
  }
  if (interrupted()) return fail("interrupted; nothing written");

  run.duration_s = seconds_since(started);
  set_baseline(run);
  note_busy_machine(run);
  const Summary summary = summarize(run);
  // Failed calls: keep the server's side of the story beside the report
  // (the temporary directory goes away with this function).
  if (summary.failures > 0 && work_dir) {
    fs::copy_file(work_dir->path() / "server.log", out_dir / "server.log",
                  fs::copy_options::overwrite_existing, ec);
    if (!ec) run.notes.push_back("some calls failed: the server's log is in server.log");
  }
  const fs::path results = out_dir / "results.json";
  if (auto st = base::write_file(results, json::serialize(to_json(run, summary)) + "\n"); !st) {
    return fail(st.error().message);
  }
  const Charts charts = draw_charts(results, out_dir, o.plot_script);
  const fs::path report = out_dir / "report.md";
  if (auto st = base::write_file(report, render_report(run, summary, charts)); !st) {
    return fail(st.error().message);
  }

  std::printf("%s", render_headline(run, summary).c_str());
  std::printf("\nwrote %s, %s", results.c_str(), report.c_str());
  for (const auto& f : charts.files) std::printf(", %s", (out_dir / f).c_str());
  std::printf("\n");
  if (!charts.unavailable_reason.empty()) std::printf("%s\n", charts.unavailable_reason.c_str());
  if (summary.failures > 0) {
    std::fprintf(stderr, "nebula bench: %zu of %zu calls failed; see the report's failures\n",
                 summary.failures, summary.calls);
  }
  return 0;
}

}  // namespace nebula::bench
