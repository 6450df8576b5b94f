#pragma once

#include <filesystem>
#include <optional>
#include <signal.h>
#include <string>
#include <sys/types.h>
#include <vector>

#include "base/subprocess.hpp"
#include "http/client.hpp"

namespace nebula::testing {

// A real `nebula serve` child process on 127.0.0.1 with a free port and its
// own data directory. The destructor stops it (SIGTERM, then SIGKILL).
class ServerProcess {
 public:
  ServerProcess(std::filesystem::path data_dir, std::vector<std::string> extra_args = {});

  // The subcommand and its leading arguments, "serve" by default (e.g.
  // {"serve-one", "fn.wasm"}); --listen and --data-dir follow.
  void set_command(std::vector<std::string> command) { command_ = std::move(command); }
  // The --listen address, "127.0.0.1:0" (any free port) by default; a fixed
  // one keeps the port across restarts (a load balancer's upstream).
  void set_listen(std::string listen) { listen_ = std::move(listen); }
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the server and waits until it prints its address; false on
  // failure (the reason is in log()).
  [[nodiscard]] bool start();
  // Sends `sig` and waits for exit; returns the exit status (or 128+signal).
  int stop(int sig = SIGTERM);
  void kill9() { (void)stop(SIGKILL); }

  [[nodiscard]] const std::string& url() const { return url_; }
  [[nodiscard]] http::Client client(std::string token = {}) const {
    return http::Client(url_, token);
  }
  [[nodiscard]] std::string log() const;
  [[nodiscard]] pid_t pid() const { return process_ ? process_->pid() : -1; }

 private:
  std::filesystem::path data_dir_;
  std::vector<std::string> extra_args_;
  std::vector<std::string> command_ = {"serve"};
  std::string listen_ = "127.0.0.1:0";
  std::filesystem::path log_path_;
  std::optional<base::Subprocess> process_;
  std::string url_;
};

// A fresh, empty directory under the system temp dir, removed by the
// destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace nebula::testing
