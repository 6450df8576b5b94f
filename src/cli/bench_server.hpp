#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "core/result.hpp"

namespace nebula::cli::benchmark {

// A `nebula serve` child that the benchmark starts for itself: the same
// binary, loopback only, a free port, its own data directory. The child
// gets SIGTERM if the benchmark dies first (PR_SET_PDEATHSIG), so an
// interrupted benchmark leaves no server behind; the server in turn removes
// its warm containers when it stops. Owned by one thread.
class ServerChild {
 public:
  // Starts `executable serve …` with its data under `work_dir` and its log
  // in work_dir/server.log, and waits until it prints its address.
  [[nodiscard]] static Result<std::unique_ptr<ServerChild>> start(
      const std::string& executable, const std::filesystem::path& work_dir,
      std::vector<std::string> extra_args);

  ServerChild(const ServerChild&) = delete;
  ServerChild& operator=(const ServerChild&) = delete;
  ~ServerChild();

  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::filesystem::path& log_path() const noexcept { return log_path_; }
  // The last `max_bytes` of the server's log, for error messages.
  [[nodiscard]] std::string log_tail(std::size_t max_bytes = 2000) const;

  // SIGTERM, then waits (SIGKILL after `grace`); returns the exit status, or
  // 128 + signal. The server finishes in-flight calls and removes its warm
  // containers before it exits.
  int stop(std::chrono::seconds grace = std::chrono::seconds(60));

 private:
  ServerChild(pid_t pid, int stdout_fd, std::filesystem::path log_path)
      : pid_(pid), stdout_fd_(stdout_fd), log_path_(std::move(log_path)) {}

  pid_t pid_ = -1;
  int stdout_fd_ = -1;  // read end of the child's stdout (kept open: no SIGPIPE)
  std::filesystem::path log_path_;
  std::string url_;
};

// A fresh directory under the system temp dir, removed with everything in
// it by the destructor.
class TempDir {
 public:
  [[nodiscard]] static Result<TempDir> create(const std::string& prefix);
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

}  // namespace nebula::cli::benchmark
