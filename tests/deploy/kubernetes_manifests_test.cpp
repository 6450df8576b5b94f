// The Kubernetes manifests of deploy/kubernetes/, against each other and
// against the `nebula` binary they run: every file is YAML with objects a
// cluster can take; the Deployment's options and NEBULA_* variables are
// ones `nebula serve --help` lists; its port, probes, Secret references,
// Service and autoscaler agree; the example DSN names the trial database.
// No cluster is needed.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <yaml-cpp/yaml.h>

#include <gtest/gtest.h>

#include "base/subprocess.hpp"

namespace nebula::deploy {
namespace {

namespace fs = std::filesystem;

// One object of a manifest file.
struct Object {
  std::string file;  // its name in deploy/kubernetes/
  YAML::Node node;
};

struct Manifests {
  std::vector<std::string> files;
  std::vector<Object> objects;
  std::vector<std::string> errors;  // files that are not YAML, with why
};

const Manifests& manifests() {
  static const Manifests loaded = [] {
    Manifests m;
    for (const auto& entry : fs::directory_iterator(NEBULA_KUBERNETES_DIR)) {
      const auto ext = entry.path().extension();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
        m.files.push_back(entry.path().filename().string());
      }
    }
    std::sort(m.files.begin(), m.files.end());
    for (const auto& file : m.files) {
      try {
        for (auto& doc : YAML::LoadAllFromFile(fs::path(NEBULA_KUBERNETES_DIR) / file)) {
          if (!doc.IsNull()) m.objects.push_back({file, doc});  // a stray `---` is no object
        }
      } catch (const YAML::Exception& e) {
        m.errors.push_back(file + ": " + e.what());
      }
    }
    return m;
  }();
  return loaded;
}

// node[k1][k2]…, or an undefined node as soon as one is missing: yaml-cpp
// throws on indexing a missing key's result. Nodes are references into
// their document, so `n = …` would overwrite it; reset() moves `n`.
YAML::Node at(const YAML::Node& node, std::initializer_list<std::string_view> path) {
  YAML::Node n = node;
  for (auto key : path) {
    if (!n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node next = std::as_const(n)[std::string(key)];
    if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    n.reset(next);
  }
  return n;
}

std::string str(const YAML::Node& node) {
  return node.IsScalar() ? node.Scalar() : std::string();
}

std::optional<int> integer(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The one object of `kind` in `file`; a failure and an undefined node when
// there is not exactly one.
YAML::Node one(std::string_view kind, std::string_view file) {
  YAML::Node found(YAML::NodeType::Undefined);
  int count = 0;
  for (const auto& o : manifests().objects) {
    if (o.file == file && str(at(o.node, {"kind"})) == kind) {
      found.reset(o.node);
      ++count;
    }
  }
  if (count != 1) {
    ADD_FAILURE() << file << " holds " << count << " objects of kind " << kind << ", not one";
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return found;
}

YAML::Node deployment() {
  return one("Deployment", "deployment.yaml");
}

// The Deployment's first container, which runs `nebula serve`.
YAML::Node server_container() {
  const auto containers = at(deployment(), {"spec", "template", "spec", "containers"});
  if (!containers.IsSequence() || containers.size() == 0) {
    ADD_FAILURE() << "deployment.yaml: no containers";
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return containers[0];
}

// The container's args as `nebula serve` reads them: each --option with its
// value (after '=' or in the next argument), and what is not an option.
struct ServeArgs {
  std::vector<std::pair<std::string, std::optional<std::string>>> options;
  std::vector<std::string> positional;

  [[nodiscard]] std::optional<std::string> value(std::string_view option) const {
    for (const auto& [name, value] : options) {
      if (name == option) return value;
    }
    return std::nullopt;
  }
  [[nodiscard]] bool has(std::string_view option) const {
    return std::any_of(options.begin(), options.end(),
                       [&](const auto& o) { return o.first == option; });
  }
};

ServeArgs serve_args(const YAML::Node& container) {
  std::vector<std::string> args;
  for (const auto& a : at(container, {"args"})) args.push_back(str(a));
  ServeArgs out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      out.positional.push_back(arg);
      continue;
    }
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      out.options.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
    } else if (i + 1 < args.size() && args[i + 1].rfind('-', 0) != 0) {
      out.options.emplace_back(arg, args[i + 1]);
      ++i;
    } else {
      out.options.emplace_back(arg, std::nullopt);
    }
  }
  return out;
}

// A port as a probe or a Service names it: a number, or the name of one of
// the container's ports.
std::optional<int> resolve_port(const YAML::Node& port, const YAML::Node& container) {
  if (auto number = integer(str(port))) return number;
  for (const auto& p : at(container, {"ports"})) {
    if (str(at(p, {"name"})) == str(port)) return integer(str(at(p, {"containerPort"})));
  }
  return std::nullopt;
}

// The options and environment variables `nebula serve --help` lists.
struct ServeHelp {
  std::string text;
  std::set<std::string> options;
  std::set<std::string> variables;
};

const ServeHelp& serve_help() {
  static const ServeHelp help = [] {
    ServeHelp h;
    auto done = base::run({NEBULA_BIN, "serve", "--help"});
    if (!done) {
      ADD_FAILURE() << NEBULA_BIN << ": " << done.error().message;
      return h;
    }
    EXPECT_EQ(done->status, 0) << done->err;
    h.text = done->out;
    const std::regex option("--[a-z0-9][a-z0-9-]*");
    for (std::sregex_iterator i(h.text.begin(), h.text.end(), option), e; i != e; ++i) {
      h.options.insert(i->str());
    }
    const std::regex variable("NEBULA_[A-Z0-9_]+");
    for (std::sregex_iterator i(h.text.begin(), h.text.end(), variable), e; i != e; ++i) {
      h.variables.insert(i->str());
    }
    return h;
  }();
  return help;
}

// Every secretKeyRef anywhere under `node`.
void secret_refs(const YAML::Node& node, std::vector<YAML::Node>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (str(kv.first) == "secretKeyRef") out.push_back(kv.second);
      secret_refs(kv.second, out);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) secret_refs(item, out);
  }
}

YAML::Node env_var(const YAML::Node& container, std::string_view name) {
  for (const auto& e : at(container, {"env"})) {
    if (str(at(e, {"name"})) == name) return e;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

TEST(KubernetesManifests, EveryManifestIsYamlWithApiVersionKindAndName) {
  const auto& m = manifests();
  for (const auto& error : m.errors) ADD_FAILURE() << error;
  for (const char* file :
       {"secret.example.yaml", "deployment.yaml", "service.yaml", "hpa.yaml", "postgres.yaml"}) {
    EXPECT_NE(std::find(m.files.begin(), m.files.end(), file), m.files.end()) << file;
  }
  for (const auto& file : m.files) {
    EXPECT_TRUE(std::any_of(m.objects.begin(), m.objects.end(),
                            [&](const Object& o) { return o.file == file; }))
        << file << " holds no object";
  }
  for (const auto& o : m.objects) {
    SCOPED_TRACE(o.file);
    ASSERT_TRUE(o.node.IsMap());
    EXPECT_FALSE(str(at(o.node, {"apiVersion"})).empty());
    EXPECT_FALSE(str(at(o.node, {"kind"})).empty());
    EXPECT_FALSE(str(at(o.node, {"metadata", "name"})).empty());
    // Namespace-free: `kubectl apply -n NS` puts them where the user wants.
    EXPECT_FALSE(at(o.node, {"metadata", "namespace"}).IsDefined());
  }
}

TEST(KubernetesManifests, DeploymentRunsServeWithItsOwnOptions) {
  const auto container = server_container();
  ASSERT_TRUE(container.IsDefined());
  const auto args = serve_args(container);
  EXPECT_EQ(args.positional, std::vector<std::string>{"serve"});
  ASSERT_FALSE(args.options.empty());
  const auto& help = serve_help();
  ASSERT_FALSE(help.options.empty()) << help.text;
  for (const auto& option : args.options) {
    EXPECT_TRUE(help.options.count(option.first))
        << option.first << " is not in `nebula serve --help`";
  }
}

TEST(KubernetesManifests, DeploymentVariablesAreServeVariables) {
  const auto container = server_container();
  ASSERT_TRUE(container.IsDefined());
  const auto& help = serve_help();
  ASSERT_FALSE(help.variables.empty()) << help.text;
  int count = 0;
  for (const auto& e : at(container, {"env"})) {
    const auto name = str(at(e, {"name"}));
    if (name.rfind("NEBULA_", 0) != 0) continue;
    ++count;
    EXPECT_TRUE(help.variables.count(name)) << name << " is not in `nebula serve --help`";
  }
  EXPECT_GE(count, 3);  // the token, the store and the node id at least
}

TEST(KubernetesManifests, OnePortFromListenToTheService) {
  const auto container = server_container();
  ASSERT_TRUE(container.IsDefined());
  const auto listen = serve_args(container).value("--listen");
  ASSERT_TRUE(listen.has_value()) << "no --listen HOST:PORT in the args";
  const auto colon = listen->rfind(':');
  ASSERT_NE(colon, std::string::npos) << *listen;
  EXPECT_EQ(listen->substr(0, colon), "0.0.0.0");  // every interface of the pod
  const auto port = integer(listen->substr(colon + 1));
  ASSERT_TRUE(port.has_value()) << *listen;

  const auto ports = at(container, {"ports"});
  ASSERT_TRUE(ports.IsSequence());
  ASSERT_EQ(ports.size(), 1U);
  EXPECT_EQ(integer(str(at(ports[0], {"containerPort"}))), port);

  const auto service = one("Service", "service.yaml");
  ASSERT_TRUE(service.IsDefined());
  EXPECT_EQ(str(at(service, {"spec", "type"})), "ClusterIP");
  const auto service_ports = at(service, {"spec", "ports"});
  ASSERT_TRUE(service_ports.IsSequence());
  ASSERT_EQ(service_ports.size(), 1U);
  EXPECT_EQ(integer(str(at(service_ports[0], {"port"}))), 80);
  EXPECT_EQ(resolve_port(at(service_ports[0], {"targetPort"}), container), port);

  // The Service selects the Deployment's pods, and the Deployment its own.
  const auto pod_labels = at(deployment(), {"spec", "template", "metadata", "labels"});
  const auto service_selector = at(service, {"spec", "selector"});
  const auto deployment_selector = at(deployment(), {"spec", "selector", "matchLabels"});
  for (const auto& selector : {service_selector, deployment_selector}) {
    ASSERT_TRUE(selector.IsMap() && selector.size() > 0);
    for (const auto& kv : selector) {
      EXPECT_EQ(str(at(pod_labels, {str(kv.first)})), str(kv.second)) << str(kv.first);
    }
  }
}

TEST(KubernetesManifests, ProbesAskTheServerOnItsPort) {
  const auto container = server_container();
  ASSERT_TRUE(container.IsDefined());
  const auto ports = at(container, {"ports"});
  ASSERT_TRUE(ports.IsSequence() && ports.size() > 0);
  const auto port = integer(str(at(ports[0], {"containerPort"})));
  ASSERT_TRUE(port.has_value());
  const std::map<std::string, std::string> expected = {{"readinessProbe", "/readyz"},
                                                       {"livenessProbe", "/healthz"}};
  for (const auto& [probe, path] : expected) {
    SCOPED_TRACE(probe);
    const auto get = at(container, {probe, "httpGet"});
    ASSERT_TRUE(get.IsMap());
    EXPECT_EQ(str(at(get, {"path"})), path);
    EXPECT_EQ(resolve_port(at(get, {"port"}), container), port);
  }
  // A startup probe, when there is one, asks the same port too.
  if (const auto startup = at(container, {"startupProbe", "httpGet"}); startup.IsDefined()) {
    EXPECT_EQ(str(at(startup, {"path"})), "/healthz");
    EXPECT_EQ(resolve_port(at(startup, {"port"}), container), port);
  }
}

TEST(KubernetesManifests, SecretsComeFromTheExampleSecret) {
  const auto secret = one("Secret", "secret.example.yaml");
  ASSERT_TRUE(secret.IsDefined());
  const auto name = str(at(secret, {"metadata", "name"}));
  std::set<std::string> keys;
  for (const char* field : {"stringData", "data"}) {
    for (const auto& kv : at(secret, {field})) keys.insert(str(kv.first));
  }
  ASSERT_FALSE(keys.empty());

  // The token and the DSN never appear in the Deployment itself.
  const auto container = server_container();
  ASSERT_TRUE(container.IsDefined());
  for (const char* variable : {"NEBULA_TOKEN", "NEBULA_STORE"}) {
    const auto e = env_var(container, variable);
    ASSERT_TRUE(e.IsDefined()) << variable;
    EXPECT_FALSE(at(e, {"value"}).IsDefined()) << variable;
    EXPECT_TRUE(at(e, {"valueFrom", "secretKeyRef"}).IsMap()) << variable;
  }
  const auto args = serve_args(container);
  EXPECT_FALSE(args.has("--token"));
  EXPECT_FALSE(args.has("--store"));

  // Every reference, in every manifest, to a key the Secret has.
  int count = 0;
  for (const auto& o : manifests().objects) {
    std::vector<YAML::Node> refs;
    secret_refs(o.node, refs);
    for (const auto& ref : refs) {
      ++count;
      EXPECT_EQ(str(at(ref, {"name"})), name) << o.file;
      EXPECT_TRUE(keys.count(str(at(ref, {"key"})))) << o.file << ": " << str(at(ref, {"key"}));
    }
  }
  EXPECT_GE(count, 2);
}

TEST(KubernetesManifests, NodeIdIsThePodName) {
  const auto container = server_container();
  ASSERT_TRUE(container.IsDefined());
  const auto e = env_var(container, "NEBULA_NODE_ID");
  ASSERT_TRUE(e.IsDefined());
  EXPECT_EQ(str(at(e, {"valueFrom", "fieldRef", "fieldPath"})), "metadata.name");
}

TEST(KubernetesManifests, DataDirIsAnEmptyDirAndNoHostPath) {
  const auto container = server_container();
  ASSERT_TRUE(container.IsDefined());
  const auto args = serve_args(container);
  // Wasm only by default: Docker needs the node's engine (README.md).
  EXPECT_TRUE(args.has("--no-docker"));
  const auto data_dir = args.value("--data-dir");
  ASSERT_TRUE(data_dir.has_value());

  std::string volume;
  for (const auto& mount : at(container, {"volumeMounts"})) {
    if (str(at(mount, {"mountPath"})) == *data_dir) volume = str(at(mount, {"name"}));
  }
  ASSERT_FALSE(volume.empty()) << "nothing mounted at " << *data_dir;
  bool found = false;
  for (const auto& v : at(deployment(), {"spec", "template", "spec", "volumes"})) {
    EXPECT_FALSE(at(v, {"hostPath"}).IsDefined()) << str(at(v, {"name"}));
    if (str(at(v, {"name"})) == volume) {
      found = true;
      EXPECT_TRUE(at(v, {"emptyDir"}).IsDefined()) << volume;
    }
  }
  EXPECT_TRUE(found) << "no volume " << volume;
}

TEST(KubernetesManifests, AutoscalerTargetsTheDeploymentOnCpu) {
  const auto hpa = one("HorizontalPodAutoscaler", "hpa.yaml");
  ASSERT_TRUE(hpa.IsDefined());
  EXPECT_EQ(str(at(hpa, {"apiVersion"})), "autoscaling/v2");
  const auto target = at(hpa, {"spec", "scaleTargetRef"});
  EXPECT_EQ(str(at(target, {"apiVersion"})), "apps/v1");
  EXPECT_EQ(str(at(target, {"kind"})), "Deployment");
  EXPECT_EQ(str(at(target, {"name"})), str(at(deployment(), {"metadata", "name"})));

  const auto min = integer(str(at(hpa, {"spec", "minReplicas"})));
  const auto max = integer(str(at(hpa, {"spec", "maxReplicas"})));
  ASSERT_TRUE(min.has_value() && max.has_value());
  EXPECT_LE(*min, *max);
  bool cpu = false;
  for (const auto& metric : at(hpa, {"spec", "metrics"})) {
    cpu = cpu || (str(at(metric, {"type"})) == "Resource" &&
                  str(at(metric, {"resource", "name"})) == "cpu");
  }
  EXPECT_TRUE(cpu);
  // Utilisation is counted against the request: without one the HPA idles.
  EXPECT_TRUE(at(server_container(), {"resources", "requests", "cpu"}).IsDefined());
  EXPECT_TRUE(at(server_container(), {"resources", "limits", "cpu"}).IsDefined());
}

TEST(KubernetesManifests, ExampleDsnReachesTheTrialDatabase) {
  const auto secret = one("Secret", "secret.example.yaml");
  ASSERT_TRUE(secret.IsDefined());
  const auto dsn = str(at(secret, {"stringData", "store-dsn"}));
  // postgresql://USER:PASSWORD@HOST:PORT/DATABASE
  const std::regex uri(R"(postgres(?:ql)?://([^:@/]+):([^@/]*)@([^:/]+):(\d+)/([^?/]+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(dsn, m, uri)) << dsn;

  const auto service = one("Service", "postgres.yaml");
  const auto statefulset = one("StatefulSet", "postgres.yaml");
  ASSERT_TRUE(service.IsDefined() && statefulset.IsDefined());
  EXPECT_EQ(str(at(service, {"metadata", "name"})), m[3].str());
  const auto ports = at(service, {"spec", "ports"});
  ASSERT_TRUE(ports.IsSequence() && ports.size() == 1);
  EXPECT_EQ(integer(str(at(ports[0], {"port"}))), integer(m[4].str()));
  EXPECT_EQ(str(at(statefulset, {"spec", "serviceName"})), m[3].str());
  EXPECT_EQ(integer(str(at(statefulset, {"spec", "replicas"}))), 1);

  const auto containers = at(statefulset, {"spec", "template", "spec", "containers"});
  ASSERT_TRUE(containers.IsSequence() && containers.size() == 1);
  const auto postgres = containers[0];
  EXPECT_EQ(str(at(postgres, {"image"})).rfind("postgres:15", 0), 0U)
      << str(at(postgres, {"image"}));
  EXPECT_EQ(str(at(env_var(postgres, "POSTGRES_USER"), {"value"})), m[1].str());
  EXPECT_EQ(str(at(env_var(postgres, "POSTGRES_DB"), {"value"})), m[5].str());
  const auto password_key =
      str(at(env_var(postgres, "POSTGRES_PASSWORD"), {"valueFrom", "secretKeyRef", "key"}));
  EXPECT_EQ(str(at(secret, {"stringData", password_key})), m[2].str());
}

}  // namespace
}  // namespace nebula::deploy
