#include "bench/server_status.hpp"

#include <gtest/gtest.h>

namespace nebula::bench {
namespace {

constexpr std::string_view kWithDocker = R"({"node":"vm","uptime_s":12,
  "process":{"processes":1,"rss_bytes":32321536,"cpu_us":60000,"threads":16,"open_fds":19,
             "voluntary_switches":98,"involuntary_switches":30},
  "functions":19,"wasm":{"prepared_variants":17,"loaded":3,"instance_slots":24},
  "docker":{"enabled":true,"warm_containers":2,
            "engine":{"processes":4,"rss_bytes":90000000,"cpu_us":5000000,"threads":60,
                      "open_fds":120,"voluntary_switches":4000,"involuntary_switches":10}},
  "store":{"kind":"sqlite","records_waiting":0},"data_dir_bytes":228663})";

TEST(ServerStatus, ReadsTheServerTheEngineAndWhatIsHeld) {
  auto r = parse_server_status(kWithDocker);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->server.rss_bytes, 32321536U);
  EXPECT_EQ(r->server.cpu_us, 60000U);
  EXPECT_EQ(r->server.threads, 16U);
  EXPECT_EQ(r->server.open_fds, 19U);
  EXPECT_EQ(r->server.voluntary_switches, 98U);
  EXPECT_EQ(r->functions, 19U);
  ASSERT_TRUE(r->wasm_loaded.has_value());
  EXPECT_EQ(*r->wasm_loaded, 3U);
  EXPECT_TRUE(r->docker_enabled);
  EXPECT_EQ(r->warm_containers, 2U);
  ASSERT_TRUE(r->engine.has_value());
  EXPECT_EQ(r->engine->processes, 4U);
  EXPECT_EQ(r->engine->rss_bytes, 90000000U);
  EXPECT_EQ(r->engine->voluntary_switches, 4000U);
  EXPECT_EQ(r->data_dir_bytes, 228663U);
}

// A server without Docker says engine null; one that predates wasm.loaded
// leaves it out, which is not the same as 0.
TEST(ServerStatus, NoEngineAndNoLoadedCountAreUnset) {
  auto r = parse_server_status(R"({"process":{"rss_bytes":1000},"wasm":{"prepared_variants":1},
                                   "docker":{"enabled":false,"warm_containers":0,"engine":null}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->engine.has_value());
  EXPECT_FALSE(r->wasm_loaded.has_value());
  EXPECT_FALSE(r->docker_enabled);
  EXPECT_EQ(r->server.rss_bytes, 1000U);
}

TEST(ServerStatus, RefusesWhatIsNotAStatus) {
  EXPECT_FALSE(parse_server_status("not json"));
  EXPECT_FALSE(parse_server_status("[1,2]"));
  EXPECT_FALSE(parse_server_status(R"({"node":"vm"})"));
}

TEST(ServerStatus, RatesPerSecondNeverGoNegative) {
  EXPECT_DOUBLE_EQ(rate_per_s(100, 350, 2.5), 100);
  // A group's sum drops when one of its processes exits.
  EXPECT_DOUBLE_EQ(rate_per_s(500, 300, 1), 0);
  EXPECT_DOUBLE_EQ(rate_per_s(1, 2, 0), 0);
}

}  // namespace
}  // namespace nebula::bench
