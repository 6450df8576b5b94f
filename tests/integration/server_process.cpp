#include "integration/server_process.hpp"

#include <chrono>
#include <random>
#include <thread>
#include <unistd.h>

#include "base/files.hpp"

namespace nebula::testing {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("nebula-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ServerProcess::ServerProcess(std::filesystem::path data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  log_path_ = data_dir_.string() + ".server.log";
}

ServerProcess::~ServerProcess() {
  if (process_) (void)stop(SIGTERM);
  std::error_code ec;
  std::filesystem::remove(log_path_, ec);
}

std::string ServerProcess::log() const {
  return base::read_file(log_path_).value_or("");
}

bool ServerProcess::start() {
  std::vector<std::string> args = {NEBULA_BIN};
  args.insert(args.end(), command_.begin(), command_.end());
  args.insert(args.end(), {"--listen", listen_, "--data-dir", data_dir_.string()});
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  // Appended: a test that restarts the server keeps every run's log.
  std::error_code ec;
  const auto offset =
      std::filesystem::exists(log_path_, ec) ? std::filesystem::file_size(log_path_) : 0;
  base::SpawnOptions options;
  options.search_path = false;
  options.in = base::Stdio::null();
  options.out = base::Stdio::file(log_path_, /*append=*/true);
  options.err = base::Stdio::to_stdout();
  // A test that crashes leaves no server behind.
  options.parent_death_signal = SIGKILL;
  auto started = base::Subprocess::start(args, options);
  if (!started) return false;
  process_.emplace(std::move(*started));
  // Wait for "listening on http://…" in this run's part of the log.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = log().substr(offset);
    if (auto pos = text.find("listening on http://"); pos != std::string::npos) {
      auto end = text.find('\n', pos);
      if (end != std::string::npos) {
        url_ = text.substr(pos + 13, end - pos - 13);
        if (url_.find(' ') != std::string::npos) url_ = url_.substr(0, url_.find(' '));
        return true;
      }
    }
    if (process_->poll()) {
      process_.reset();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int ServerProcess::stop(int sig) {
  if (!process_) return -1;
  process_->send_signal(sig);
  auto status = process_->wait_for(base::Clock::now() + std::chrono::seconds(30));
  const int result = status ? *status : process_->terminate(std::chrono::milliseconds(0));
  process_.reset();
  url_.clear();
  return result;
}

}  // namespace nebula::testing
