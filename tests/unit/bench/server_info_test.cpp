#include "bench/server_info.hpp"

#include <gtest/gtest.h>

namespace nebula::bench {
namespace {

TEST(ServerInfo, ParsesTheInfoRoute) {
  auto info =
      parse_server_info(R"({"version":"0.1.0","wasmtime":"48.0.8","node":"bench-host",)"
                        R"("runtimes":{"wasm":{"available":true},)"
                        R"("docker":{"available":true,"version":"28.2.2","api_version":"1.50"}}})");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(info->known);
  EXPECT_EQ(info->version, "0.1.0");
  EXPECT_EQ(info->wasmtime, "48.0.8");
  EXPECT_EQ(info->node, "bench-host");
  EXPECT_TRUE(info->wasm_available);
  EXPECT_TRUE(info->docker_available);
  EXPECT_EQ(info->docker_description(), "28.2.2 (API 1.50)");
}

TEST(ServerInfo, DockerDisabledOrUnreachableHasNoVersion) {
  auto info =
      parse_server_info(R"({"version":"0.1.0","wasmtime":"48.0.8","node":"n",)"
                        R"("runtimes":{"wasm":{"available":true},"docker":{"available":false}}})");
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->docker_available);
  EXPECT_EQ(info->docker_description(), "");
}

TEST(ServerInfo, MissingOrMistypedMembersAreLeftEmpty) {
  auto info = parse_server_info(R"({"version":1,"runtimes":{"docker":"yes"}})");
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->known);
  EXPECT_EQ(info->version, "");
  EXPECT_EQ(info->wasmtime, "");
  EXPECT_FALSE(info->docker_available);
}

TEST(ServerInfo, ABodyThatIsNotAnObjectIsAnError) {
  for (const char* body : {"", "not json", "[1,2]", "\"0.1.0\""}) {
    auto info = parse_server_info(body);
    ASSERT_FALSE(info) << body;
    EXPECT_NE(info.error().message.find("/v1/info"), std::string::npos);
  }
}

TEST(ServerInfo, AnOlderServerWithoutTheRouteIsUnknownNotAnError) {
  http::ClientResponse not_found;
  not_found.status = 404;
  not_found.body = R"({"title":"Not Found","status":404})";
  auto info = server_info_from(not_found);
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->known);
  EXPECT_EQ(info->wasmtime, "");

  http::ClientResponse failed;
  failed.status = 401;
  failed.body = R"({"title":"Unauthorized","detail":"missing bearer token"})";
  auto error = server_info_from(failed);
  ASSERT_FALSE(error);
  EXPECT_NE(error.error().message.find("missing bearer token"), std::string::npos);

  http::ClientResponse ok;
  ok.status = 200;
  ok.body = R"({"version":"0.2.0"})";
  auto parsed = server_info_from(ok);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->version, "0.2.0");
}

}  // namespace
}  // namespace nebula::bench
