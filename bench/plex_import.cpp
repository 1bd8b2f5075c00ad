// Plex -> Stash (issue #27): importing a large play history. plexsim holds N items with a play
// history of E entries (two counted accounts), stashsim the N scenes; PlexSync's database says
// each scene is synced to its item. One poll imports everything; a second poll finds nothing new.
// Reports the time and the requests to Plex and Stash of each.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>

#include "activity/importer.hpp"
#include "config/settings.hpp"
#include "net/server.hpp"
#include "plexsim.hpp"
#include "stashsim.hpp"
#include "store/db.hpp"
#include "worker/worker.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

} // namespace

int main(int argc, char** argv) {
  const int entries = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int items = argc > 2 ? std::atoi(argv[2]) : 1000;
  char templ[] = "/tmp/plexsync-import-XXXXXX";
  const std::string dir = mkdtemp(templ);
  plexsim::PlexSim plex;
  stashsim::StashSim stash;
  plex.generate(items);
  stash.generate(items);
  auto plex_server = net::start_server("127.0.0.1", 0, [&](const net::ServerRequest& r) { return plex.handle(r); });
  auto stash_server = net::start_server("127.0.0.1", 0, [&](const net::ServerRequest& r) { return stash.handle(r); });
  const nlohmann::json raw = {{"plex_url", "http://127.0.0.1:" + std::to_string(plex_server->port())},
                              {"plex_token", "plexsim-token"},
                              {"plex_to_stash", true},
                              {"plex_to_stash_accounts", "Alice"}};
  const auto settings = config::load_settings(raw).settings;
  auto db = store::Db::open(dir);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().message.c_str());
    return 1;
  }
  // Every scene synced to its item (scene i+1 <-> item 10000+i), as a sync would leave it.
  auto txn = store::Txn::begin(*db);
  for (int i = 0; i < items; ++i) {
    auto stmt = db->prepare("INSERT INTO sync_records(scene_id, rating_key, section_key, match_score, "
                            "stash_updated_at, synced_ms, requests, wrote) VALUES(?1, ?2, '1', 100, '', 0, 0, 1)");
    (void)stmt->bind(1, std::to_string(i + 1)).bind(2, std::to_string(10000 + i)).run();
  }
  (void)txn->commit();
  const int64_t start = static_cast<int64_t>(std::time(nullptr)) - 30LL * 24 * 3600;
  for (const char* key : {"plex_history_cursor", "plex_viewed_cursor", "plex_rated_cursor"}) {
    (void)db->put_kv(key, std::to_string(start));
  }
  const auto alice = plex.add_account("Alice");
  for (int e = 0; e < entries; ++e) {
    // Each item's plays 10 minutes apart, alternating between the owner and Alice.
    const int item = e % items;
    const int round = e / items;
    plex.play(std::to_string(10000 + item), round % 2 == 0 ? 1 : alice, start + 600 + round * 600 + item % 500);
  }
  auto plex_client = worker::make_plex_client(settings, *db);
  auto stash_client = stash::connect("http://127.0.0.1:" + std::to_string(stash_server->port()), {"session", "", ""});
  const auto run = [&](const char* what) {
    const auto plex_before = plex_client->requests_sent();
    const auto stash_before = stash.requests().snapshot().size();
    activity::Importer importer(*db, *plex_client, **stash_client, settings,
                                static_cast<int64_t>(std::time(nullptr)) * 1000);
    const auto t = Clock::now();
    auto got = importer.poll();
    const double ms = ms_since(t);
    if (!got) {
      std::fprintf(stderr, "%s: %s\n", what, got.error().message.c_str());
      return false;
    }
    std::printf("%-28s %9.1f ms  plays %6lld (known %lld)  Plex requests %4lld  Stash requests %4zu\n", what, ms,
                static_cast<long long>(got->plays), static_cast<long long>(got->plays_known),
                static_cast<long long>(plex_client->requests_sent() - plex_before),
                stash.requests().snapshot().size() - stash_before);
    return true;
  };
  std::printf("history of %d entries over %d items (owner and one listed account)\n", entries, items);
  const bool ok = run("first poll (imports all)") && run("second poll (nothing new)");
  size_t in_stash = 0;
  for (int i = 0; i < items; ++i) {
    in_stash += stash.scene(std::to_string(i + 1))->value("plays", nlohmann::json::array()).size();
  }
  std::printf("plays in Stash afterwards: %zu\n", in_stash);
  std::filesystem::remove_all(dir);
  return ok && in_stash == static_cast<size_t>(entries) ? 0 : 1;
}
