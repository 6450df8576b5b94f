#include "http/views.hpp"

#include <cstdio>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json/parse.hpp>

namespace nebula::http {
namespace {

namespace json = boost::json;

json::value optional_json(const std::optional<std::int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::value optional_json(const std::optional<std::uint64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::object outcomes_json(const store::RuntimeStats& stats) {
  json::object per;
  for (auto outcome : {Outcome::kOk, Outcome::kExit, Outcome::kTrap, Outcome::kTimeout,
                       Outcome::kMemory, Outcome::kRejected}) {
    if (stats.count(outcome) > 0) per[to_string(outcome)] = stats.count(outcome);
  }
  return per;
}

}  // namespace

json::object function_json(const service::FunctionView& view) {
  const service::Deployment& d = *view.deployment;
  const Function& f = d.function;
  json::object o;
  o["name"] = f.name;
  o["manifest"] = json::parse(manifest_to_json(f.manifest));
  json::object artifacts;
  if (f.manifest.wasm_module) artifacts["wasm"] = *f.manifest.wasm_module;
  if (f.manifest.docker_image) artifacts["docker"] = *f.manifest.docker_image;
  o["artifacts"] = std::move(artifacts);
  // A declared variant this server cannot run, and why.
  json::object unready;
  if (f.manifest.wasm_module && !d.wasm) unready["wasm"] = valid_utf8(d.wasm_unready);
  if (f.manifest.docker_image && !d.docker) unready["docker"] = valid_utf8(d.docker_unready);
  o["unready"] = std::move(unready);
  o["version"] = f.version;
  o["created_at_us"] = f.created_at_us;
  o["updated_at_us"] = f.updated_at_us;
  if (!view.stats) return o;
  const store::FunctionStats& s = *view.stats;
  o["stats"] = json::object{
      {"invocations", json::object{{"wasm", s.wasm.invocations}, {"docker", s.docker.invocations}}},
      {"cold_starts", json::object{{"wasm", s.wasm.cold_starts}, {"docker", s.docker.cold_starts}}},
      {"p50_startup_us", json::object{{"wasm", optional_json(s.wasm.p50_startup_us)},
                                      {"docker", optional_json(s.docker.p50_cold_startup_us)}}},
      {"outcomes",
       json::object{{"wasm", outcomes_json(s.wasm)}, {"docker", outcomes_json(s.docker)}}},
      {"warm_containers", view.warm_containers}};
  return o;
}

json::object record_json(const InvocationRecord& r, bool with_stderr) {
  json::object o;
  o["id"] = r.id;
  o["function"] = r.function;
  o["runtime"] = to_string(r.runtime);
  o["outcome"] = to_string(r.outcome);
  o["exit_code"] = r.exit_code;
  o["cold"] = r.cold;
  o["output_truncated"] = r.output_truncated;
  o["queue_us"] = r.timings.queue_us;
  o["startup_us"] = r.timings.startup_us;
  o["exec_us"] = r.timings.exec_us;
  o["teardown_us"] = r.timings.teardown_us;
  o["total_us"] = r.timings.total_us;
  o["cpu_us"] = optional_json(r.cpu_us);
  o["max_memory_bytes"] = optional_json(r.max_memory_bytes);
  o["input_bytes"] = r.input_bytes;
  o["output_bytes"] = r.output_bytes;
  o["started_at_us"] = r.started_at_us;
  o["node"] = r.node;
  o["version"] = r.version;
  o["trigger"] = to_string(r.trigger);
  // A function's own words may be any bytes; a JSON document is text.
  o["message"] = valid_utf8(r.message);
  if (with_stderr) o["stderr_tail"] = valid_utf8(r.stderr_tail);
  return o;
}

json::object versions_json(const service::VersionList& list) {
  json::array versions;
  for (const auto& v : list.versions) {
    versions.push_back(json::object{{"version", v.version},
                                    {"created_at_us", v.created_at_us},
                                    {"serving", v.version == list.serving},
                                    {"manifest", json::parse(manifest_to_json(v.manifest))}});
  }
  return json::object{
      {"function", list.function}, {"serving", list.serving}, {"versions", std::move(versions)}};
}

json::object task_json(const store::AsyncTask& t, const InvocationRecord* record) {
  json::object o;
  o["id"] = t.id;
  o["async"] = true;
  o["function"] = t.function;
  o["version"] = t.version;
  o["runtime"] = t.runtime ? json::value(to_string(*t.runtime)) : json::value(nullptr);
  o["trigger"] = to_string(t.trigger);
  o["state"] = store::to_string(t.state);
  o["attempts"] = t.attempts;
  o["max_retries"] = t.max_retries;
  o["created_at_us"] = t.created_at_us;
  o["next_run_at_us"] = t.next_run_at_us;
  o["finished_at_us"] = t.finished_at_us;
  o["node"] = t.node;
  o["invocation_id"] = t.invocation_id;
  o["status"] = t.status;
  // The answer as it was when it is text; a function may answer any bytes.
  if (valid_utf8(t.result) == t.result) {
    o["result"] = t.result;
    o["result_encoding"] = "utf-8";
  } else {
    std::string encoded(boost::beast::detail::base64::encoded_size(t.result.size()), '\0');
    encoded.resize(
        boost::beast::detail::base64::encode(encoded.data(), t.result.data(), t.result.size()));
    o["result"] = std::move(encoded);
    o["result_encoding"] = "base64";
  }
  o["result_type"] = t.result_type;
  o["callback_url"] = t.callback_url;
  if (record != nullptr) o["record"] = record_json(*record, true);
  return o;
}

json::object secret_json(const store::SecretInfo& secret) {
  return json::object{{"name", secret.name},
                      {"created_at_us", secret.created_at_us},
                      {"updated_at_us", secret.updated_at_us}};
}

json::object log_json(const InvocationRecord& r) {
  return json::object{{"id", r.id},
                      {"function", r.function},
                      {"version", r.version},
                      {"trigger", to_string(r.trigger)},
                      {"runtime", to_string(r.runtime)},
                      {"outcome", to_string(r.outcome)},
                      {"exit_code", r.exit_code},
                      {"cold", r.cold},
                      {"started_at_us", r.started_at_us},
                      {"total_us", r.timings.total_us},
                      {"message", valid_utf8(r.message)},
                      {"stderr", valid_utf8(r.stderr_tail)},
                      {"node", r.node}};
}

std::string server_timing(const Timings& t) {
  auto ms = [](std::int64_t us) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(us) / 1000.0);
    return std::string(buf);
  };
  return "queue;dur=" + ms(t.queue_us) + ", startup;dur=" + ms(t.startup_us) +
         ", exec;dur=" + ms(t.exec_us) + ", total;dur=" + ms(t.total_us);
}

json::object info_json(const service::ServerInfo& info) {
  json::object docker{{"available", info.docker_available}};
  if (info.docker_available) {
    docker["version"] = info.docker_version;
    docker["api_version"] = info.docker_api_version;
  }
  return json::object{{"version", info.version},
                      {"wasmtime", info.wasmtime},
                      {"node", info.node},
                      {"runtimes", json::object{{"wasm", json::object{{"available", true}}},
                                                {"docker", std::move(docker)}}}};
}

namespace {

json::object footprint_json(const metrics::Footprint& f) {
  return json::object{{"processes", f.processes},
                      {"rss_bytes", f.resident_bytes},
                      {"cpu_us", f.cpu_us},
                      {"threads", f.threads},
                      {"open_fds", f.open_fds},
                      {"voluntary_switches", f.voluntary_switches},
                      {"involuntary_switches", f.involuntary_switches}};
}

}  // namespace

json::object status_json(const service::ServerStatus& st) {
  json::object docker{{"enabled", st.docker_enabled}, {"warm_containers", st.warm_containers}};
  docker["engine"] = st.docker_engine ? json::value(footprint_json(*st.docker_engine)) : nullptr;
  return json::object{{"node", st.node},
                      {"uptime_s", st.uptime_s},
                      {"process", footprint_json(st.process)},
                      {"functions", st.functions},
                      {"wasm", json::object{{"prepared_variants", st.wasm_ready},
                                            {"loaded", st.wasm_loaded},
                                            {"instance_slots", st.instance_slots}}},
                      {"docker", std::move(docker)},
                      {"store", json::object{{"kind", st.store.substr(0, st.store.find(' '))},
                                             {"records_waiting", st.records_waiting}}},
                      {"data_dir_bytes", st.data_dir_bytes}};
}

json::object readiness_json(const service::Readiness& readiness) {
  json::object checks;
  for (const auto& [name, state] : readiness.checks) checks[name] = state;
  return json::object{{"status", readiness.ready ? "ready" : "not ready"},
                      {"checks", std::move(checks)}};
}

}  // namespace nebula::http
