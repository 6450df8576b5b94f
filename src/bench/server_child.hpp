#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

#include "base/subprocess.hpp"
#include "core/result.hpp"

namespace nebula::bench {

// A `nebula serve` child that the benchmark starts for itself: the same
// binary, loopback only, a free port, its own data directory. The child
// gets SIGTERM if the benchmark's main thread ends first
// (PR_SET_PDEATHSIG), so an interrupted benchmark leaves no server behind;
// the server in turn removes its warm containers when it stops. Move-only,
// owned by the thread that started it.
class ServerChild {
 public:
  // Starts `executable serve …` with its data under `work_dir` and its log
  // in work_dir/server.log, and waits until it prints its address.
  [[nodiscard]] static Result<ServerChild> start(const std::string& executable,
                                                 const std::filesystem::path& work_dir,
                                                 std::vector<std::string> extra_args);

  ServerChild(ServerChild&&) noexcept = default;
  ServerChild& operator=(ServerChild&&) noexcept = default;
  ServerChild(const ServerChild&) = delete;
  ServerChild& operator=(const ServerChild&) = delete;
  // Stops a server that still runs, as stop() does with a 30 s grace.
  ~ServerChild();

  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  [[nodiscard]] const std::filesystem::path& log_path() const noexcept { return log_path_; }
  // The last `max_bytes` of the server's log, for error messages.
  [[nodiscard]] std::string log_tail(std::size_t max_bytes = 2000) const;

  // SIGTERM, then waits (SIGKILL after `grace`); returns the exit status, or
  // 128 + signal. The server finishes in-flight calls and removes its warm
  // containers before it exits.
  int stop(std::chrono::seconds grace = std::chrono::seconds(60));

 private:
  ServerChild(base::Subprocess process, std::filesystem::path log_path)
      : process_(std::move(process)), log_path_(std::move(log_path)) {}

  // Its stdout pipe stays open until the end, so that a late write by the
  // server never meets a closed pipe.
  base::Subprocess process_;
  std::filesystem::path log_path_;
  std::string url_;
};

}  // namespace nebula::bench
