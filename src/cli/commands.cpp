#include "cli/commands.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string_view>
#include <termios.h>
#include <thread>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "base/console.hpp"
#include "base/files.hpp"
#include "base/format.hpp"
#include "http/client.hpp"

namespace nebula::cli {
namespace {

namespace json = boost::json;
using base::format_bytes;
using base::format_us;
using base::pad;
using http::Client;
using http::ClientResponse;
using http::problem_detail;

using base::fail;

double number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return 0;
}

Result<json::value> parse_json(const ClientResponse& res) {
  boost::system::error_code ec;
  auto doc = json::parse(res.body, ec);
  if (ec) return make_error(ErrorKind::kInternal, "server sent invalid JSON: " + ec.message());
  return doc;
}

// "queue;dur=0.010, startup;dur=0.050, …" → value of one metric in ms.
double timing_ms(const std::string& header, const std::string& metric) {
  auto pos = header.find(metric + ";dur=");
  if (pos == std::string::npos) return 0;
  return std::strtod(header.c_str() + pos + metric.size() + 5, nullptr);
}

// A JSON number as a whole number (0 for anything else).
std::int64_t integer(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<std::int64_t>(v.get_uint64());
  if (v.is_double()) return std::llround(v.get_double());
  return 0;
}

std::int64_t integer_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? integer(*v) : 0;
}

// A string member, or `fallback` when it is absent, null or not a string.
std::string text_at(const json::object& o, std::string_view key, std::string_view fallback = "") {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string(fallback);
}

// Unix µs as an ISO 8601 UTC time: 2026-12-01T19:55:43Z (with `millis`,
// 2026-12-01T19:55:43.123Z). "-" for 0, which the API uses for "not yet".
std::string utc_time(std::int64_t us, bool millis = false) {
  if (us <= 0) return "-";
  const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf.data();
  if (millis) {
    std::array<char, 8> ms{};
    std::snprintf(ms.data(), ms.size(), ".%03d", static_cast<int>((us / 1000) % 1000));
    out += ms.data();
  }
  return out + "Z";
}

// Percent-encodes everything but RFC 3986's unreserved characters, for a
// query parameter's value.
std::string query_escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Standard base64 (RFC 4648) to bytes; nullopt on a character outside the
// alphabet. Whitespace is skipped.
std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char ch : in) {
    int v = -1;
    if (ch >= 'A' && ch <= 'Z')
      v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z')
      v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9')
      v = ch - '0' + 52;
    else if (ch == '+')
      v = 62;
    else if (ch == '/')
      v = 63;
    else if (ch == '=')
      break;
    else if (std::isspace(static_cast<unsigned char>(ch)) != 0)
      continue;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// "sha256:9f2b6c0d4e12" for a digest, the image as it is.
std::string short_digest(std::string_view digest) {
  return std::string(digest.substr(0, 19));
}

// What a manifest deploys, in a few words: "wasm sha256:9f2b6c0d4e12  docker img:tag".
std::string variants_text(const json::object& manifest) {
  std::string out;
  if (const auto* w = manifest.if_contains("wasm"); w && w->is_object()) {
    out += "wasm " + short_digest(text_at(w->get_object(), "module", "?"));
  }
  if (const auto* d = manifest.if_contains("docker"); d && d->is_object()) {
    out +=
        (out.empty() ? "" : "  ") + std::string("docker ") + text_at(d->get_object(), "image", "?");
  }
  return out.empty() ? "-" : out;
}

// "HTTP 429 …: detail (retry after 5 s)" when the server said when to come back.
std::string refusal(const ClientResponse& res) {
  std::string text = problem_detail(res);
  if (auto after = res.header("retry-after"); !after.empty()) {
    text += " (retry after " + after + " s)";
  }
  return text;
}

// Stdin, whole, when it is not a terminal; empty otherwise.
std::string read_stdin_unless_terminal() {
  std::string body;
  if (::isatty(STDIN_FILENO) == 0) {
    body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  return body;
}

// Overwrites a string that held a secret before it is freed.
void wipe(std::string& s) {
  volatile char* p = s.data();
  for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

}  // namespace

int deploy(const ClientOptions& copts, const DeployOptions& o) {
  if (o.wasm_file.empty() && o.image.empty()) {
    return fail("deploy needs --wasm FILE, --image IMAGE, or both");
  }
  Client client(copts.server, copts.token);
  json::object manifest;
  if (!o.wasm_file.empty()) {
    auto read = base::read_file(o.wasm_file);
    if (!read) return fail("cannot read " + o.wasm_file);
    std::string bytes = std::move(*read);
    std::fprintf(stderr, "uploading %s (%s)…\n", o.wasm_file.c_str(),
                 format_bytes(static_cast<double>(bytes.size())).c_str());
    auto res = client.request("POST", "/v1/modules", std::move(bytes), "application/wasm");
    if (!res) return fail(res.error().message);
    if (res->status != 201) return fail("module rejected: " + problem_detail(*res));
    auto doc = parse_json(*res);
    if (!doc) return fail(doc.error().message);
    manifest["wasm"] = json::object{{"module", doc->at("digest")}};
  }
  if (!o.image.empty()) manifest["docker"] = json::object{{"image", o.image}};
  if (!o.default_runtime.empty()) manifest["default_runtime"] = o.default_runtime;
  json::object env;
  for (const auto& kv : o.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail("--env expects KEY=VALUE, got '" + kv + "'");
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& kv : o.secret_env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size())
      return fail(
          "--secret-env expects KEY=SECRET (a secret stored with `nebula secret put`), got '" + kv +
          "'");
    env[kv.substr(0, eq)] = json::object{{"secret", kv.substr(eq + 1)}};
  }
  if (!env.empty()) manifest["env"] = std::move(env);
  if (!o.args.empty()) {
    json::array args;
    for (const auto& a : o.args) args.emplace_back(a);
    manifest["args"] = std::move(args);
  }
  json::object limits;
  if (o.timeout_ms) limits["timeout_ms"] = *o.timeout_ms;
  if (o.memory_mb) limits["memory_mb"] = *o.memory_mb;
  if (o.max_concurrency) limits["max_concurrency"] = *o.max_concurrency;
  if (!limits.empty()) manifest["limits"] = std::move(limits);
  json::object async;
  if (o.max_retries) async["max_retries"] = *o.max_retries;
  if (o.max_queued) async["max_queued"] = *o.max_queued;
  if (!async.empty()) manifest["async"] = std::move(async);
  if (!o.schedules.empty()) {
    json::array triggers;
    for (const auto& spec : o.schedules) triggers.emplace_back(json::object{{"schedule", spec}});
    manifest["triggers"] = std::move(triggers);
  }
  json::object pool;
  if (o.min_warm) pool["min_warm"] = *o.min_warm;
  if (o.max_warm) pool["max_warm"] = *o.max_warm;
  if (o.idle_timeout_s) pool["idle_timeout_s"] = *o.idle_timeout_s;
  if (!pool.empty()) manifest["docker_pool"] = std::move(pool);
  if (!o.allowed_outbound_hosts.empty()) {
    json::array hosts;
    for (const auto& h : o.allowed_outbound_hosts) hosts.emplace_back(h);
    manifest["allowed_outbound_hosts"] = std::move(hosts);
  }

  auto res = client.request("PUT", "/v1/functions/" + o.name, json::serialize(manifest),
                            "application/json");
  if (!res) return fail(res.error().message);
  if (res->status != 200 && res->status != 201) {
    return fail("deploy of '" + o.name + "' failed: " + problem_detail(*res));
  }
  std::printf("%s %s", res->status == 201 ? "created" : "updated", o.name.c_str());
  if (auto doc = parse_json(*res); doc && doc->is_object()) {
    if (const auto* v = doc->as_object().if_contains("version"); v && v->is_number()) {
      std::printf(" (version %lld)", static_cast<long long>(integer(*v)));
    }
  }
  if (auto* w = manifest.if_contains("wasm")) {
    std::printf("  wasm %s", std::string(w->at("module").as_string()).substr(0, 19).c_str());
  }
  if (!o.image.empty()) std::printf("  docker %s", o.image.c_str());
  std::printf("\n  invoke: curl -d '…' %s/v1/functions/%s/invoke   (or %s/fn/%s/)\n",
              copts.server.c_str(), o.name.c_str(), copts.server.c_str(), o.name.c_str());
  return 0;
}

int invoke(const ClientOptions& copts, const InvokeOptions& o) {
  if (!o.callback.empty() && !o.async) return fail("--callback needs --async");
  std::string body = o.data ? *o.data : read_stdin_unless_terminal();
  Client client(copts.server, copts.token);
  std::string target = "/v1/functions/" + o.name + "/invoke";
  std::string query;
  auto add = [&query](const std::string& param) { query += (query.empty() ? "?" : "&") + param; };
  if (!o.runtime.empty()) add("runtime=" + o.runtime);
  if (o.version) add("version=" + std::to_string(*o.version));
  if (o.async) add("async=true");
  if (!o.callback.empty()) add("callback=" + query_escape(o.callback));
  target += query;
  auto res = client.request("POST", target, std::move(body), "application/octet-stream");
  if (!res) return fail(res.error().message);
  if (o.async) {
    if (res->status != 202) {
      return fail("cannot queue a call of '" + o.name + "': " + refusal(*res));
    }
    auto doc = parse_json(*res);
    if (!doc || !doc->is_object()) return fail("the server's answer to an async call is not JSON");
    const auto& task = doc->as_object();
    const std::string id = text_at(task, "id");
    std::string location = text_at(task, "location", res->header("location"));
    if (location.empty()) location = "/v1/invocations/" + id;
    std::printf("queued %s (GET %s)\n", id.c_str(), location.c_str());
    if (o.verbose) {
      std::fprintf(stderr, "function %s  version %lld  state %s%s%s\n", o.name.c_str(),
                   static_cast<long long>(integer_at(task, "version")),
                   text_at(task, "state", "queued").c_str(),
                   o.callback.empty() ? "" : "  callback ", o.callback.c_str());
      std::fprintf(stderr, "follow it with: nebula invocation %s --wait\n", id.c_str());
    }
    return 0;
  }
  if (res->status == 200) {
    std::fwrite(res->body.data(), 1, res->body.size(), stdout);
    std::fflush(stdout);
  }
  // The summary needs a run: a refusal (404, 429) has no invocation id.
  const bool ran = !res->header("x-nebula-invocation-id").empty();
  if (ran && (o.verbose || res->status != 200)) {
    // An answer without a final newline would run into the summary on a
    // terminal.
    if (res->status == 200 && !res->body.empty() && res->body.back() != '\n' &&
        ::isatty(STDOUT_FILENO) != 0 && ::isatty(STDERR_FILENO) != 0) {
      std::fputc('\n', stderr);
    }
    auto timing = res->header("server-timing");
    std::string version = res->header("x-nebula-version");
    std::fprintf(stderr,
                 "invocation %s  version %s  runtime %s  cold %s  status %u\n"
                 "  queue %s  startup %s  exec %s  total %s\n",
                 res->header("x-nebula-invocation-id").c_str(),
                 version.empty() ? "-" : version.c_str(), res->header("x-nebula-runtime").c_str(),
                 res->header("x-nebula-cold-start").c_str(), res->status,
                 format_us(timing_ms(timing, "queue") * 1000).c_str(),
                 format_us(timing_ms(timing, "startup") * 1000).c_str(),
                 format_us(timing_ms(timing, "exec") * 1000).c_str(),
                 format_us(timing_ms(timing, "total") * 1000).c_str());
  }
  if (res->status != 200) {
    // A call refused before it ran has no summary above: say the status here.
    std::fprintf(stderr, "nebula: %s%s\n", refusal(*res).c_str(),
                 ran ? "" : (" (HTTP " + std::to_string(res->status) + ")").c_str());
    if (auto doc = parse_json(*res); doc && doc->is_object()) {
      if (auto* err = doc->as_object().if_contains("stderr");
          err && err->is_string() && !err->as_string().empty()) {
        std::fprintf(stderr, "--- function stderr ---\n%s\n",
                     std::string(err->as_string()).c_str());
      }
    }
    return 1;
  }
  return 0;
}

int list(const ClientOptions& copts) {
  Client client(copts.server, copts.token);
  auto res = client.request("GET", "/v1/functions");
  if (!res) return fail(res.error().message);
  if (res->status != 200) return fail(problem_detail(*res));
  auto doc = parse_json(*res);
  if (!doc) return fail(doc.error().message);
  const auto& fns = doc->at("functions").as_array();
  if (fns.empty()) {
    std::printf("no functions deployed (nebula deploy NAME --wasm FILE)\n");
    return 0;
  }
  // The name column as wide as the longest name.
  std::size_t name_width = 4;
  for (const auto& v : fns) {
    name_width = std::max(name_width, v.as_object().at("name").as_string().size());
  }
  // The serving version comes last, so that the columns before it keep
  // their places for scripts that read them.
  auto row = [&](std::string_view name, std::string_view variants, std::string_view kind,
                 std::string_view runtime, std::string_view wasm_inv, std::string_view docker_inv,
                 std::string_view wasm_p50, std::string_view docker_p50, std::string_view version) {
    std::printf("%s %s %s %s %s %s %s %s %s\n", pad(name, name_width, false).c_str(),
                pad(variants, 11, false).c_str(), pad(kind, 7, false).c_str(),
                pad(runtime, 7, false).c_str(), pad(wasm_inv, 10, true).c_str(),
                pad(docker_inv, 10, true).c_str(), pad(wasm_p50, 16, true).c_str(),
                pad(docker_p50, 16, true).c_str(), pad(version, 7, true).c_str());
  };
  row("NAME", "VARIANTS", "KIND", "DEFAULT", "WASM INV", "DOCKER INV", "WASM P50 START",
      "DOCKER P50 START", "VERSION");
  for (const auto& v : fns) {
    const auto& f = v.as_object();
    const auto& m = f.at("manifest").as_object();
    std::string variants;
    std::string kind = "-";
    if (m.contains("wasm")) {
      variants += "wasm";
      if (const auto* k = m.at("wasm").as_object().if_contains("kind"); k && k->is_string()) {
        kind = std::string(k->as_string());
      }
    }
    if (m.contains("docker")) variants += variants.empty() ? "docker" : "+docker";
    const auto& stats = f.at("stats").as_object();
    const auto& inv = stats.at("invocations").as_object();
    const auto& p50 = stats.at("p50_startup_us").as_object();
    auto p50_text = [&p50](const char* key) {
      const auto& x = p50.at(key);
      return x.is_null() ? std::string("-") : format_us(number(x));
    };
    auto count = [](const boost::json::value& x) {
      return std::to_string(std::llround(number(x)));
    };
    const auto* version = f.if_contains("version");
    row(f.at("name").as_string(), variants, kind, m.at("default_runtime").as_string(),
        count(inv.at("wasm")), count(inv.at("docker")), p50_text("wasm"), p50_text("docker"),
        version && version->is_number() ? std::to_string(integer(*version)) : std::string("-"));
  }
  return 0;
}

int status(const ClientOptions& copts) {
  Client client(copts.server, copts.token);
  auto res = client.request("GET", "/v1/status");
  if (!res) return fail(res.error().message);
  if (res->status != 200) return fail(problem_detail(*res));
  auto doc = parse_json(*res);
  if (!doc) return fail(doc.error().message);
  const auto& st = doc->as_object();
  auto footprint = [](const boost::json::object& f) {
    return format_bytes(number(f.at("rss_bytes"))) + " RSS, " + format_us(number(f.at("cpu_us"))) +
           " CPU, " + std::to_string(f.at("threads").to_number<std::uint64_t>()) + " threads, " +
           std::to_string(f.at("voluntary_switches").to_number<std::uint64_t>()) + " wakeups";
  };
  const auto& process = st.at("process").as_object();
  std::printf("node        %s (up %llds)\n", std::string(st.at("node").as_string()).c_str(),
              static_cast<long long>(st.at("uptime_s").to_number<std::int64_t>()));
  std::printf("server      %s, %llu fds\n", footprint(process).c_str(),
              static_cast<unsigned long long>(process.at("open_fds").to_number<std::uint64_t>()));
  const auto& wasm = st.at("wasm").as_object();
  std::printf(
      "functions   %llu (%llu wasm variants, %llu in memory; %llu instance slots reserved)\n",
      static_cast<unsigned long long>(st.at("functions").to_number<std::uint64_t>()),
      static_cast<unsigned long long>(wasm.at("prepared_variants").to_number<std::uint64_t>()),
      static_cast<unsigned long long>(wasm.at("loaded").to_number<std::uint64_t>()),
      static_cast<unsigned long long>(wasm.at("instance_slots").to_number<std::uint64_t>()));
  const auto& docker = st.at("docker").as_object();
  if (docker.at("enabled").as_bool()) {
    std::printf(
        "docker      %llu warm containers\n",
        static_cast<unsigned long long>(docker.at("warm_containers").to_number<std::uint64_t>()));
    if (docker.at("engine").is_object()) {
      const auto& engine = docker.at("engine").as_object();
      std::printf(
          "engine      %llu processes: %s\n",
          static_cast<unsigned long long>(engine.at("processes").to_number<std::uint64_t>()),
          footprint(engine).c_str());
    }
  } else {
    std::printf("docker      disabled\n");
  }
  const auto& store = st.at("store").as_object();
  std::printf(
      "store       %s, %llu records waiting; data dir %s\n",
      std::string(store.at("kind").as_string()).c_str(),
      static_cast<unsigned long long>(store.at("records_waiting").to_number<std::uint64_t>()),
      format_bytes(number(st.at("data_dir_bytes"))).c_str());
  return 0;
}

int remove(const ClientOptions& copts, const std::string& name) {
  Client client(copts.server, copts.token);
  auto res = client.request("DELETE", "/v1/functions/" + name);
  if (!res) return fail(res.error().message);
  if (res->status != 204) return fail("cannot remove '" + name + "': " + problem_detail(*res));
  std::printf("removed %s\n", name.c_str());
  return 0;
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

// The server sends a comment every 15 s on an idle stream: this long
// without a byte means the connection is gone.
constexpr auto kStreamIdleLimit = std::chrono::seconds(45);

// Server-Sent Events (the WHATWG event stream format), fed in pieces as
// they arrive; calls `on_event(event, id, data)` for each complete event.
class EventStreamParser {
 public:
  template <class OnEvent>
  void feed(std::string_view bytes, OnEvent&& on_event) {
    line_.append(bytes);
    std::size_t start = 0;
    for (;;) {
      const auto end = line_.find('\n', start);
      if (end == std::string::npos) break;
      std::string_view line(line_.data() + start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start = end + 1;
      if (line.empty()) {
        if (!data_.empty()) {
          if (data_.back() == '\n') data_.pop_back();
          on_event(event_.empty() ? std::string("message") : event_, id_, data_);
        }
        event_.clear();
        data_.clear();
        continue;
      }
      if (line.front() == ':') continue;  // a comment: the keep-alive
      const auto colon = line.find(':');
      std::string_view field = line.substr(0, colon);
      std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (field == "event")
        event_ = value;
      else if (field == "id")
        id_ = value;
      else if (field == "data")
        data_.append(value).push_back('\n');
    }
    line_.erase(0, start);
  }

 private:
  std::string line_;  // bytes after the last complete line
  std::string event_;
  std::string id_;
  std::string data_;
};

// One line per finished invocation, then its message and stderr indented:
//   2026-12-01T19:55:43.123Z 01KB7Y… v3 http wasm ok 0.349 ms
void print_log_event(const json::object& e) {
  const auto* version = e.if_contains("version");
  const auto* runtime = e.if_contains("runtime");
  std::printf("%s %s v%s %s %s %s %.3f ms\n",
              utc_time(integer_at(e, "started_at_us"), true).c_str(), text_at(e, "id", "-").c_str(),
              version && version->is_number() ? std::to_string(integer(*version)).c_str() : "?",
              text_at(e, "trigger", "-").c_str(),
              runtime && runtime->is_string() ? std::string(runtime->get_string()).c_str() : "-",
              text_at(e, "outcome", "-").c_str(),
              static_cast<double>(integer_at(e, "total_us")) / 1000.0);
  const std::string message = text_at(e, "message");
  if (!message.empty()) std::printf("    ! %s\n", message.c_str());
  const std::string err = text_at(e, "stderr");
  std::size_t start = 0;
  while (start < err.size()) {
    auto end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    std::printf("    %.*s\n", static_cast<int>(end - start), err.data() + start);
    start = end + 1;
  }
  std::fflush(stdout);
}

// `nebula logs -f`: GET /v1/functions/NAME/logs?follow=true, read as the
// server writes it (http::Client buffers a whole body, which a stream never
// finishes), until Ctrl-C, SIGTERM or the server ends the stream.
int follow_logs(const ClientOptions& copts, const LogsOptions& o) {
  auto url = boost::urls::parse_uri(copts.server);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    return fail("--server must be an http:// URL such as http://127.0.0.1:8080, got '" +
                copts.server + "'");
  }
  const std::string host(url->host());
  const std::string port = url->has_port() ? std::string(url->port()) : "80";

  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  bool interrupted = false;
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    interrupted = true;
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream.close();
  });

  int exit_code = 0;
  auto run = [&]() -> asio::awaitable<void> {
    auto failed = [&](const std::string& message) { exit_code = fail(message); };
    asio::ip::tcp::resolver resolver(ioc);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(host, port, asio::as_tuple(asio::use_awaitable));
    if (rec) co_return failed("cannot resolve " + host + ": " + rec.message());
    stream.expires_after(std::chrono::seconds(10));
    auto [cec, ep] = co_await stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    if (cec) {
      if (interrupted) co_return;
      co_return failed("cannot reach the Nebula server at " + copts.server + ": " + cec.message() +
                       " (is `nebula serve` running? set --server or NEBULA_SERVER)");
    }
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get,
                                          "/v1/functions/" + o.name + "/logs?follow=true", 11};
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::user_agent, "nebula-cli");
    req.set(bhttp::field::accept, "text/event-stream");
    if (!copts.token.empty()) req.set(bhttp::field::authorization, "Bearer " + copts.token);
    auto [wec, wn] = co_await bhttp::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    if (wec) {
      if (interrupted) co_return;
      co_return failed("sending the request failed: " + wec.message());
    }

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser,
                                                       asio::as_tuple(asio::use_awaitable));
    if (hec) {
      if (interrupted) co_return;
      co_return failed("reading the response failed: " + hec.message());
    }

    // Reads the next piece of the body into `chunk`; false at its end or
    // on an error (which `error` then holds).
    std::array<char, 16384> chunk{};
    std::size_t got = 0;
    beast::error_code error;
    auto read_some = [&]() -> asio::awaitable<bool> {
      if (parser.is_done()) co_return false;
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      stream.expires_after(kStreamIdleLimit);
      auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser,
                                                     asio::as_tuple(asio::use_awaitable));
      got = chunk.size() - parser.get().body().size;
      if (ec == bhttp::error::need_buffer) ec = {};
      error = ec;
      co_return !ec || got > 0;
    };

    const unsigned status = parser.get().result_int();
    if (status != 200) {
      ClientResponse res;
      res.status = status;
      while (co_await read_some()) res.body.append(chunk.data(), got);
      co_return failed("cannot follow the logs of '" + o.name + "': " + problem_detail(res));
    }
    const std::string type(parser.get()[bhttp::field::content_type]);
    if (type.find("text/event-stream") == std::string::npos) {
      co_return failed("the server answered with " + (type.empty() ? "no content type" : type) +
                       ", not an event stream: does it support `logs --follow`?");
    }
    std::fprintf(stderr, "following %s on %s (Ctrl-C to stop)\n", o.name.c_str(),
                 copts.server.c_str());

    EventStreamParser events;
    auto on_event = [&](const std::string& event, const std::string&, const std::string& data) {
      if (event != "invocation" && event != "message") return;
      boost::system::error_code jec;
      auto doc = json::parse(data, jec);
      if (jec || !doc.is_object()) return;
      const auto& e = doc.get_object();
      if (!o.runtime.empty() && text_at(e, "runtime") != o.runtime) return;
      print_log_event(e);
    };
    while (co_await read_some()) {
      events.feed(std::string_view(chunk.data(), got), on_event);
      if (error) break;
    }
    if (interrupted) co_return;
    if (error && error != bhttp::error::end_of_stream && error != asio::error::eof) {
      co_return failed(error == beast::error::timeout
                           ? "the stream went silent for 45 s; the server is gone"
                           : "the stream broke: " + error.message());
    }
    std::fprintf(stderr, "the server ended the stream\n");
  };
  asio::co_spawn(ioc, run(), [&](const std::exception_ptr& ex) {
    signals.cancel();
    if (ex) {
      try {
        std::rethrow_exception(ex);
      } catch (const std::exception& e) {
        exit_code = fail(std::string("following the logs failed: ") + e.what());
      }
    }
  });
  ioc.run();
  return exit_code;
}

}  // namespace

int logs(const ClientOptions& copts, const LogsOptions& o) {
  if (o.follow) return follow_logs(copts, o);
  Client client(copts.server, copts.token);
  std::string target = "/v1/invocations?function=" + o.name + "&limit=" + std::to_string(o.limit);
  if (!o.runtime.empty()) target += "&runtime=" + o.runtime;
  auto res = client.request("GET", target);
  if (!res) return fail(res.error().message);
  if (res->status != 200) return fail(problem_detail(*res));
  auto doc = parse_json(*res);
  if (!doc) return fail(doc.error().message);
  const auto& items = doc->at("invocations").as_array();
  if (items.empty()) {
    std::printf("no invocations of %s yet\n", o.name.c_str());
    return 0;
  }
  auto row = [](std::string_view id, std::string_view version, std::string_view trigger,
                std::string_view runtime, std::string_view outcome, std::string_view exit_code,
                std::string_view cold, std::string_view startup, std::string_view exec,
                std::string_view total, std::string_view cpu, std::string_view memory) {
    std::printf("%s %s %s %s %s %s %s %s %s %s %s %s\n", pad(id, 26).c_str(),
                pad(version, 7, true).c_str(), pad(trigger, 7).c_str(), pad(runtime, 7).c_str(),
                pad(outcome, 8).c_str(), pad(exit_code, 4, true).c_str(), pad(cold, 5).c_str(),
                pad(startup, 10, true).c_str(), pad(exec, 10, true).c_str(),
                pad(total, 10, true).c_str(), pad(cpu, 10, true).c_str(),
                pad(memory, 10, true).c_str());
  };
  row("ID", "VERSION", "TRIGGER", "RUNTIME", "OUTCOME", "EXIT", "COLD", "STARTUP", "EXEC", "TOTAL",
      "CPU", "MEMORY");
  for (const auto& v : items) {
    const auto& r = v.as_object();
    const auto& exit_code = r.at("exit_code");
    const auto* version = r.if_contains("version");
    row(r.at("id").as_string(),
        version && version->is_number() ? std::to_string(integer(*version)) : std::string("-"),
        text_at(r, "trigger", "-"), r.at("runtime").as_string(), r.at("outcome").as_string(),
        exit_code.is_null() ? "-" : std::to_string(std::llround(number(exit_code))),
        r.at("cold").as_bool() ? "yes" : "no", format_us(number(r.at("startup_us"))),
        format_us(number(r.at("exec_us"))), format_us(number(r.at("total_us"))),
        r.at("cpu_us").is_null() ? "-" : format_us(number(r.at("cpu_us"))),
        r.at("max_memory_bytes").is_null() ? "-" : format_bytes(number(r.at("max_memory_bytes"))));
  }
  return 0;
}

int versions(const ClientOptions& copts, const std::string& name) {
  Client client(copts.server, copts.token);
  auto res = client.request("GET", "/v1/functions/" + name + "/versions");
  if (!res) return fail(res.error().message);
  if (res->status != 200)
    return fail("cannot list the versions of '" + name + "': " + problem_detail(*res));
  auto doc = parse_json(*res);
  if (!doc || !doc->is_object()) return fail("the server sent no version list");
  const auto& top = doc->as_object();
  const auto* list = top.if_contains("versions");
  if (list == nullptr || !list->is_array()) return fail("the server sent no version list");
  const std::int64_t serving = integer_at(top, "serving");
  std::printf("  %s %s %s\n", pad("VERSION", 7).c_str(), pad("CREATED", 20).c_str(), "VARIANTS");
  for (const auto& v : list->as_array()) {
    if (!v.is_object()) continue;
    const auto& entry = v.as_object();
    const std::int64_t number = integer_at(entry, "version");
    const auto* flag = entry.if_contains("serving");
    const bool is_serving = flag && flag->is_bool() ? flag->get_bool() : number == serving;
    const auto* manifest = entry.if_contains("manifest");
    std::printf(
        "%s %s %s %s\n", is_serving ? "*" : " ", pad(std::to_string(number), 7).c_str(),
        pad(utc_time(integer_at(entry, "created_at_us")), 20).c_str(),
        manifest && manifest->is_object() ? variants_text(manifest->as_object()).c_str() : "-");
  }
  std::printf("(* serving; `nebula rollback %s [VERSION]` serves another)\n", name.c_str());
  return 0;
}

int rollback(const ClientOptions& copts, const RollbackOptions& o) {
  Client client(copts.server, copts.token);
  std::string body;
  std::string type;
  if (o.version) {
    body = json::serialize(json::object{{"version", *o.version}});
    type = "application/json";
  }
  auto res = client.request("POST", "/v1/functions/" + o.name + "/rollback", std::move(body), type);
  if (!res) return fail(res.error().message);
  if (res->status != 200) {
    return fail("rollback of '" + o.name + "' failed: " + problem_detail(*res));
  }
  auto doc = parse_json(*res);
  if (!doc || !doc->is_object()) return fail("the server's answer to the rollback is not JSON");
  std::printf("%s: now serving version %lld\n", o.name.c_str(),
              static_cast<long long>(integer_at(doc->as_object(), "version")));
  return 0;
}

namespace {

// A record (GET /v1/invocations/{id} of a synchronous call, or an async
// call's `record`), as a few readable lines.
void print_record(const json::object& r, const char* indent) {
  const auto* version = r.if_contains("version");
  const auto& exit_code = r.contains("exit_code") ? r.at("exit_code") : json::value();
  if (*indent == '\0') {  // nested in an async call, which says these itself
    std::printf("function   %s, version %s, trigger %s\n", text_at(r, "function").c_str(),
                version && version->is_number() ? std::to_string(integer(*version)).c_str() : "-",
                text_at(r, "trigger", "-").c_str());
  }
  const auto* cold = r.if_contains("cold");
  std::printf("%sruntime    %s%s\n", indent, text_at(r, "runtime", "-").c_str(),
              cold && cold->is_bool() ? (cold->get_bool() ? ", cold start" : ", warm") : "");
  std::printf(
      "%soutcome    %s%s\n", indent, text_at(r, "outcome", "-").c_str(),
      exit_code.is_number() ? (" (exit " + std::to_string(integer(exit_code)) + ")").c_str() : "");
  std::printf("%sstarted    %s on %s\n", indent,
              utc_time(integer_at(r, "started_at_us"), true).c_str(),
              text_at(r, "node", "?").c_str());
  std::printf(
      "%stiming     queue %s  startup %s  exec %s  teardown %s  total %s\n", indent,
      format_us(number(r.contains("queue_us") ? r.at("queue_us") : json::value())).c_str(),
      format_us(number(r.contains("startup_us") ? r.at("startup_us") : json::value())).c_str(),
      format_us(number(r.contains("exec_us") ? r.at("exec_us") : json::value())).c_str(),
      format_us(number(r.contains("teardown_us") ? r.at("teardown_us") : json::value())).c_str(),
      format_us(number(r.contains("total_us") ? r.at("total_us") : json::value())).c_str());
  const auto* cpu = r.if_contains("cpu_us");
  const auto* memory = r.if_contains("max_memory_bytes");
  std::printf("%sresources  cpu %s  memory %s  in %s  out %s%s\n", indent,
              cpu && cpu->is_number() ? format_us(number(*cpu)).c_str() : "-",
              memory && memory->is_number() ? format_bytes(number(*memory)).c_str() : "-",
              format_bytes(static_cast<double>(integer_at(r, "input_bytes"))).c_str(),
              format_bytes(static_cast<double>(integer_at(r, "output_bytes"))).c_str(),
              r.contains("output_truncated") && r.at("output_truncated").is_bool() &&
                      r.at("output_truncated").get_bool()
                  ? " (cut at max_output_bytes)"
                  : "");
  if (auto message = text_at(r, "message"); !message.empty()) {
    std::printf("%smessage    %s\n", indent, message.c_str());
  }
}

bool record_failed(const json::object& r) {
  return text_at(r, "outcome", "ok") != "ok";
}

// An async call: its state, attempts, times, and what it answered.
void print_task(const json::object& t, const std::string& result) {
  const std::string state = text_at(t, "state", "?");
  const std::int64_t attempts = integer_at(t, "attempts");
  const std::int64_t max_retries = integer_at(t, "max_retries");
  const auto* runtime = t.if_contains("runtime");
  std::printf("async call %s\n", text_at(t, "id").c_str());
  std::printf("function   %s, version %lld, trigger %s, runtime %s\n",
              text_at(t, "function").c_str(), static_cast<long long>(integer_at(t, "version")),
              text_at(t, "trigger", "async").c_str(),
              runtime && runtime->is_string() ? std::string(runtime->get_string()).c_str()
                                              : "the version's default");
  std::printf("state      %s after %lld attempt%s (at most %lld)\n", state.c_str(),
              static_cast<long long>(attempts), attempts == 1 ? "" : "s",
              static_cast<long long>(max_retries) + 1);
  std::printf("created    %s\n", utc_time(integer_at(t, "created_at_us"), true).c_str());
  if (state == "queued") {
    std::printf("next run   %s\n", utc_time(integer_at(t, "next_run_at_us"), true).c_str());
  }
  if (state == "done" || state == "dead") {
    std::printf("finished   %s\n", utc_time(integer_at(t, "finished_at_us"), true).c_str());
  }
  if (auto node = text_at(t, "node"); !node.empty()) std::printf("node       %s\n", node.c_str());
  if (auto callback = text_at(t, "callback_url"); !callback.empty()) {
    std::printf("callback   %s\n", callback.c_str());
  }
  if (const auto* rec = t.if_contains("record"); rec && rec->is_object()) {
    std::printf("last run   %s\n", text_at(t, "invocation_id").c_str());
    print_record(rec->as_object(), "  ");
  } else if (auto inv = text_at(t, "invocation_id"); !inv.empty()) {
    std::printf("last run   %s (record no longer kept)\n", inv.c_str());
  }
  if (integer_at(t, "status") == 0) return;
  const std::string type = text_at(t, "result_type");
  std::printf("status     %lld\nresult     %s%s%s\n",
              static_cast<long long>(integer_at(t, "status")),
              format_bytes(static_cast<double>(result.size())).c_str(), type.empty() ? "" : ", ",
              type.c_str());
  if (result.empty()) return;
  const bool binary = text_at(t, "result_encoding") == "base64";
  if (binary && ::isatty(STDOUT_FILENO) != 0) {
    std::printf("(binary: `nebula invocation %s --raw > FILE` writes its bytes)\n",
                text_at(t, "id").c_str());
    return;
  }
  std::printf("---\n");
  std::fwrite(result.data(), 1, result.size(), stdout);
  if (result.back() != '\n') std::fputc('\n', stdout);
}

}  // namespace

int invocation(const ClientOptions& copts, const InvocationOptions& o) {
  Client client(copts.server, copts.token);
  const std::string target = "/v1/invocations/" + o.id;
  auto delay = std::chrono::milliseconds(250);
  bool said_waiting = false;
  for (;;) {
    auto res = client.request("GET", target);
    if (!res) return fail(res.error().message);
    if (res->status != 200) return fail("no invocation '" + o.id + "': " + problem_detail(*res));
    auto doc = parse_json(*res);
    if (!doc || !doc->is_object()) return fail("the server sent no invocation");
    const auto& top = doc->as_object();
    const auto* is_async = top.if_contains("async");
    if (is_async == nullptr || !is_async->is_bool() || !is_async->get_bool()) {
      if (o.raw) {
        return fail("'" + o.id +
                    "' is a synchronous invocation: Nebula keeps its record, not "
                    "its output (--raw is for async calls)");
      }
      std::printf("invocation %s\n", text_at(top, "id").c_str());
      print_record(top, "");
      if (auto tail = text_at(top, "stderr_tail"); !tail.empty()) {
        std::printf("--- stderr (end) ---\n%s%s", tail.c_str(), tail.back() == '\n' ? "" : "\n");
      }
      return record_failed(top) ? 2 : 0;
    }
    const std::string state = text_at(top, "state");
    if (o.wait && (state == "queued" || state == "running")) {
      if (!said_waiting) {
        std::fprintf(stderr, "waiting for %s (%s)…\n", o.id.c_str(), state.c_str());
        said_waiting = true;
      }
      std::this_thread::sleep_for(delay);
      delay = std::min<std::chrono::milliseconds>(delay * 2, std::chrono::seconds(2));
      continue;
    }
    std::string result = text_at(top, "result");
    if (text_at(top, "result_encoding") == "base64") {
      auto bytes = base64_decode(result);
      if (!bytes) return fail("the server sent a result that is not valid base64");
      result = std::move(*bytes);
    }
    const std::int64_t status = integer_at(top, "status");
    const bool failed = state == "dead" || (state == "done" && (status < 200 || status >= 300));
    if (o.raw) {
      if (state != "done" && state != "dead") {
        return fail("'" + o.id + "' is still " + state + ": no result yet (add --wait)");
      }
      std::fwrite(result.data(), 1, result.size(), stdout);
      std::fflush(stdout);
      return failed ? 2 : 0;
    }
    print_task(top, result);
    return failed ? 2 : 0;
  }
}

// --- secrets -------------------------------------------------------------

namespace {

termios saved_terminal{};
volatile std::sig_atomic_t terminal_saved = 0;

extern "C" void restore_terminal_and_die(int sig) {
  if (terminal_saved != 0) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_terminal);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// One line typed on the terminal without echoing it (the newline is not
// part of the value). Ctrl-C during the prompt gives the terminal back as
// it was.
std::optional<std::string> read_hidden_line(const std::string& prompt) {
  std::fputs(prompt.c_str(), stderr);
  std::fflush(stderr);
  if (::tcgetattr(STDIN_FILENO, &saved_terminal) != 0) return std::nullopt;
  terminal_saved = 1;
  auto old_int = std::signal(SIGINT, restore_terminal_and_die);
  auto old_term = std::signal(SIGTERM, restore_terminal_and_die);
  termios quiet = saved_terminal;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::string line;
  const bool ok = static_cast<bool>(std::getline(std::cin, line));
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
  terminal_saved = 0;
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  std::fputc('\n', stderr);
  if (!ok) return std::nullopt;
  return line;
}

constexpr std::size_t kMaxSecretBytes = std::size_t{64} * 1024;

}  // namespace

int secret_put(const ClientOptions& copts, const SecretPutOptions& o) {
  std::string value;
  if (!o.from_file.empty()) {
    auto read = base::read_file(o.from_file);
    if (!read) return fail("cannot read " + o.from_file);
    value = std::move(*read);
  } else if (::isatty(STDIN_FILENO) != 0) {
    auto line = read_hidden_line("value of secret " + o.name + " (not shown): ");
    if (!line) return fail("no value read");
    value = std::move(*line);
  } else {
    value.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (value.size() > kMaxSecretBytes) {
    const auto size = value.size();
    wipe(value);
    return fail("a secret's value is at most 64 KiB; this one has " + std::to_string(size) +
                " bytes");
  }
  Client client(copts.server, copts.token);
  std::string body = value;
  wipe(value);
  auto res =
      client.request("PUT", "/v1/secrets/" + o.name, std::move(body), "application/octet-stream");
  if (!res) return fail(res.error().message);
  if (res->status != 200 && res->status != 201) {
    return fail("cannot store secret '" + o.name + "': " + problem_detail(*res));
  }
  if (res->status == 201) {
    std::printf("created secret %s\n", o.name.c_str());
  } else {
    std::printf("replaced secret %s (functions using it see the new value from their next call)\n",
                o.name.c_str());
  }
  return 0;
}

int secret_list(const ClientOptions& copts) {
  Client client(copts.server, copts.token);
  auto res = client.request("GET", "/v1/secrets");
  if (!res) return fail(res.error().message);
  if (res->status != 200) return fail("cannot list secrets: " + problem_detail(*res));
  auto doc = parse_json(*res);
  if (!doc || !doc->is_object() || !doc->as_object().contains("secrets") ||
      !doc->as_object().at("secrets").is_array()) {
    return fail("the server sent no secret list");
  }
  const auto& list = doc->as_object().at("secrets").as_array();
  if (list.empty()) {
    std::printf("no secrets (nebula secret put NAME < FILE)\n");
    return 0;
  }
  std::size_t width = 4;
  for (const auto& v : list) {
    if (v.is_object()) width = std::max(width, text_at(v.as_object(), "name").size());
  }
  std::printf("%s %s %s\n", pad("NAME", width).c_str(), pad("CREATED", 20).c_str(), "UPDATED");
  for (const auto& v : list) {
    if (!v.is_object()) continue;
    const auto& s = v.as_object();
    std::printf("%s %s %s\n", pad(text_at(s, "name"), width).c_str(),
                pad(utc_time(integer_at(s, "created_at_us")), 20).c_str(),
                utc_time(integer_at(s, "updated_at_us")).c_str());
  }
  return 0;
}

int secret_remove(const ClientOptions& copts, const std::string& name) {
  Client client(copts.server, copts.token);
  auto res = client.request("DELETE", "/v1/secrets/" + name);
  if (!res) return fail(res.error().message);
  if (res->status == 409) {
    std::string users;
    if (auto doc = parse_json(*res); doc && doc->is_object()) {
      if (const auto* fns = doc->as_object().if_contains("functions"); fns && fns->is_array()) {
        for (const auto& f : fns->as_array()) {
          if (!f.is_string()) continue;
          users += (users.empty() ? "" : ", ") + std::string(f.get_string());
        }
      }
    }
    if (!users.empty()) {
      return fail("secret '" + name + "' is in use by " + users +
                  ": deploy them without it (or remove them) first");
    }
  }
  if (res->status != 204)
    return fail("cannot remove secret '" + name + "': " + problem_detail(*res));
  std::printf("removed secret %s\n", name.c_str());
  return 0;
}

}  // namespace nebula::cli
