#include "cli/commands.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <unistd.h>

#include <boost/json.hpp>

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
  if (!env.empty()) manifest["env"] = std::move(env);
  if (!o.args.empty()) {
    json::array args;
    for (const auto& a : o.args) args.emplace_back(a);
    manifest["args"] = std::move(args);
  }
  json::object limits;
  if (o.timeout_ms) limits["timeout_ms"] = *o.timeout_ms;
  if (o.memory_mb) limits["memory_mb"] = *o.memory_mb;
  if (!limits.empty()) manifest["limits"] = std::move(limits);
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
  if (auto* w = manifest.if_contains("wasm")) {
    std::printf("  wasm %s", std::string(w->at("module").as_string()).substr(0, 19).c_str());
  }
  if (!o.image.empty()) std::printf("  docker %s", o.image.c_str());
  std::printf("\n  invoke: curl -d '…' %s/v1/functions/%s/invoke   (or %s/fn/%s/)\n",
              copts.server.c_str(), o.name.c_str(), copts.server.c_str(), o.name.c_str());
  return 0;
}

int invoke(const ClientOptions& copts, const InvokeOptions& o) {
  std::string body;
  if (o.data) {
    body = *o.data;
  } else if (::isatty(STDIN_FILENO) == 0) {
    body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  Client client(copts.server, copts.token);
  std::string target = "/v1/functions/" + o.name + "/invoke";
  if (!o.runtime.empty()) target += "?runtime=" + o.runtime;
  auto res = client.request("POST", target, std::move(body), "application/octet-stream");
  if (!res) return fail(res.error().message);
  if (res->status == 200) {
    std::fwrite(res->body.data(), 1, res->body.size(), stdout);
    std::fflush(stdout);
  }
  if (o.verbose || res->status != 200) {
    // An answer without a final newline would run into the summary on a
    // terminal.
    if (res->status == 200 && !res->body.empty() && res->body.back() != '\n' &&
        ::isatty(STDOUT_FILENO) != 0 && ::isatty(STDERR_FILENO) != 0) {
      std::fputc('\n', stderr);
    }
    auto timing = res->header("server-timing");
    std::fprintf(stderr,
                 "invocation %s  runtime %s  cold %s  status %u\n"
                 "  queue %s  startup %s  exec %s  total %s\n",
                 res->header("x-nebula-invocation-id").c_str(),
                 res->header("x-nebula-runtime").c_str(),
                 res->header("x-nebula-cold-start").c_str(), res->status,
                 format_us(timing_ms(timing, "queue") * 1000).c_str(),
                 format_us(timing_ms(timing, "startup") * 1000).c_str(),
                 format_us(timing_ms(timing, "exec") * 1000).c_str(),
                 format_us(timing_ms(timing, "total") * 1000).c_str());
  }
  if (res->status != 200) {
    std::fprintf(stderr, "nebula: %s\n", problem_detail(*res).c_str());
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
  auto row = [&](std::string_view name, std::string_view variants, std::string_view kind,
                 std::string_view runtime, std::string_view wasm_inv, std::string_view docker_inv,
                 std::string_view wasm_p50, std::string_view docker_p50) {
    std::printf("%s %s %s %s %s %s %s %s\n", pad(name, name_width, false).c_str(),
                pad(variants, 11, false).c_str(), pad(kind, 7, false).c_str(),
                pad(runtime, 7, false).c_str(), pad(wasm_inv, 10, true).c_str(),
                pad(docker_inv, 10, true).c_str(), pad(wasm_p50, 16, true).c_str(),
                pad(docker_p50, 16, true).c_str());
  };
  row("NAME", "VARIANTS", "KIND", "DEFAULT", "WASM INV", "DOCKER INV", "WASM P50 START",
      "DOCKER P50 START");
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
    row(f.at("name").as_string(), variants, kind, m.at("default_runtime").as_string(),
        count(inv.at("wasm")), count(inv.at("docker")), p50_text("wasm"), p50_text("docker"));
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

int logs(const ClientOptions& copts, const LogsOptions& o) {
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
  auto row = [](std::string_view id, std::string_view runtime, std::string_view outcome,
                std::string_view exit_code, std::string_view cold, std::string_view startup,
                std::string_view exec, std::string_view total, std::string_view cpu,
                std::string_view memory) {
    std::printf("%s %s %s %s %s %s %s %s %s %s\n", pad(id, 26).c_str(), pad(runtime, 7).c_str(),
                pad(outcome, 8).c_str(), pad(exit_code, 4, true).c_str(), pad(cold, 5).c_str(),
                pad(startup, 10, true).c_str(), pad(exec, 10, true).c_str(),
                pad(total, 10, true).c_str(), pad(cpu, 10, true).c_str(),
                pad(memory, 10, true).c_str());
  };
  row("ID", "RUNTIME", "OUTCOME", "EXIT", "COLD", "STARTUP", "EXEC", "TOTAL", "CPU", "MEMORY");
  for (const auto& v : items) {
    const auto& r = v.as_object();
    const auto& exit_code = r.at("exit_code");
    row(r.at("id").as_string(), r.at("runtime").as_string(), r.at("outcome").as_string(),
        exit_code.is_null() ? "-" : std::to_string(std::llround(number(exit_code))),
        r.at("cold").as_bool() ? "yes" : "no", format_us(number(r.at("startup_us"))),
        format_us(number(r.at("exec_us"))), format_us(number(r.at("total_us"))),
        r.at("cpu_us").is_null() ? "-" : format_us(number(r.at("cpu_us"))),
        r.at("max_memory_bytes").is_null() ? "-" : format_bytes(number(r.at("max_memory_bytes"))));
  }
  return 0;
}

}  // namespace nebula::cli
