#include "core/cgi.hpp"

#include <algorithm>

#include <gtest/gtest.h>

namespace nebula {
namespace {

std::string value_of(const EnvList& env, std::string_view name) {
  auto it = std::find_if(env.begin(), env.end(), [&](const auto& e) { return e.first == name; });
  return it == env.end() ? "<unset>" : it->second;
}

Function fn_with_env(EnvList env) {
  Function f;
  f.name = "echo";
  f.manifest.wasm_module = "sha256:" + std::string(64, 'a');
  f.manifest.env = std::move(env);
  return f;
}

TEST(CgiEnvironment, CarriesTheRequestMetaVariables) {
  RequestMeta req;
  req.method = "PUT";
  req.path_info = "/a/b";
  req.query = "n=1&m=2";
  req.content_length = 42;
  req.headers = {{"Content-Type", "text/plain"}, {"X-Trace-Id", "abc"}, {"accept", "*/*"}};
  const EnvList env = cgi_environment(req, fn_with_env({}), RuntimeKind::kDocker);
  EXPECT_EQ(value_of(env, "REQUEST_METHOD"), "PUT");
  EXPECT_EQ(value_of(env, "PATH_INFO"), "/a/b");
  EXPECT_EQ(value_of(env, "QUERY_STRING"), "n=1&m=2");
  EXPECT_EQ(value_of(env, "CONTENT_LENGTH"), "42");
  EXPECT_EQ(value_of(env, "CONTENT_TYPE"), "text/plain");
  EXPECT_EQ(value_of(env, "HTTP_X_TRACE_ID"), "abc");
  EXPECT_EQ(value_of(env, "HTTP_ACCEPT"), "*/*");
  EXPECT_EQ(value_of(env, "NEBULA_FUNCTION"), "echo");
  EXPECT_EQ(value_of(env, "NEBULA_RUNTIME"), "docker");
  EXPECT_EQ(value_of(env, "HTTP_CONTENT_TYPE"), "<unset>");  // has its own variable
}

TEST(CgiEnvironment, AnEmptyPathIsTheRoot) {
  const EnvList env = cgi_environment(RequestMeta{}, fn_with_env({}), RuntimeKind::kWasm);
  EXPECT_EQ(value_of(env, "PATH_INFO"), "/");
}

TEST(CgiEnvironment, CredentialsNeverReachTheFunction) {
  RequestMeta req;
  req.headers = {{"Authorization", "Bearer secret"},
                 {"cookie", "session=1"},
                 {"Proxy-Authorization", "Basic x"}};
  const EnvList env = cgi_environment(req, fn_with_env({}), RuntimeKind::kWasm);
  for (const auto& [name, value] : env) {
    EXPECT_EQ(value.find("secret"), std::string::npos) << name;
    EXPECT_EQ(value.find("session"), std::string::npos) << name;
    EXPECT_EQ(value.find("Basic"), std::string::npos) << name;
  }
}

TEST(CgiEnvironment, TheManifestCannotOverrideARequestVariable) {
  RequestMeta req;
  req.method = "GET";
  const EnvList env = cgi_environment(
      req, fn_with_env({{"REQUEST_METHOD", "DELETE"}, {"GREETING", "hi"}}), RuntimeKind::kWasm);
  EXPECT_EQ(value_of(env, "REQUEST_METHOD"), "GET");
  EXPECT_EQ(value_of(env, "GREETING"), "hi");
}

TEST(CgiEnvironment, HeadersAreCappedAndOddNamesSkipped) {
  RequestMeta req;
  for (std::size_t i = 0; i < kMaxCgiHeaders + 10; ++i) {
    req.headers.emplace_back("X-H" + std::to_string(i), "v");
  }
  req.headers.emplace_back("Bad.Name", "v");
  const EnvList env = cgi_environment(req, fn_with_env({}), RuntimeKind::kWasm);
  const auto headers = std::count_if(env.begin(), env.end(),
                                     [](const auto& e) { return e.first.starts_with("HTTP_"); });
  EXPECT_EQ(static_cast<std::size_t>(headers), kMaxCgiHeaders);
  EXPECT_EQ(cgi_header_variable("Bad.Name"), "");
  EXPECT_EQ(cgi_header_variable("x-forwarded-for"), "HTTP_X_FORWARDED_FOR");
}

}  // namespace
}  // namespace nebula
