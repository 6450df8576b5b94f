#pragma once

// A real nginx in front of Nebula nodes for the multi-node tests and the
// scale-out benchmark: a reverse proxy on 127.0.0.1 with a free port that
// spreads requests round-robin over an upstream of 127.0.0.1:PORT servers,
// configured the way a deployment would put it in front of the nodes
// (keep-alive to the nodes, large bodies for module uploads, the
// Authorization header passed on, a dead node taken out of rotation).
//
// nginx runs as our child (`daemon off`), with its configuration, logs, pid
// file and temp directories in a temp directory of its own, never through
// systemd nor /etc/nginx. Debian's `nginx` package installs /usr/sbin/nginx
// (scripts/setup.sh installs it).
//
// Header-only: include it and link nebula_base.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <signal.h>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include "base/files.hpp"
#include "base/subprocess.hpp"
#include "core/result.hpp"
#include "integration/process_support.hpp"

namespace nebula::testing {

// One nginx master and its workers, owned: the destructor stops them
// (SIGQUIT, then SIGTERM, then SIGKILL) and removes the directory. If the
// test process dies, the master receives SIGTERM as a parent-death signal
// (tied to the starting thread: start it from the test's thread) and stops
// its workers. Move-only; not thread-safe.
class NginxProcess {
 public:
  static constexpr const char* kBinary = "/usr/sbin/nginx";

  // Starts nginx proxying to 127.0.0.1:PORT for each of `upstream_ports`
  // and waits (up to 20 s) until it accepts connections. The error says
  // what failed, with nginx's error log.
  [[nodiscard]] static Result<NginxProcess> start(std::vector<int> upstream_ports) {
    if (::access(kBinary, X_OK) != 0) {
      return make_error(ErrorKind::kUnavailable,
                        std::string("nginx is not installed (no ") + kBinary +
                            "): run scripts/setup.sh, which installs nginx");
    }
    if (upstream_ports.empty()) {
      return make_error(ErrorKind::kInvalidArgument, "nginx needs at least one upstream port");
    }
    NginxProcess nginx;
    auto dir = detail::OwnedDir::create("nebula-nginx");
    if (!dir) return dir.error();
    nginx.dir_ = std::move(*dir);
    nginx.upstream_ports_ = std::move(upstream_ports);
    // A master started as root runs its workers as `nobody`, and they
    // write request bodies into the temp directories below (which the
    // master creates for them): mkdtemp's 0700 would keep them out.
    if (::geteuid() == 0) ::chmod(nginx.dir_.path().c_str(), 0755);

    // The port is free when picked but may be taken before nginx binds it;
    // then another one is tried.
    std::string last_error;
    for (int attempt = 0; attempt < 5 && !nginx.process_; ++attempt) {
      auto port = detail::pick_free_port();
      if (!port) return port.error();
      bool in_use = false;
      auto started = nginx.start_on(*port, &in_use);
      if (!started) {
        if (!in_use) return started.error();
        last_error = started.error().message;
      }
    }
    if (!nginx.process_) {
      return make_error(ErrorKind::kUnavailable,
                        "nginx found no free port in 5 attempts: " + last_error);
    }
    return nginx;
  }

  NginxProcess(NginxProcess&& other) noexcept
      : dir_(std::move(other.dir_)),
        upstream_ports_(std::move(other.upstream_ports_)),
        port_(std::exchange(other.port_, 0)),
        process_(std::exchange(other.process_, std::nullopt)) {}
  NginxProcess& operator=(NginxProcess&&) = delete;
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  ~NginxProcess() {
    try {
      (void)stop();
    } catch (...) {
      // Nothing can be reported from here; the Subprocess's own destructor
      // kills what is left.
    }
  }

  [[nodiscard]] int port() const noexcept { return port_; }
  // http://127.0.0.1:PORT, for http::Client and `nebula --server`.
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] bool running() const noexcept { return process_.has_value(); }
  // The master's pid, or -1 when stopped.
  [[nodiscard]] pid_t pid() const noexcept { return process_ ? process_->pid() : -1; }
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }
  [[nodiscard]] std::filesystem::path config_path() const { return dir_.path() / "nginx.conf"; }
  [[nodiscard]] std::string error_log() const {
    return base::read_file(dir_.path() / "error.log").value_or("");
  }
  // One line per request: "METHOD URI STATUS upstream=ADDR[, ADDR…]
  // upstream_status=S[, S…]". A request that was passed to the next
  // server lists every server it was sent to, so a test can tell whether
  // nginx retried it. The line is written when nginx finishes the request,
  // which may be just after the client has read the whole response (but
  // before nginx closes a `Connection: close` connection).
  [[nodiscard]] std::string access_log() const {
    return base::read_file(dir_.path() / "access.log").value_or("");
  }
  // The access log once it holds at least `lines` lines (one per answered
  // request), or as it is after 5 s. A worker descheduled between sending
  // the response and its log phase writes its line after later requests'.
  [[nodiscard]] std::string access_log_of(size_t lines) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      std::string log = access_log();
      if (static_cast<size_t>(std::count(log.begin(), log.end(), '\n')) >= lines ||
          std::chrono::steady_clock::now() >= deadline) {
        return log;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Graceful stop (SIGQUIT: requests in flight finish), then SIGTERM after
  // 10 s, then SIGKILL after 5 more. The exit status, -1 when not running.
  int stop() {
    if (!process_) return -1;
    // To the group: the master and its workers (which share it).
    process_->send_signal(SIGQUIT);
    auto status = process_->wait_for(base::Clock::now() + std::chrono::seconds(10));
    if (!status) {
      process_->send_signal(SIGTERM);
      status = process_->wait_for(base::Clock::now() + std::chrono::seconds(5));
    }
    const int result = status ? *status : process_->terminate(std::chrono::milliseconds(0));
    process_.reset();
    return result;
  }

 private:
  NginxProcess() = default;

  // The whole configuration, every path inside the temp directory so that
  // nothing under /etc, /var or /run is read or written (nginx's compiled-in
  // defaults point there).
  [[nodiscard]] std::string config(int port) const {
    const std::string d = dir_.path().string();
    std::string conf = "# Written by tests/integration/nginx_process.hpp\n";
    // A root master needs a worker user; Debian has no `nobody` group
    // (nginx's default), only nogroup. Ignored (with a warning) otherwise.
    if (::geteuid() == 0) conf += "user nobody nogroup;\n";
    conf += "daemon off;\n";
    conf += "master_process on;\n";
    conf += "worker_processes auto;\n";
    conf += "pid " + d + "/nginx.pid;\n";
    conf += "lock_file " + d + "/nginx.lock;\n";
    conf += "error_log " + d + "/error.log notice;\n";
    conf += "events {\n  worker_connections 4096;\n}\n";
    conf += "http {\n";
    conf +=
        "  log_format upstreams '$request_method $request_uri $status "
        "upstream=$upstream_addr upstream_status=$upstream_status';\n";
    conf += "  access_log " + d + "/access.log upstreams;\n";
    for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      conf += std::string("  ") + temp + "_temp_path " + d + "/" + temp + ";\n";
    }
    conf += "  upstream nebula {\n";
    // Shared memory for the upstream's state, so that every worker sees a
    // node marked failed at once rather than each discovering it.
    conf += "    zone nebula 64k;\n";
    // One failure takes a node out of rotation for 2 s: a stopped node is
    // skipped almost at once, a restarted one is back soon.
    for (int upstream : upstream_ports_) {
      conf +=
          "    server 127.0.0.1:" + std::to_string(upstream) + " max_fails=1 fail_timeout=2s;\n";
    }
    // Idle connections kept open to the nodes. Closed by nginx after 30 s,
    // before the node's own 60 s idle timeout (http::ServerOptions), so
    // nginx never sends a request on a connection the node is closing.
    conf += "    keepalive 32;\n";
    conf += "    keepalive_timeout 30s;\n";
    conf += "  }\n";
    conf += "  server {\n";
    conf += "    listen 127.0.0.1:" + std::to_string(port) + ";\n";
    // Module uploads and deploys carry whole wasm modules.
    conf += "    client_max_body_size 64m;\n";
    conf += "    location / {\n";
    conf += "      proxy_pass http://nebula;\n";
    // HTTP/1.1 without "Connection: close" is what lets the upstream
    // keepalive above reuse connections.
    conf += "      proxy_http_version 1.1;\n";
    conf += "      proxy_set_header Connection \"\";\n";
    conf += "      proxy_set_header Host $http_host;\n";
    conf += "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n";
    // Passed by default too; explicit because the API depends on it.
    conf += "      proxy_set_header Authorization $http_authorization;\n";
    // A request that could not be sent (connection refused, connect
    // timeout) goes to the next node. One already sent is passed on only
    // if idempotent: nginx never resends a POST (or PATCH) unless
    // `non_idempotent` is listed, which it is not, so a deploy or an
    // invocation is never run twice.
    conf += "      proxy_next_upstream error timeout;\n";
    // A node on loopback answers a connect at once; one that does not is
    // stopped or frozen, and the next one should get the request.
    conf += "      proxy_connect_timeout 2s;\n";
    conf += "    }\n";
    conf += "  }\n";
    conf += "}\n";
    return conf;
  }

  // Writes the configuration for `port`, starts nginx and waits until it
  // accepts connections. `in_use` is set when the port was taken.
  [[nodiscard]] Status start_on(int port, bool* in_use) {
    port_ = port;
    const auto conf_path = config_path();
    if (auto written = base::write_file(conf_path, config(port)); !written) return written;
    const auto error_log_path = dir_.path() / "error.log";
    const auto pid_path = dir_.path() / "nginx.pid";
    std::error_code ec;
    std::filesystem::remove(pid_path, ec);
    const auto log_offset = std::filesystem::exists(error_log_path, ec)
                                ? std::filesystem::file_size(error_log_path, ec)
                                : 0;
    base::SpawnOptions options;
    options.search_path = false;
    options.in = base::Stdio::null();
    options.out = base::Stdio::file(error_log_path, /*append=*/true);
    options.err = base::Stdio::to_stdout();
    options.cwd = dir_.path();
    // nginx is not setuid, so the signal survives its exec.
    options.parent_death_signal = SIGTERM;
    // -e: the error log from the start, before the configuration (which
    // names the same file) is read; -p: the prefix for relative paths.
    auto started = base::Subprocess::start({kBinary, "-e", error_log_path.string(), "-p",
                                            dir_.path().string() + "/", "-c", conf_path.string()},
                                           options);
    if (!started) return started.error();
    process_.emplace(std::move(*started));

    const auto this_run_log = [&] {
      std::string text = error_log();
      return log_offset < text.size() ? text.substr(log_offset) : text;
    };
    const auto deadline = base::Clock::now() + std::chrono::seconds(20);
    while (base::Clock::now() < deadline) {
      if (auto status = process_->poll()) {
        process_.reset();
        std::string text = this_run_log();
        *in_use = text.find("Address already in use") != std::string::npos;
        return make_error(ErrorKind::kUnavailable, "nginx exited (status " +
                                                       std::to_string(*status) + ") on port " +
                                                       std::to_string(port) + ":\n" + text);
      }
      // nginx writes its pid file after it has bound the listening socket
      // (retrying for a while when the port is taken), so a connection
      // that succeeds only once the pid file is ours reaches nginx, not
      // whoever else holds the port.
      const std::string pid_text = base::read_file(pid_path).value_or("");
      if (!pid_text.empty() && std::atoi(pid_text.c_str()) == process_->pid() &&
          detail::port_accepts(port)) {
        return {};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    (void)stop();
    return make_error(ErrorKind::kTimeout, "nginx did not accept connections on port " +
                                               std::to_string(port) + " within 20 s:\n" +
                                               this_run_log());
  }

  detail::OwnedDir dir_;
  std::vector<int> upstream_ports_;
  int port_ = 0;
  std::optional<base::Subprocess> process_;
};

}  // namespace nebula::testing
