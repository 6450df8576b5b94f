#pragma once

#include <optional>
#include <string>
#include <vector>

namespace nebula::bench {

// `nebula bench`: the example functions on wasm, docker cold and docker
// warm, the same input on each, interleaved, through the HTTP API.
struct Options {
  std::string out_dir;                 // results.json, report.md, *.svg
  unsigned runs = 20;                  // measured calls per function and runtime
  unsigned warmup = 2;                 // uncounted calls per function and runtime first
  std::vector<std::string> functions;  // empty: the default set; "all": every example
  // Instead of the C examples: hello and json-transform of every language
  // built (lang-examples.txt), with artifact and image sizes in the report.
  bool languages = false;
  std::vector<std::string> inputs;    // "name=input" overrides; "\n" means a newline
  std::optional<std::string> server;  // a running server; none: start our own
  std::string token;                  // bearer token for the management routes
  bool no_docker = false;             // wasm only
  std::string examples_dir;           // default: examples/ beside the nebula binary
  std::string docker_socket = "/var/run/docker.sock";  // for our own server
  std::string plot_script;                             // empty: the plot.py built into nebula
  double min_window_s = 2.0;                           // shortest system-CPU measurement window
  double baseline_s = 3.0;                             // idle measurement before the runs
};

// Runs the benchmark and writes its outputs; returns the process exit code
// (0 also when some invocations failed: they are counted in the report).
[[nodiscard]] int run(const Options& options);

}  // namespace nebula::bench
