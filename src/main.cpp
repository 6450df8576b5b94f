// The `nebula` command: parses the command line and hands over to the part
// that does the work. Every flag of `serve`, and --server and
// --token of the client commands, may also come from a NEBULA_* variable.
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/console.hpp"
#include "base/files.hpp"
#include "bench/near_zero.hpp"
#include "bench/runner.hpp"
#include "cli/commands.hpp"
#include "cli/project.hpp"
#include "cli/run.hpp"
#include "cli/serve.hpp"
#include "core/version.hpp"

namespace {

// A function version: a whole number from 1 (CLI11's own range checks
// print their bounds as doubles).
const CLI::Validator kVersionNumber(
    [](std::string& text) {
      const bool digits =
          !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || text.find_first_not_of('0') == std::string::npos) {
        return std::string("a version is a whole number from 1, got '") + text + "'";
      }
      return std::string();
    },
    "VERSION");

// --server and --token, shared by the client commands.
void add_client_flags(CLI::App& cmd, nebula::cli::ClientOptions& client) {
  cmd.add_option("--server", client.server, "Nebula server URL")
      ->envname("NEBULA_SERVER")
      ->capture_default_str();
  cmd.add_option("--token", client.token, "Bearer token for management routes")
      ->envname("NEBULA_TOKEN");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Nebula: WebAssembly and container functions, side by side, measured the same way"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nebula " + std::string(nebula::kVersion));

  // serve
  nebula::cli::ServeOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "Run the Nebula server");
  serve_cmd->add_option("--listen", serve.listen, "Address to listen on (HOST:PORT; port 0 = any)")
      ->envname("NEBULA_LISTEN")
      ->capture_default_str();
  serve_cmd
      ->add_option("--data-dir", serve.data_dir,
                   "Registry, modules and records (SQLite store); compiled-module cache always")
      ->envname("NEBULA_DATA_DIR")
      ->capture_default_str();
  serve_cmd
      ->add_option("--store", serve.store,
                   "Where functions, modules and records live: sqlite (in --data-dir) or a "
                   "PostgreSQL URI postgresql://USER[:PASSWORD]@HOST:PORT/DB shared by many nodes")
      ->envname("NEBULA_STORE")
      ->capture_default_str();
  serve_cmd
      ->add_option("--node-id", serve.node_id,
                   "This node's name in X-Nebula-Node and in its records (default: host name)")
      ->envname("NEBULA_NODE_ID");
  serve_cmd->add_option("--token", serve.token, "Require this bearer token on management routes")
      ->envname("NEBULA_TOKEN");
  serve_cmd->add_option("--docker-socket", serve.docker_socket, "Docker Engine API socket")
      ->envname("NEBULA_DOCKER_SOCKET")
      ->capture_default_str();
  serve_cmd
      ->add_option("--watchdog", serve.watchdog,
                   "nebula-watchdog binary for warm containers (default: beside nebula)")
      ->envname("NEBULA_WATCHDOG");
  serve_cmd->add_flag("--no-docker", serve.no_docker, "Serve wasm only; no Docker engine needed")
      ->envname("NEBULA_NO_DOCKER");
  serve_cmd->add_option("--workers", serve.workers, "Worker threads (default 2 x cores + 4)")
      ->envname("NEBULA_WORKERS");
  serve_cmd->add_option("--io-threads", serve.io_threads, "I/O threads (default: cores, max 4)")
      ->envname("NEBULA_IO_THREADS");
  serve_cmd
      ->add_option("--max-queue", serve.max_queue,
                   "Invocations admitted at once before 429 Too Many Requests")
      ->envname("NEBULA_MAX_QUEUE")
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-connections", serve.max_connections,
                   "Client connections open at once; at the limit the one idle the longest "
                   "is closed, and when none is idle a new one gets 503")
      ->envname("NEBULA_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  serve_cmd
      ->add_option("--wasm-idle-s", serve.wasm_idle_s,
                   "Seconds without a call before a wasm function's compiled code leaves memory "
                   "(reloaded from the on-disk cache on its next call; 0: never)")
      ->envname("NEBULA_WASM_IDLE_S")
      ->capture_default_str();
  serve_cmd->add_option("--max-records", serve.max_records, "Invocation records kept per function")
      ->envname("NEBULA_MAX_RECORDS")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-versions", serve.max_versions,
                   "Versions kept per function (older ones are pruned, never the serving one or "
                   "one a queued async call names)")
      ->envname("NEBULA_MAX_VERSIONS")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  serve_cmd
      ->add_option("--secrets-key-file", serve.secrets_key_file,
                   "Key that encrypts secrets at rest: 32 raw bytes or 64 hex digits, mode 0600 "
                   "(default with SQLite: DATA-DIR/secrets.key, created on first start; with "
                   "PostgreSQL give every node the same file)")
      ->envname("NEBULA_SECRETS_KEY_FILE");
  serve_cmd
      ->add_option("--async-workers", serve.async_workers,
                   "Threads running queued async calls and schedule firings")
      ->envname("NEBULA_ASYNC_WORKERS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  serve_cmd->add_option("--log-level", serve.log_level, "trace, debug, info, warn, error")
      ->envname("NEBULA_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  // run
  nebula::cli::RunOptions run;
  auto* run_cmd = app.add_subcommand("run",
                                     "Run a WASI command (module or component) once, locally, with "
                                     "this terminal's stdin/stdout/stderr");
  // Options may come before or after the module; everything after `--`
  // (and any further positional) goes to the guest. Each --env and --dir
  // takes exactly one value, so that a repeated option never swallows the
  // module path.
  run_cmd->add_option("module", run.module_path, "Path to the .wasm file")
      ->required()
      ->check(CLI::ExistingFile);
  run_cmd->add_option("--env", run.env, "Set an environment variable (KEY=VALUE), repeatable")
      ->allow_extra_args(false);
  run_cmd
      ->add_option("--dir", run.dirs,
                   "Preopen a host directory as HOST::GUEST (suffix :ro for read-only); "
                   "the only way the guest sees a filesystem")
      ->allow_extra_args(false);
  run_cmd->add_option("--timeout-ms", run.timeout_ms, "Stop the guest after N ms (0: never)");
  run_cmd->add_option("--memory-mb", run.memory_mb, "Linear memory limit in MiB")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  run_cmd->add_flag("--timings", run.timings, "Print compile/startup/exec/teardown on stderr");
  run_cmd->add_option("args", run.args, "Arguments for the guest (after the module, or after --)");
  run_cmd->footer(
      "Exit code: the guest's own; 124 on timeout, 134 on a trap, 137 on the memory limit.");

  // serve-one
  nebula::cli::ServeOneOptions serve_one;
  auto* serve_one_cmd = app.add_subcommand(
      "serve-one",
      "Serve one HTTP component (wasi:http/proxy) on a local port, every path its own");
  serve_one_cmd->add_option("module", serve_one.module_path, "Path to the component (.wasm)")
      ->required()
      ->check(CLI::ExistingFile);
  serve_one_cmd->add_option("--listen", serve_one.listen, "Address to listen on (HOST:PORT)")
      ->capture_default_str();
  serve_one_cmd->add_option("--data-dir", serve_one.data_dir,
                            "Compiled code and records (default: the cache's serve-one/)");
  serve_one_cmd->add_option("--env", serve_one.env, "Environment variable KEY=VALUE, repeatable")
      ->allow_extra_args(false);
  serve_one_cmd
      ->add_option("--allow-outbound", serve_one.allowed_outbound_hosts,
                   "Let outbound requests reach SCHEME://HOST[:PORT], repeatable")
      ->allow_extra_args(false);
  serve_one_cmd->add_option("--timeout-ms", serve_one.timeout_ms, "Timeout per request");
  serve_one_cmd->add_option("--memory-mb", serve_one.memory_mb, "Memory limit per request");
  serve_one_cmd->add_option("--workers", serve_one.workers, "Worker threads");
  serve_one_cmd->add_option("--log-level", serve_one.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  // client commands
  nebula::cli::ClientOptions client;
  nebula::cli::DeployOptions deploy;
  auto* deploy_cmd = app.add_subcommand("deploy", "Deploy (create or replace) a function");
  add_client_flags(*deploy_cmd, client);
  deploy_cmd->add_option("name", deploy.name,
                         "Function name; without it, the function project in --project");
  std::string deploy_project_dir = ".";
  bool deploy_no_docker = false;
  deploy_cmd->add_option("--project", deploy_project_dir, "Project folder (with nebula.toml)")
      ->capture_default_str();
  deploy_cmd->add_flag("--no-docker", deploy_no_docker,
                       "Project deploys: the wasm variant only, even if it has a Docker image");
  deploy_cmd
      ->add_option("--wasm", deploy.wasm_file,
                   "WebAssembly module or component (.wasm): a command or an HTTP handler")
      ->check(CLI::ExistingFile);
  deploy_cmd->add_option("--image", deploy.image, "Docker image of the same function");
  deploy_cmd->add_option("--env", deploy.env, "Environment variable KEY=VALUE, repeatable");
  deploy_cmd->add_option("--arg", deploy.args, "Argument passed to the function, repeatable");
  deploy_cmd->add_option("--default-runtime", deploy.default_runtime, "wasm or docker")
      ->check(CLI::IsMember({"wasm", "docker"}));
  deploy_cmd->add_option("--timeout-ms", deploy.timeout_ms, "Timeout per invocation");
  deploy_cmd->add_option("--memory-mb", deploy.memory_mb, "Memory limit");
  deploy_cmd->add_option("--min-warm", deploy.min_warm, "Docker warm pool: kept running");
  deploy_cmd->add_option("--max-warm", deploy.max_warm, "Docker warm pool: at most (0 = cold)");
  deploy_cmd->add_option("--idle-timeout-s", deploy.idle_timeout_s,
                         "Docker warm pool: stop a container idle this long");
  deploy_cmd
      ->add_option("--allow-outbound", deploy.allowed_outbound_hosts,
                   "Let the wasm guest's outbound HTTP reach SCHEME://HOST[:PORT], repeatable")
      ->allow_extra_args(false);
  deploy_cmd
      ->add_option("--secret-env", deploy.secret_env,
                   "Environment variable KEY=SECRET whose value is the stored secret SECRET "
                   "(nebula secret put), read at every invocation; repeatable")
      ->allow_extra_args(false);
  deploy_cmd->add_option("--max-concurrency", deploy.max_concurrency,
                         "Invocations running at once on one node (0 = no limit); more wait for "
                         "a slot up to the timeout, then get 429");
  deploy_cmd->add_option("--max-retries", deploy.max_retries,
                         "Async calls: retries of a failed run before it is dead (default 3)");
  deploy_cmd->add_option("--max-queued", deploy.max_queued,
                         "Async calls: how many may wait at once (default 1000); more get 429");
  deploy_cmd
      ->add_option("--schedule", deploy.schedules,
                   "Run on a schedule: a five-field cron expression in UTC ('*/5 * * * *', "
                   "'@daily') or '@every 30s', with an empty body; repeatable")
      ->allow_extra_args(false);

  nebula::cli::NewOptions new_options;
  auto* new_cmd = app.add_subcommand("new", "Write a function project from a template");
  new_cmd->add_option("name", new_options.name, "Function name")->required();
  new_cmd->add_option("--lang", new_options.language, "c, cpp, rust, go, python or js")
      ->required()
      ->check(CLI::IsMember({"c", "cpp", "rust", "go", "python", "js"}));
  new_cmd->add_flag("--http", new_options.http,
                    "A wasi:http handler (the request itself) instead of stdin -> stdout");
  new_cmd->add_option("--dir", new_options.dir, "Folder to create (default: ./NAME)");

  nebula::cli::BuildOptions build_options;
  auto* build_cmd =
      app.add_subcommand("build", "Build a function project: its wasm artifact and Docker image");
  build_cmd->add_option("dir", build_options.dir, "Project folder (with nebula.toml)")
      ->capture_default_str();
  auto* wasm_only = build_cmd->add_flag("--wasm-only", build_options.wasm_only, "Only the wasm");
  build_cmd->add_flag("--docker-only", build_options.docker_only, "Only the Docker image")
      ->excludes(wasm_only);

  nebula::cli::InvokeOptions invoke;
  auto* invoke_cmd = app.add_subcommand(
      "invoke", "Invoke a function: stdin is the body, the output goes to stdout");
  add_client_flags(*invoke_cmd, client);
  invoke_cmd->add_option("name", invoke.name, "Function name")->required();
  invoke_cmd->add_option("--runtime", invoke.runtime, "wasm or docker (default: the function's)")
      ->check(CLI::IsMember({"wasm", "docker"}));
  invoke_cmd->add_option("-d,--data", invoke.data, "Request body (instead of stdin)");
  invoke_cmd->add_flag("-v,--verbose", invoke.verbose, "Print the timing breakdown on stderr");
  invoke_cmd
      ->add_option("--version", invoke.version,
                   "Run this kept version instead of the serving one (nebula versions NAME)")
      ->check(kVersionNumber);
  auto* invoke_async = invoke_cmd->add_flag(
      "--async", invoke.async,
      "Queue the call and print its id at once; it runs in the background, retried on failure "
      "(nebula invocation ID shows its state and result)");
  invoke_cmd
      ->add_option("--callback", invoke.callback,
                   "With --async: POST the call's outcome to this URL when it ends (its host "
                   "must be in the function's allowed outbound hosts)")
      ->needs(invoke_async);
  invoke_cmd->footer(
      "Exit code: 0 when the function answered 200 (or the call was queued), 1 otherwise.");

  nebula::cli::InvocationOptions invocation;
  auto* invocation_cmd = app.add_subcommand(
      "invocation", "Show one invocation: a record, or an async call's state, attempts and result");
  add_client_flags(*invocation_cmd, client);
  invocation_cmd
      ->add_option("id", invocation.id,
                   "Invocation id (X-Nebula-Invocation-Id, or the id `invoke --async` printed)")
      ->required();
  invocation_cmd->add_flag("--raw", invocation.raw,
                           "Async calls: write only the result's bytes to stdout");
  invocation_cmd->add_flag("-w,--wait", invocation.wait,
                           "Async calls: wait until the call is done or dead");
  invocation_cmd->footer(
      "Exit code: 0 when found and not failed (an async call may still be queued or running), "
      "1 when it cannot be shown, 2 when the invocation failed (a record whose outcome is not "
      "ok, an async call that is dead or answered an error).");

  std::string versions_name;
  auto* versions_cmd = app.add_subcommand(
      "versions", "List a function's kept versions, newest first; * marks the serving one");
  add_client_flags(*versions_cmd, client);
  versions_cmd->add_option("name", versions_name, "Function name")->required();

  nebula::cli::RollbackOptions rollback;
  auto* rollback_cmd = app.add_subcommand(
      "rollback", "Serve an earlier kept version of a function again (needs the token)");
  add_client_flags(*rollback_cmd, client);
  rollback_cmd->add_option("name", rollback.name, "Function name")->required();
  rollback_cmd
      ->add_option("version", rollback.version,
                   "The version to serve (default: the kept one just below the serving one)")
      ->check(kVersionNumber);

  // secret put | ls | rm
  auto* secret_cmd = app.add_subcommand(
      "secret",
      "Store, list and remove secrets (values are write-only, encrypted at rest; needs the token)");
  secret_cmd->require_subcommand(1);
  nebula::cli::SecretPutOptions secret_put;
  auto* secret_put_cmd = secret_cmd->add_subcommand(
      "put",
      "Create or replace a secret; the value comes from --from-file or stdin (typed on a "
      "terminal, it is not echoed), never from an argument");
  add_client_flags(*secret_put_cmd, client);
  secret_put_cmd->add_option("name", secret_put.name, "Secret name (as a function name)")
      ->required();
  secret_put_cmd
      ->add_option("--from-file", secret_put.from_file,
                   "Read the value from this file, byte for byte (at most 64 KiB)")
      ->check(CLI::ExistingFile);
  secret_put_cmd->footer(
      "A piped value is taken byte for byte, a final newline included: printf '%s' \"$V\" | "
      "nebula secret put NAME. Functions refer to it from their manifest's env, e.g. "
      "nebula deploy fn --wasm fn.wasm --secret-env API_KEY=NAME.");
  auto* secret_ls_cmd =
      secret_cmd->add_subcommand("ls", "List secrets with their times (never their values)");
  add_client_flags(*secret_ls_cmd, client);
  std::string secret_rm_name;
  auto* secret_rm_cmd = secret_cmd->add_subcommand(
      "rm", "Remove a secret (refused while a deployed function uses it)");
  add_client_flags(*secret_rm_cmd, client);
  secret_rm_cmd->add_option("name", secret_rm_name, "Secret name")->required();

  auto* ls_cmd = app.add_subcommand("ls", "List deployed functions");
  add_client_flags(*ls_cmd, client);

  auto* status_cmd = app.add_subcommand(
      "status", "What the server costs and holds now: memory, CPU, wakeups, containers, store");
  add_client_flags(*status_cmd, client);

  std::string rm_name;
  auto* rm_cmd = app.add_subcommand("rm", "Remove a function (and stop its warm containers)");
  add_client_flags(*rm_cmd, client);
  rm_cmd->add_option("name", rm_name, "Function name")->required();

  nebula::cli::LogsOptions logs;
  auto* logs_cmd = app.add_subcommand(
      "logs", "Recent invocations of a function, newest first; -f follows new ones live");
  add_client_flags(*logs_cmd, client);
  logs_cmd->add_option("name", logs.name, "Function name")->required();
  auto* logs_follow = logs_cmd->add_flag(
      "-f,--follow", logs.follow,
      "Print each invocation as it finishes (time, id, version, trigger, runtime, outcome, "
      "total; then its stderr, indented) until Ctrl-C");
  logs_cmd->add_option("-n,--limit", logs.limit, "How many")
      ->check(CLI::Range(1, 1000))
      ->excludes(logs_follow);
  logs_cmd->add_option("--runtime", logs.runtime, "Only wasm or docker")
      ->check(CLI::IsMember({"wasm", "docker"}));

  // bench: two suites. Flags that only one suite reads are refused with
  // the other, so that a typo never runs the wrong benchmark silently.
  nebula::bench::Options bench;
  nebula::bench::NearZeroOptions near_zero;
  std::string bench_suite = "invocations";
  std::optional<double> bench_window_s;
  std::optional<double> bench_idle_s;
  auto* bench_cmd = app.add_subcommand(
      "bench", "Benchmark a Nebula server: per invocation (default) or near-zero resource use");
  bench_cmd
      ->add_option("--suite", bench_suite,
                   "invocations: the examples on wasm, docker cold and docker warm, per call; "
                   "near-zero: idle footprint, open-loop load curves, burst recovery, scale "
                   "from zero")
      ->check(CLI::IsMember({"invocations", "near-zero"}))
      ->capture_default_str();
  bench_cmd
      ->add_option("--out", bench.out_dir,
                   "Directory for the results (results.json or near-zero.json), the report and "
                   "*.svg")
      ->required();
  auto* runs_opt =
      bench_cmd->add_option("--runs", bench.runs, "Measured calls per function and runtime")
          ->check(CLI::Range(1, 100000))
          ->capture_default_str();
  auto* warmup_opt =
      bench_cmd->add_option("--warmup", bench.warmup, "Uncounted calls per function and runtime")
          ->check(CLI::Range(0, 1000))
          ->capture_default_str();
  auto* functions_opt =
      bench_cmd
          ->add_option("--functions", bench.functions,
                       "Examples to run, comma-separated, or 'all' (default: a quick subset)")
          ->delimiter(',');
  auto* languages_opt =
      bench_cmd->add_flag("--languages", bench.languages,
                          "hello and json-transform in every language built, with artifact sizes");
  auto* inputs_opt =
      bench_cmd->add_option("--inputs", bench.inputs,
                            "Inputs name=input, comma-separated; \\n is a newline, \\, a comma");
  bench_cmd->add_option("--server", bench.server,
                        "Use this running server (default: start one on 127.0.0.1; the "
                        "near-zero suite always starts its own)");
  auto* token_opt = bench_cmd->add_option("--token", bench.token, "Bearer token for --server")
                        ->envname("NEBULA_TOKEN");
  bench_cmd->add_flag("--no-docker", bench.no_docker, "wasm only; no Docker engine needed");
  bench_cmd->add_option("--examples", bench.examples_dir,
                        "Directory of <name>.wasm and examples.txt (default: beside nebula)");
  bench_cmd
      ->add_option("--docker-socket", bench.docker_socket,
                   "Docker Engine API socket of the server it starts")
      ->envname("NEBULA_DOCKER_SOCKET")
      ->capture_default_str();
  bench_cmd->add_option("--plot-script", bench.plot_script,
                        "Chart script to run instead of the built-in one");
  bench_cmd
      ->add_option("--window-s", bench_window_s,
                   "Shortest system-CPU measurement window per function and runtime (default "
                   "2; near-zero: per runtime, default 3)")
      ->check(CLI::Range(0.1, 600.0));
  bench_cmd
      ->add_option("--idle-s", bench_idle_s,
                   "Idle measurement before and after the runs, each (default 3; near-zero: the "
                   "idle footprint, default 20)")
      ->check(CLI::Range(0.1, 3600.0));
  const std::vector<CLI::Option*> invocations_only = {runs_opt,      warmup_opt, functions_opt,
                                                      languages_opt, inputs_opt, token_opt};
  std::vector<CLI::Option*> near_zero_only;
  near_zero_only.push_back(
      bench_cmd
          ->add_option("--wasm-idle-s", near_zero.wasm_idle_s,
                       "near-zero: the server's --wasm-idle-s (a wasm program unused this long "
                       "leaves memory)")
          ->check(CLI::Range(1, 86400))
          ->capture_default_str());
  near_zero_only.push_back(bench_cmd
                               ->add_option("--warm-idle-s", near_zero.warm_idle_s,
                                            "near-zero: idle timeout of the docker-warm pool")
                               ->check(CLI::Range(1, 86400))
                               ->capture_default_str());
  near_zero_only.push_back(bench_cmd
                               ->add_option("--probe-s", near_zero.probe_s,
                                            "near-zero: closed-loop saturation probe per runtime")
                               ->check(CLI::Range(0.1, 3600.0))
                               ->capture_default_str());
  near_zero_only.push_back(
      bench_cmd
          ->add_option("--rates", near_zero.rates,
                       "near-zero: offered rates, requests per second, comma-separated (0: idle; "
                       "rates above saturation are listed, not run)")
          ->delimiter(',')
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str());
  near_zero_only.push_back(
      bench_cmd->add_option("--rate-s", near_zero.rate_s, "near-zero: each offered rate, at least")
          ->check(CLI::Range(0.1, 3600.0))
          ->capture_default_str());
  near_zero_only.push_back(
      bench_cmd
          ->add_option("--min-requests", near_zero.min_requests,
                       "near-zero: each rate above 0 runs for at least this many requests")
          ->check(CLI::Range(1, 1000000))
          ->capture_default_str());
  near_zero_only.push_back(
      bench_cmd->add_option("--burst-s", near_zero.burst_s, "near-zero: wasm burst at saturation")
          ->check(CLI::Range(0.1, 3600.0))
          ->capture_default_str());
  near_zero_only.push_back(bench_cmd
                               ->add_option("--settle-s", near_zero.settle_s,
                                            "near-zero: rest after the burst before memory is read")
                               ->check(CLI::Range(0.1, 3600.0))
                               ->capture_default_str());
  near_zero_only.push_back(bench_cmd
                               ->add_option("--zero-repeats", near_zero.zero_repeats,
                                            "near-zero: scale-from-zero calls per runtime")
                               ->check(CLI::Range(0, 1000))
                               ->capture_default_str());
  near_zero_only.push_back(bench_cmd->add_option(
      "--power-model", near_zero.power_model,
      "near-zero, without RAPL: watts per vCPU idle and at full load, IDLE_W,MAX_W (default "
      "0.74,3.5)"));

  CLI11_PARSE(app, argc, argv);

  if (serve_cmd->parsed()) return nebula::cli::serve(serve, argv[0]);
  if (run_cmd->parsed()) return nebula::cli::run_module(run);
  if (serve_one_cmd->parsed()) {
    if (serve_one.data_dir.empty()) {
      serve_one.data_dir = (nebula::base::cache_dir() / "serve-one").string();
    }
    return nebula::cli::serve_one(serve_one);
  }
  if (deploy_cmd->parsed()) {
    if (deploy.name.empty()) {
      return nebula::cli::deploy_project(client, deploy_project_dir, deploy, deploy_no_docker);
    }
    return nebula::cli::deploy(client, deploy);
  }
  if (new_cmd->parsed()) return nebula::cli::new_project(new_options);
  if (build_cmd->parsed()) return nebula::cli::build_project(build_options);
  if (invoke_cmd->parsed()) return nebula::cli::invoke(client, invoke);
  if (ls_cmd->parsed()) return nebula::cli::list(client);
  if (status_cmd->parsed()) return nebula::cli::status(client);
  if (rm_cmd->parsed()) return nebula::cli::remove(client, rm_name);
  if (logs_cmd->parsed()) return nebula::cli::logs(client, logs);
  if (invocation_cmd->parsed()) return nebula::cli::invocation(client, invocation);
  if (versions_cmd->parsed()) return nebula::cli::versions(client, versions_name);
  if (rollback_cmd->parsed()) return nebula::cli::rollback(client, rollback);
  if (secret_put_cmd->parsed()) return nebula::cli::secret_put(client, secret_put);
  if (secret_ls_cmd->parsed()) return nebula::cli::secret_list(client);
  if (secret_rm_cmd->parsed()) return nebula::cli::secret_remove(client, secret_rm_name);
  if (bench_cmd->parsed()) {
    const bool nz = bench_suite == "near-zero";
    for (const CLI::Option* opt : nz ? invocations_only : near_zero_only) {
      if (opt->count() > 0) {
        return nebula::base::fail(opt->get_name() + " belongs to --suite " +
                                  (nz ? "invocations" : "near-zero") + ", not --suite " +
                                  bench_suite);
      }
    }
    if (!nz) {
      bench.min_window_s = bench_window_s.value_or(bench.min_window_s);
      bench.baseline_s = bench_idle_s.value_or(bench.baseline_s);
      return nebula::bench::run(bench);
    }
    near_zero.out_dir = bench.out_dir;
    near_zero.server = bench.server;
    near_zero.no_docker = bench.no_docker;
    near_zero.examples_dir = bench.examples_dir;
    near_zero.docker_socket = bench.docker_socket;
    near_zero.plot_script = bench.plot_script;
    near_zero.window_s = bench_window_s.value_or(near_zero.window_s);
    near_zero.idle_s = bench_idle_s.value_or(near_zero.idle_s);
    return nebula::bench::run_near_zero(near_zero);
  }
  return 0;
}
