#pragma once

// A real PostgreSQL 15 server for the integration tests: a throwaway
// cluster in a temp directory (initdb), on 127.0.0.1 with a free port, with
// a `nebula` database that the bootstrap superuser `postgres` reaches
// without a password. The tests need the real server, not a fake, because
// what they check is the store's behaviour against it: transactions,
// durability across a restart or a crash, and the store going away and
// coming back.
//
// Debian's postgresql-15 package installs the binaries under
// /usr/lib/postgresql/15/bin and may create and start a default cluster
// (port 5432); that one is never used here. scripts/setup.sh installs the
// package.
//
// Header-only: include it and link nebula_base.

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <pwd.h>
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

// One cluster and its server, owned: the destructor stops the server (fast
// shutdown, then SIGKILL to it and its backends if it does not end) and
// removes the directory, so a failing test leaves no postgres process and
// no files behind. If the test process itself dies, the server receives
// SIGQUIT (immediate shutdown) as a parent-death signal; that signal is
// tied to the thread that started it, so start it from the test's thread,
// not from a short-lived helper thread.
//
// Move-only (start() returns it by value); not thread-safe, but psql() may
// be called from several threads since it only reads the members.
class PostgresProcess {
 public:
  static constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
  static constexpr const char* kDatabase = "nebula";
  static constexpr const char* kUser = "postgres";

  // Creates the cluster, starts the server and creates the database. The
  // error says what failed, with the tool's output or the server's log.
  [[nodiscard]] static Result<PostgresProcess> start() {
    for (const char* tool : {"initdb", "postgres", "psql", "pg_isready"}) {
      const std::filesystem::path path = std::filesystem::path(kBinDir) / tool;
      if (::access(path.c_str(), X_OK) != 0) {
        return make_error(ErrorKind::kUnavailable,
                          "PostgreSQL 15 is not installed (no " + path.string() +
                              "): run scripts/setup.sh, which installs postgresql-15");
      }
    }
    PostgresProcess pg;
    // PostgreSQL refuses to run as root: as root, the cluster belongs to
    // the `postgres` user (which the Debian package creates) and the tools
    // that touch it run as that user.
    pg.as_root_ = ::geteuid() == 0;
    auto dir = detail::OwnedDir::create("nebula-pg");
    if (!dir) return dir.error();
    pg.dir_ = std::move(*dir);
    if (pg.as_root_) {
      for (const char* tool : {"runuser", "setpriv"}) {
        if (find_system_tool(tool).empty()) {
          return make_error(
              ErrorKind::kUnavailable,
              std::string("no ") + tool + " (util-linux) to run PostgreSQL as " + kUser);
        }
      }
      const passwd* user = ::getpwnam(kUser);
      if (user == nullptr) {
        return make_error(ErrorKind::kUnavailable,
                          std::string("no `") + kUser +
                              "` user: run scripts/setup.sh, which installs postgresql-15");
      }
      if (::chown(pg.dir_.path().c_str(), user->pw_uid, user->pw_gid) != 0) {
        return make_error(ErrorKind::kInternal,
                          "chown " + pg.dir_.path().string() + ": " + std::strerror(errno));
      }
    }

    // --no-sync only skips initdb's own flush of the files it writes; the
    // server keeps fsync on, so a restart or a crash of the server (not of
    // the machine) finds every committed transaction. --auth=trust: the tests
    // connect as `postgres` without a password, over TCP on loopback only.
    // --no-locale (C collation) with UTF8: the same ordering on every
    // machine, whatever locales it has.
    std::vector<std::string> initdb = {bin("initdb"),     "--pgdata=" + pg.data_dir().string(),
                                       "--auth=trust",    std::string("--username=") + kUser,
                                       "--encoding=UTF8", "--no-locale",
                                       "--no-sync",       "--no-instructions"};
    if (pg.as_root_) {
      initdb.insert(initdb.begin(), {find_system_tool("runuser"), "-u", kUser, "--"});
    }
    auto init = detail::run_tool(initdb, "", pg.dir_.path(), std::chrono::minutes(2));
    if (!init) return init.error();
    if (init->status != 0) {
      return make_error(ErrorKind::kInternal, detail::describe("initdb", *init));
    }

    // The port is free when picked but may be taken before the server binds
    // it; then another one is tried.
    std::string last_error;
    for (int attempt = 0; attempt < 5 && !pg.server_; ++attempt) {
      auto port = detail::pick_free_port();
      if (!port) return port.error();
      bool in_use = false;
      auto started = pg.start_server(*port, &in_use);
      if (!started) {
        if (!in_use) return started.error();
        last_error = started.error().message;
      }
    }
    if (!pg.server_) {
      return make_error(ErrorKind::kUnavailable,
                        "postgres found no free port in 5 attempts: " + last_error);
    }

    // The bootstrap superuser `postgres` (initdb --username) is the role the
    // tests and the DSN use, so only the database is missing.
    auto created = pg.psql(std::string("CREATE DATABASE ") + kDatabase, "postgres");
    if (!created) return created.error();
    return pg;
  }

  PostgresProcess(PostgresProcess&& other) noexcept
      : dir_(std::move(other.dir_)),
        as_root_(other.as_root_),
        port_(std::exchange(other.port_, 0)),
        server_(std::exchange(other.server_, std::nullopt)) {}
  PostgresProcess& operator=(PostgresProcess&&) = delete;
  PostgresProcess(const PostgresProcess&) = delete;
  PostgresProcess& operator=(const PostgresProcess&) = delete;

  ~PostgresProcess() {
    try {
      (void)stop();
    } catch (...) {
      // Nothing can be reported from here; kill_hard() has run or the
      // server was gone already.
    }
    // dir_ is removed by its own destructor, after the server is gone.
  }

  // postgresql://postgres@127.0.0.1:PORT/nebula; stays the same across
  // restart().
  [[nodiscard]] std::string dsn() const {
    return std::string("postgresql://") + kUser + "@127.0.0.1:" + std::to_string(port_) + "/" +
           kDatabase;
  }
  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] bool running() const noexcept { return server_.has_value(); }
  // The postmaster's pid, or -1 when stopped.
  [[nodiscard]] pid_t pid() const noexcept { return server_ ? server_->pid() : -1; }
  // The temp directory: data/ (the cluster), the server's unix socket and
  // postgres.log.
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }
  [[nodiscard]] std::filesystem::path data_dir() const { return dir_.path() / "data"; }
  // Everything the server logged, across restarts.
  [[nodiscard]] std::string log() const { return base::read_file(log_path()).value_or(""); }

  // Runs `sql` (one or more statements) with psql against `database` and
  // returns what it printed, unaligned and tuples only: one line per row,
  // columns separated by '|', without the final newline (so a single value
  // compares as "3"). Command tags are not printed. The first failing
  // statement stops the script and is the error, with psql's message.
  [[nodiscard]] Result<std::string> psql(const std::string& sql,
                                         const std::string& database = kDatabase) const {
    // Over TCP as `postgres` with trust: psql itself may run as root, and
    // -X keeps a ~/.psqlrc out of the output.
    auto run = detail::run_tool(
        {bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
         std::to_string(port_), "-U", kUser, "-d", database, "-f", "-"},
        sql, dir_.path(), std::chrono::seconds(60));
    if (!run) return run.error();
    if (run->status != 0) return make_error(ErrorKind::kInternal, detail::describe("psql", *run));
    std::string out = std::move(run->out);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  // Fast shutdown (SIGINT): open transactions are rolled back, clients are
  // disconnected, and a checkpoint is written. A server that has not ended
  // after 30 s is killed (kill_hard()). Returns the exit status (0 after a
  // clean shutdown), -1 when it was not running.
  int stop() {
    if (!server_) return -1;
    server_->send_signal(SIGINT);
    if (auto status = server_->wait_for(base::Clock::now() + std::chrono::seconds(30))) {
      server_.reset();
      return *status;
    }
    kill_hard();
    return 128 + SIGKILL;
  }

  // Stops the server if it runs, then starts it again on the same port
  // and data directory, so that dsn() stays valid: the store going away
  // and coming back. After kill_hard() the server first recovers from its
  // WAL. An error when it does not come back (the port was taken
  // meanwhile, or the log says why).
  [[nodiscard]] Status restart() {
    (void)stop();
    return start_server(port_, nullptr);
  }

  // SIGKILL to the postmaster and to every backend and auxiliary process
  // it started, as a crash of the machine would end them, without a
  // shutdown checkpoint. Killing only the postmaster would leave its
  // children running (they only notice its death later) and holding the
  // shared memory that a restart needs.
  void kill_hard() noexcept {
    if (!server_) return;
    const pid_t postmaster = server_->pid();
    // Stopped first, so that it starts no new children while they are
    // collected.
    ::kill(postmaster, SIGSTOP);
    for (pid_t child : children_of(postmaster)) ::kill(child, SIGKILL);
    server_->send_signal(SIGKILL);
    (void)server_->wait();
    server_.reset();
  }

 private:
  PostgresProcess() = default;

  [[nodiscard]] static std::string bin(const char* tool) {
    return (std::filesystem::path(kBinDir) / tool).string();
  }

  // runuser and setpriv are in util-linux, in /usr/sbin and /usr/bin on
  // Debian; looked up by path because a test's PATH may lack the sbin
  // directories.
  [[nodiscard]] static std::string find_system_tool(const std::string& name) {
    for (const char* dir : {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"}) {
      std::string path = dir + name;
      if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return {};
  }

  [[nodiscard]] std::filesystem::path log_path() const { return dir_.path() / "postgres.log"; }

  // The pids whose parent is `parent`, from /proc.
  [[nodiscard]] static std::vector<pid_t> children_of(pid_t parent) noexcept {
    std::vector<pid_t> children;
    try {
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces
        // and parentheses, so the fields are read after the last ')'.
        const std::string stat = base::read_file(entry.path() / "stat").value_or("");
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        const auto fields = stat.substr(close + 1);  // " S PPID …"
        const auto ppid_start = fields.find_first_of("0123456789");
        if (ppid_start == std::string::npos) continue;
        if (std::stol(fields.substr(ppid_start)) == parent) children.push_back(std::stoi(name));
      }
    } catch (...) {
      // A process that vanished mid-read; those found so far are enough.
    }
    return children;
  }

  // The first pid line of data/postmaster.pid, which the server writes
  // once it owns the data directory.
  [[nodiscard]] pid_t pid_file_pid() const {
    const std::string text = base::read_file(data_dir() / "postmaster.pid").value_or("");
    try {
      return text.empty() ? -1 : static_cast<pid_t>(std::stol(text));
    } catch (...) {
      return -1;
    }
  }

  // Starts the server on `port` and waits (up to 20 s) until it accepts
  // connections on it. `in_use`, when given, is set when the port was taken.
  [[nodiscard]] Status start_server(int port, bool* in_use) {
    port_ = port;
    std::error_code ec;
    const auto log_offset =
        std::filesystem::exists(log_path(), ec) ? std::filesystem::file_size(log_path(), ec) : 0;
    // Only loopback TCP, and the unix socket in our own directory (not
    // /var/run/postgresql, where the default cluster's is). fsync stays on
    // (the default): the tests check that committed data survives.
    std::vector<std::string> argv = {bin("postgres"), "-D", data_dir().string()};
    argv.insert(argv.end(), {"-p", std::to_string(port)});
    argv.insert(argv.end(), {"-c", "listen_addresses=127.0.0.1"});
    argv.insert(argv.end(), {"-k", dir_.path().string()});
    base::SpawnOptions options;
    options.search_path = false;
    options.in = base::Stdio::null();
    // Appended: a test that restarts the server keeps every run's log.
    options.out = base::Stdio::file(log_path(), /*append=*/true);
    options.err = base::Stdio::to_stdout();
    options.cwd = dir_.path();
    if (as_root_) {
      // setpriv rather than runuser for the server: runuser stays as a
      // parent process that hides the postmaster's pid, and answers a
      // SIGTERM by passing it on and sending SIGKILL two seconds later,
      // which a shutdown checkpoint may outlast. setpriv execs the server
      // itself, so the child is the postmaster. The
      // parent-death signal is set by setpriv after it changes the user,
      // since changing credentials clears one set before.
      argv.insert(argv.begin(),
                  {find_system_tool("setpriv"), std::string("--reuid=") + kUser,
                   std::string("--regid=") + kUser, "--init-groups", "--pdeathsig=SIGQUIT", "--"});
    } else {
      options.parent_death_signal = SIGQUIT;
    }
    auto started = base::Subprocess::start(argv, options);
    if (!started) return started.error();
    server_.emplace(std::move(*started));

    const auto this_run_log = [&] {
      std::string text = log();
      return log_offset < text.size() ? text.substr(log_offset) : text;
    };
    const auto deadline = base::Clock::now() + std::chrono::seconds(20);
    while (base::Clock::now() < deadline) {
      if (auto status = server_->poll()) {
        server_.reset();
        std::string text = this_run_log();
        if (in_use != nullptr) *in_use = text.find("Address already in use") != std::string::npos;
        return make_error(ErrorKind::kUnavailable, "postgres exited (status " +
                                                       std::to_string(*status) + ") on port " +
                                                       std::to_string(port) + ":\n" + text);
      }
      // Ours, not another server answering on the port, and accepting
      // connections (not still starting up or recovering).
      if (pid_file_pid() == server_->pid()) {
        auto ready =
            detail::run_tool({bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                              std::to_string(port), "-U", kUser, "-d", "postgres", "-t", "2"},
                             "", dir_.path(), std::chrono::seconds(10));
        if (ready && ready->status == 0) return {};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill_hard();
    return make_error(ErrorKind::kTimeout, "postgres did not accept connections on port " +
                                               std::to_string(port) + " within 20 s:\n" +
                                               this_run_log());
  }

  detail::OwnedDir dir_;
  bool as_root_ = false;
  int port_ = 0;
  std::optional<base::Subprocess> server_;
};

}  // namespace nebula::testing
