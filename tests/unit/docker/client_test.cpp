// The Engine API client against the real engine (label `docker`).
#include "docker/client.hpp"

#include <gtest/gtest.h>

#include "unit/docker/engine_support.hpp"

namespace nebula::docker {
namespace {

using testing::kFixtureImage;
using testing::test_client;

[[maybe_unused]] auto* const kNoLeftovers =
    ::testing::AddGlobalTestEnvironment(new testing::NoLeftoversEnvironment);

ContainerSpec fixture_spec(std::vector<std::string> cmd) {
  ContainerSpec spec;
  spec.image = kFixtureImage;
  spec.cmd = std::move(cmd);
  spec.memory_bytes = 64ULL << 20U;
  spec.nano_cpus = 1'000'000'000;
  spec.pids_limit = 16;
  spec.labels = {{std::string(kFunctionLabel), "client-test"},
                 {std::string(kInstanceLabel), std::to_string(getpid()) + "-client"}};
  return spec;
}

TEST(DockerClient, UnreachableSocketSaysHowToFixIt) {
  Client client(ClientOptions{"/nonexistent/docker.sock", std::chrono::milliseconds(1000)});
  Status ping = client.ping();
  ASSERT_FALSE(ping);
  EXPECT_EQ(ping.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(ping.error().message.find("ensure-docker.sh"), std::string::npos);
}

TEST(DockerClient, PingsAndNegotiatesAVersion) {
  NEBULA_REQUIRE_ENGINE();
  auto version = test_client().api_version();
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_LE(*version, kNewestApiVersion);
  EXPECT_GE(*version, kOldestApiVersion);
  auto info = test_client().info();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_FALSE(info->cgroup_driver.empty());
}

TEST(DockerClient, MissingImageIsNotFound) {
  NEBULA_REQUIRE_ENGINE();
  auto image = test_client().inspect_image("nebula-no-such-image:latest");
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(image.error().message,
            "image nebula-no-such-image:latest not found on the Docker engine; build or pull it "
            "first");
}

TEST(DockerClient, CreateAttachStartWaitRemove) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Client& client = test_client();
  auto id = client.create_container(fixture_spec({"stderr"}), "");
  ASSERT_TRUE(id) << id.error().message;
  auto stream = client.attach(*id);
  ASSERT_TRUE(stream) << stream.error().message;
  ASSERT_TRUE(client.start(*id));
  // 304: starting again is fine.
  EXPECT_TRUE(client.start(*id));

  std::string out;
  std::string err;
  auto end = stream->exchange(
      "to stderr", true,
      [&out, &err](StreamKind kind, std::string_view data) {
        (kind == StreamKind::kStderr ? err : out) += data;
        return true;
      },
      Clock::now() + std::chrono::seconds(20));
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_EQ(*end, AttachedStream::End::kEof);
  EXPECT_EQ(out, "done");
  EXPECT_EQ(err, "to stderr");

  auto code = client.wait(*id, Clock::now() + std::chrono::seconds(20));
  ASSERT_TRUE(code) << code.error().message;
  EXPECT_EQ(*code, 0);
  auto state = client.inspect_container(*id);
  ASSERT_TRUE(state);
  EXPECT_FALSE(state->running);
  EXPECT_FALSE(state->oom_killed);
  // Killing a stopped container (409) and removing twice (404) are fine.
  EXPECT_TRUE(client.kill(*id));
  EXPECT_TRUE(client.remove(*id));
  EXPECT_TRUE(client.remove(*id));
  auto gone = client.inspect_container(*id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound);
}

TEST(DockerClient, ListFindsContainersByLabel) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Client& client = test_client();
  ContainerSpec spec = fixture_spec({});
  spec.labels = {{std::string(kFunctionLabel), "client-list-test"},
                 {std::string(kInstanceLabel), std::to_string(getpid()) + "-client"}};
  auto id = client.create_container(spec, "");
  ASSERT_TRUE(id) << id.error().message;
  auto list = client.list_containers(kFunctionLabel, "client-list-test");
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->size(), 1U);
  EXPECT_EQ(list->front().id, *id);
  EXPECT_EQ(list->front().labels.at(std::string(kFunctionLabel)), "client-list-test");
  ASSERT_TRUE(client.remove(*id));
  list = client.list_containers(kFunctionLabel, "client-list-test");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
}

TEST(DockerClient, NameConflictIsReported) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Client& client = test_client();
  const std::string name = "nebula-client-test-" + std::to_string(getpid());
  auto first = client.create_container(fixture_spec({}), name);
  ASSERT_TRUE(first) << first.error().message;
  auto second = client.create_container(fixture_spec({}), name);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("already in use"), std::string::npos);
  EXPECT_TRUE(client.remove(*first));
}

TEST(DockerClient, ExchangeStopsAtTheDeadline) {
  NEBULA_REQUIRE_FIXTURE_IMAGE();
  Client& client = test_client();
  auto id = client.create_container(fixture_spec({"sleep"}), "");
  ASSERT_TRUE(id) << id.error().message;
  auto stream = client.attach(*id);
  ASSERT_TRUE(stream);
  ASSERT_TRUE(client.start(*id));
  const auto begin = Clock::now();
  auto end = stream->exchange(
      "", true, [](StreamKind, std::string_view) { return true; },
      begin + std::chrono::milliseconds(300));
  ASSERT_TRUE(end);
  EXPECT_EQ(*end, AttachedStream::End::kDeadline);
  EXPECT_LT(Clock::now() - begin, std::chrono::seconds(5));
  EXPECT_TRUE(client.remove(*id));
}

}  // namespace
}  // namespace nebula::docker
