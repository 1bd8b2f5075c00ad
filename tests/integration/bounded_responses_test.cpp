// Answers that never end: a body streamed forever must stop at the size limit, a trickle at the
// overall deadline; either way the call fails cleanly and memory stays bounded.
#include <chrono>

#include <gtest/gtest.h>

#include "plex/client.hpp"
#include "stash/client.hpp"
#include "support/sandbox.hpp"
#include "worker/worker.hpp"

namespace {

using Clock = std::chrono::steady_clock;

class BoundedResponses : public testing_support::SimulatorsTest {
protected:
  plex::PlexClient plex_client(size_t max_bytes, int total_ms) {
    net::ClientOptions opts;
    opts.base = *net::Url::parse(plex_url());
    opts.read_timeout_ms = 1000;
    opts.total_timeout_ms = total_ms;
    opts.max_response_bytes = max_bytes;
    return plex::PlexClient(net::make_http_client(opts), "plexsim-token", {"test", "0"});
  }
};

TEST_F(BoundedResponses, EndlessPlexBodyStopsAtTheSizeLimit) {
  plex_.faults().add(sim::fault_from_spec("path=/library/sections,endless"));
  auto client = plex_client(4U * 1024U * 1024U, 60000);
  const auto started = Clock::now();
  const auto sections = client.sections();
  ASSERT_FALSE(sections);
  EXPECT_EQ(sections.error().kind, plex::Failure::bad_response) << sections.error().message;
  EXPECT_NE(sections.error().message.find("larger than 4194304 bytes"), std::string::npos) << sections.error().message;
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(20));
}

TEST_F(BoundedResponses, TricklingPlexBodyStopsAtTheDeadline) {
  // One byte every 50 ms never trips the 1 s read timeout; the overall deadline ends it.
  plex_.faults().add(sim::fault_from_spec("path=/library/sections,trickle_ms=50"));
  auto client = plex_client(64U * 1024U * 1024U, 1500);
  const auto started = Clock::now();
  const auto sections = client.sections();
  ASSERT_FALSE(sections);
  EXPECT_EQ(sections.error().kind, plex::Failure::timeout) << sections.error().message;
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(10));
}

TEST_F(BoundedResponses, ShippedClientsHaveLimitsToo) {
  // The worker's own Plex client (settings as a user sets them) and the Stash client: an endless
  // body ends at their built-in limit instead of filling memory.
  plex_.faults().add(sim::fault_from_spec("path=/identity,endless"));
  auto db = store::Db::open(dir_);
  ASSERT_TRUE(db);
  config::Settings settings;
  settings.plex_url = plex_url();
  settings.plex_token = "plexsim-token";
  auto shipped = worker::make_plex_client(settings, *db);
  const auto id = shipped->identity();
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().kind, plex::Failure::bad_response) << id.error().message;

  stash_.faults().add(sim::fault_from_spec("path=/graphql,endless"));
  auto stash = stash::connect(stash_url(), {});
  ASSERT_TRUE(stash);
  const auto scene = (*stash)->find_scene("1");
  ASSERT_FALSE(scene);
  EXPECT_NE(scene.error().message.find("response too large"), std::string::npos) << scene.error().message;
}

} // namespace
