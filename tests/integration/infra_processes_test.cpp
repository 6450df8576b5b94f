// The helpers that start a real PostgreSQL and a real nginx for the
// multi-node tests (postgres_process.hpp, nginx_process.hpp), checked on
// their own: a cluster that answers SQL, keeps committed rows across a
// restart and a crash, and leaves nothing behind; an nginx that proxies to
// its upstreams with the configuration the tests rely on (bodies, the
// Authorization header, a dead node skipped, a POST never resent).
//
// The upstreams are a tiny HTTP server in this file rather than `nebula
// serve`: it records exactly what nginx sent and can misbehave on purpose
// (take a request and close without answering), which the real server
// does not.
//
// Both programs come from scripts/setup.sh (postgresql-15, nginx); without
// them the tests fail and say so.
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "integration/nginx_process.hpp"
#include "integration/postgres_process.hpp"

namespace nebula::testing {
namespace {

// ----- processes -------------------------------------------------------

// True while `pid` exists and is not a zombie (an orphan that init has not
// reaped yet has ended all the same).
bool alive(pid_t pid) {
  const std::string stat = base::read_file("/proc/" + std::to_string(pid) + "/stat").value_or("");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

std::string value_or_failure(const Result<std::string>& result) {
  if (!result) {
    ADD_FAILURE() << result.error().message;
    return "<error>";
  }
  return *result;
}

// ----- a tiny HTTP/1.1 upstream ---------------------------------------

// An HTTP/1.1 server on 127.0.0.1 port 0, a thread per connection, with
// keep-alive (nginx reuses its connections to the upstream). kAnswer
// answers 200 with "<name> <METHOD> <body bytes>"; kDrop reads the whole
// request and closes the connection without answering, as a node that
// crashes mid-request would.
class TinyUpstream {
 public:
  enum class Mode { kAnswer, kDrop };
  struct Request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lowercase names
    size_t body_size = 0;
  };

  TinyUpstream(std::string name, Mode mode) : name_(std::move(name)), mode_(mode) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "upstream " << name_ << " cannot listen: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TinyUpstream() {
    stopping_ = true;
    // shutdown() wakes a blocked accept() or recv() on Linux; the threads
    // then see stopping_ and end.
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  TinyUpstream(const TinyUpstream&) = delete;
  TinyUpstream& operator=(const TinyUpstream&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  [[nodiscard]] size_t hits() const { return requests().size(); }

 private:
  void accept_loop() {
    while (!stopping_) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_ || errno == EINVAL || errno == EBADF) return;
        continue;
      }
      std::lock_guard lock(mu_);
      open_fds_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buffer;
    char chunk[64 * 1024];
    const auto fill = [&] {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
      return true;
    };
    while (!stopping_) {
      size_t head_end;
      while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!fill()) return finish(fd);
      }
      Request request;
      std::istringstream head(buffer.substr(0, head_end));
      std::string line;
      std::getline(head, line);
      std::istringstream request_line(line);
      request_line >> request.method >> request.target;
      while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        request.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      request.body_size = request.headers.count("content-length")
                              ? std::stoul(request.headers["content-length"])
                              : 0;
      buffer.erase(0, head_end + 4);
      while (buffer.size() < request.body_size) {
        if (!fill()) return finish(fd);
      }
      buffer.erase(0, request.body_size);
      const std::string method = request.method;
      const size_t body_size = request.body_size;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(std::move(request));
      }
      if (mode_ == Mode::kDrop) return finish(fd);
      const std::string body = name_ + " " + method + " " + std::to_string(body_size);
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(response.size())) {
        return finish(fd);
      }
    }
    finish(fd);
  }

  void finish(int fd) {
    std::lock_guard lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
  }

  std::string name_;
  Mode mode_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<int> open_fds_;
  std::vector<Request> requests_;
};

struct Response {
  int status = 0;
  std::string body;
};

// One request on its own connection (Connection: close, so the response
// ends at end-of-file). With a `content_length_override` only the head goes
// out, announcing that many bytes: a request nginx must refuse on its size.
Response http_request(int port, const std::string& method, const std::string& target,
                      const std::string& body = {},
                      const std::vector<std::string>& extra_headers = {},
                      size_t content_length_override = 0) {
  Response response;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  timeval timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    ADD_FAILURE() << "connect to 127.0.0.1:" << port << ": " << std::strerror(errno);
    return response;
  }
  const size_t length = content_length_override ? content_length_override : body.size();
  std::string request = method + " " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\n";
  if (length > 0 || method == "POST")
    request += "Content-Length: " + std::to_string(length) + "\r\n";
  for (const auto& header : extra_headers) request += header + "\r\n";
  request += "\r\n";
  if (!content_length_override) request += body;
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // nginx may refuse before reading everything
    sent += static_cast<size_t>(n);
  }
  // Read until end-of-file: nginx closes the connection after it has
  // written the request's access log line, which the tests then read. A
  // refused request is read only until its body is complete: nginx keeps
  // that connection open for a while (lingering close), waiting for the
  // request body it refused.
  std::string raw;
  char chunk[16 * 1024];
  for (ssize_t n; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) {
    raw.append(chunk, static_cast<size_t>(n));
    if (!content_length_override) continue;
    const auto end = raw.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    std::string head = raw.substr(0, end);
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto field = head.find("\r\ncontent-length:");
    if (field != std::string::npos && raw.size() >= end + 4 + std::stoul(head.substr(field + 17))) {
      break;
    }
  }
  ::close(fd);
  if (raw.rfind("HTTP/1.", 0) == 0 && raw.size() > 12)
    response.status = std::stoi(raw.substr(9, 3));
  if (auto end = raw.find("\r\n\r\n"); end != std::string::npos)
    response.body = raw.substr(end + 4);
  return response;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) found.push_back(line);
  }
  return found;
}

// ----- PostgreSQL ------------------------------------------------------

TEST(PostgresProcessTest, AnswersSqlAndKeepsCommittedRowsAcrossRestartAndCrash) {
  auto pg = PostgresProcess::start();
  ASSERT_TRUE(pg) << pg.error().message;
  EXPECT_EQ(pg->dsn(), "postgresql://postgres@127.0.0.1:" + std::to_string(pg->port()) + "/nebula");
  EXPECT_EQ(value_or_failure(pg->psql("show fsync")), "on");
  EXPECT_EQ(value_or_failure(pg->psql("select current_database(), current_user")),
            "nebula|postgres");
  EXPECT_EQ(value_or_failure(pg->psql("create table t(x int);\n"
                                      "insert into t values (1), (2), (3);\n"
                                      "select x from t order by x;")),
            "1\n2\n3");

  // A failing statement is an error with psql's message, and stops there.
  auto bad = pg->psql("select no_such_column from t; insert into t values (99);");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("no_such_column"), std::string::npos) << bad.error().message;

  // Fast shutdown and back, on the same port: the DSN stays valid.
  const int port = pg->port();
  const pid_t first = pg->pid();
  EXPECT_EQ(pg->stop(), 0) << pg->log();
  EXPECT_FALSE(pg->running());
  EXPECT_FALSE(alive(first));
  EXPECT_FALSE(pg->psql("select 1"));
  auto restarted = pg->restart();
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_EQ(pg->port(), port);
  EXPECT_EQ(value_or_failure(pg->psql("select sum(x) from t")), "6");

  // A crash: every server process killed, no shutdown checkpoint. The
  // committed insert is in the WAL (fsync on) and recovery replays it.
  EXPECT_EQ(value_or_failure(pg->psql("insert into t values (4); select count(*) from t")), "4");
  const pid_t second = pg->pid();
  pg->kill_hard();
  EXPECT_FALSE(alive(second));
  restarted = pg->restart();
  ASSERT_TRUE(restarted) << restarted.error().message;
  EXPECT_EQ(value_or_failure(pg->psql("select count(*), sum(x) from t")), "4|10");
  EXPECT_NE(pg->log().find("database system was interrupted"), std::string::npos) << pg->log();
}

TEST(PostgresProcessTest, DestructorLeavesNoProcessAndNoFiles) {
  std::vector<pid_t> pids;
  std::filesystem::path dir;
  // A client that keeps its connection (and a transaction) open across the
  // destruction, as a server's pool would: fast shutdown must end its
  // backend too. Declared first, so that it outlives the server.
  std::optional<base::Subprocess> client;
  {
    auto pg = PostgresProcess::start();
    ASSERT_TRUE(pg) << pg.error().message;
    dir = pg->dir();
    base::SpawnOptions options;
    options.search_path = false;
    options.in = base::Stdio::pipe();
    options.out = base::Stdio::null();
    options.err = base::Stdio::null();
    auto started = base::Subprocess::start(
        {std::string(PostgresProcess::kBinDir) + "/psql", "-X", "-q", pg->dsn()}, options);
    ASSERT_TRUE(started) << started.error().message;
    client.emplace(std::move(*started));
    ASSERT_TRUE(client->write_stdin("begin;\nselect 1;\n"));
    const std::string others = "from pg_stat_activity where pid <> pg_backend_pid()";
    for (int i = 0; i < 200; ++i) {
      if (value_or_failure(pg->psql("select count(*) " + others +
                                    " and backend_type = 'client backend'")) == "1") {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // The postmaster and every process it started (the client's backend,
    // checkpointer, walwriter, launchers…), as the server lists them.
    const std::string listed = value_or_failure(pg->psql("select pid " + others));
    pids.push_back(pg->pid());
    std::istringstream in(listed);
    for (std::string line; std::getline(in, line);) pids.push_back(std::stoi(line));
    ASSERT_GE(pids.size(), 5U) << listed;
    for (pid_t pid : pids) EXPECT_TRUE(alive(pid)) << pid;
  }
  for (pid_t pid : pids) EXPECT_FALSE(alive(pid)) << "pid " << pid << " outlived PostgresProcess";
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
}

// ----- nginx -----------------------------------------------------------

TEST(NginxProcessTest, ProxiesBodiesAndAuthorizationAndStopsCleanly) {
  TinyUpstream upstream("a", TinyUpstream::Mode::kAnswer);
  pid_t master = -1;
  std::filesystem::path dir;
  {
    auto nginx = NginxProcess::start({upstream.port()});
    ASSERT_TRUE(nginx) << nginx.error().message;
    master = nginx->pid();
    dir = nginx->dir();
    EXPECT_EQ(nginx->url(), "http://127.0.0.1:" + std::to_string(nginx->port()));

    auto get = http_request(nginx->port(), "GET", "/v1/functions?x=1", {},
                            {"Authorization: Bearer secret-token"});
    EXPECT_EQ(get.status, 200) << nginx->error_log();
    EXPECT_EQ(get.body, "a GET 0");

    const std::string big(3 * 1024 * 1024 + 17, 'w');  // past the in-memory body buffer
    auto post = http_request(nginx->port(), "POST", "/v1/modules", big,
                             {"Authorization: Bearer secret-token"});
    EXPECT_EQ(post.status, 200) << nginx->error_log();
    EXPECT_EQ(post.body, "a POST " + std::to_string(big.size()));

    // Over client_max_body_size (64m): refused on the header alone.
    auto huge =
        http_request(nginx->port(), "POST", "/v1/modules", {}, {}, size_t{65} * 1024 * 1024);
    EXPECT_EQ(huge.status, 413);

    auto seen = upstream.requests();
    ASSERT_EQ(seen.size(), 2U);
    EXPECT_EQ(seen[0].target, "/v1/functions?x=1");
    EXPECT_EQ(seen[0].headers["authorization"], "Bearer secret-token");
    EXPECT_EQ(seen[0].headers["host"], "127.0.0.1:" + std::to_string(nginx->port()));
    EXPECT_EQ(seen[0].headers.count("connection"), 0U);  // keep-alive to the upstream
    EXPECT_EQ(seen[1].headers["authorization"], "Bearer secret-token");
    EXPECT_EQ(seen[1].body_size, big.size());
    EXPECT_TRUE(alive(master));
  }
  EXPECT_FALSE(alive(master));
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
}

TEST(NginxProcessTest, SkipsADeadNodeEvenForPost) {
  // A socket bound but never listening: connections to it are refused, and
  // holding it keeps another process (a parallel test) from taking the port.
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_holder{holder};
  const std::optional<int> dead = ntohs(addr.sin_port);
  TinyUpstream live("live", TinyUpstream::Mode::kAnswer);
  auto nginx = NginxProcess::start({*dead, live.port()});
  ASSERT_TRUE(nginx) << nginx.error().message;
  // Refused connections are failures before anything was sent, so even a
  // POST moves on to the next node.
  for (int i = 0; i < 4; ++i) {
    auto res = http_request(nginx->port(), "POST", "/v1/functions/f/invoke", "payload");
    EXPECT_EQ(res.status, 200) << nginx->error_log();
    EXPECT_EQ(res.body, "live POST 7");
  }
  EXPECT_EQ(live.hits(), 4U);
  const std::string log = nginx->access_log_of(4);
  EXPECT_FALSE(lines_with(log, "127.0.0.1:" + std::to_string(*dead)).empty()) << log;
}

TEST(NginxProcessTest, NeverResendsAPostButRetriesAGet) {
  // The dropper is listed first, so round robin starts with it.
  TinyUpstream dropper("dropper", TinyUpstream::Mode::kDrop);
  TinyUpstream good("good", TinyUpstream::Mode::kAnswer);
  auto nginx = NginxProcess::start({dropper.port(), good.port()});
  ASSERT_TRUE(nginx) << nginx.error().message;

  int bad_gateway = 0;
  for (int i = 0; i < 4; ++i) {
    auto res = http_request(nginx->port(), "POST", "/v1/functions/f/invoke", "once");
    if (res.status == 502) {
      ++bad_gateway;
    } else {
      EXPECT_EQ(res.status, 200);
      EXPECT_EQ(res.body, "good POST 4");
    }
  }
  // Every POST reached exactly one node: the ones the dropper took were
  // answered 502, not sent again to the good node.
  EXPECT_GE(bad_gateway, 1);
  EXPECT_EQ(dropper.hits(), static_cast<size_t>(bad_gateway));
  EXPECT_EQ(good.hits(), static_cast<size_t>(4 - bad_gateway));
  for (const auto& line : lines_with(nginx->access_log_of(4), "POST ")) {
    EXPECT_EQ(line.find(", "), std::string::npos) << "POST sent to two nodes: " << line;
  }

  // A GET the dropper takes is passed on to the good node. A fresh nginx,
  // so that round robin starts again with the dropper (the first one has
  // it out of rotation for fail_timeout).
  EXPECT_EQ(nginx->stop(), 0);
  auto fresh = NginxProcess::start({dropper.port(), good.port()});
  ASSERT_TRUE(fresh) << fresh.error().message;
  const size_t dropper_before = dropper.hits();
  auto res = http_request(fresh->port(), "GET", "/v1/functions");
  EXPECT_EQ(res.status, 200) << fresh->error_log();
  EXPECT_EQ(res.body, "good GET 0");
  EXPECT_EQ(dropper.hits(), dropper_before + 1);
  const std::string fresh_log = fresh->access_log_of(1);
  EXPECT_EQ(lines_with(fresh_log, "GET /v1/functions 200 upstream=127.0.0.1:" +
                                      std::to_string(dropper.port()) +
                                      ", 127.0.0.1:" + std::to_string(good.port()))
                .size(),
            1U)
      << fresh_log;
}

}  // namespace
}  // namespace nebula::testing
