// The metadata provider under a large library (specs/plex-metadata-provider.md 7.5): a catalog of
// N scenes (100,000 by default), then PMS's three hot paths timed one request at a time over
// loopback HTTP: match by file name, metadata from the snapshot, an image served from the cache
// (200 KB). The push path's own cost for the same scenes (map, sanitize, validate, diff) is timed
// in the same run for the ratio. Prints one JSON document: p50/p99/max per path, in ms.
// Usage: provider_scale [N] [SAMPLES]
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "match/fold.hpp"
#include "match/path_map.hpp"
#include "net/http.hpp"
#include "provider/access.hpp"
#include "provider/catalog.hpp"
#include "provider/images.hpp"
#include "provider/service.hpp"
#include "sync/plan.hpp"
#include "util/log.hpp"

namespace {

using Clock = std::chrono::steady_clock;

stash::Scene scene_number(int i) {
  const auto id = std::to_string(i);
  nlohmann::json j = {
      {"id", id},
      {"title", "Scene " + id + " at the pool"},
      {"details", std::string(600, 'd')},
      {"date", "2024-01-15"},
      {"updated_at", "2026-01-01T00:00:00Z"},
      {"studio", {{"name", "Studio " + std::to_string(i % 300)}, {"parent_studio", {{"name", "Network"}}}}},
      {"files",
       {{{"path", "/data/Studio " + std::to_string(i % 300) + "/" + std::to_string(i % 7) + "/Scene " + id + ".mp4"},
         {"basename", "Scene " + id + ".mp4"},
         {"size", 100000000 + i},
         {"duration", 1834.5}}}},
      {"paths", {{"screenshot", "http://stash:9999/scene/" + id + "/screenshot?t=1705312342"}}},
      {"performers",
       {{{"name", "Jane " + std::to_string(i % 50)},
         {"image_path", "http://stash:9999/performer/" + std::to_string(i % 50) + "/image?t=1"}}}},
      {"tags", {{{"name", "Outdoors"}}, {{"name", "Pool"}}, {{"name", "Tag " + std::to_string(i % 40)}}}},
      {"stash_ids",
       {{{"endpoint", "https://stashdb.org/graphql"}, {"stash_id", "2f0c1b7e-5a1d-4c39-9d2b-0e6f5a8b9c11"}}}}};
  return *stash::scene_from_json(j);
}

class Offline final : public provider::Backend {
public:
  config::Settings settings() override { return {}; }
  bool ready() override { return true; }
  util::Result<std::optional<stash::Scene>> fetch_scene(const std::string&) override { return util::fail("offline"); }
  util::Result<std::optional<stash::StashClient::Image>> fetch_image(const std::string&) override {
    return util::fail("offline");
  }
  util::Result<std::vector<stash::Scene>> search_scenes(const std::string&, int) override {
    return util::fail("offline");
  }
};

nlohmann::json summary(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) { return ms.at(std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))); };
  return {{"p50_ms", at(0.5)}, {"p99_ms", at(0.99)}, {"max_ms", ms.back()}, {"samples", ms.size()}};
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

} // namespace

int main(int argc, char** argv) {
  util::log::use_plain_stderr();
  const int n = argc > 1 ? std::stoi(argv[1]) : 100000;
  const int samples = argc > 2 ? std::stoi(argv[2]) : 2000;
  const auto dir = std::filesystem::temp_directory_path() / ("plexsync-provider-scale-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto db = store::Db::open(dir.string());
  if (!db) {
    std::cerr << db.error().message << "\n";
    return 1;
  }
  const auto t_build = Clock::now();
  {
    // One transaction for the whole catalog (the worker writes page by page).
    (void)db->exec("BEGIN");
    auto files = db->prepare("INSERT INTO stash_files VALUES (?1, ?2, ?3, ?3, ?4, ?5)");
    auto snaps = db->prepare("INSERT INTO scene_snapshots VALUES (?1, ?2, 1, ?3)");
    for (int i = 1; i <= n; ++i) {
      const auto s = scene_number(i);
      const auto& f = s.files.front();
      (void)files->bind(1, s.id)
          .bind(2, f.path)
          .bind(3, match::fold_path(f.path))
          .bind(4, match::folded_basename(f.path))
          .bind(5, f.size)
          .run();
      files->reset();
      (void)snaps->bind(1, s.id).bind(2, s.updated_at).bind(3, s.source).run();
      snaps->reset();
    }
    (void)db->exec("COMMIT");
  }
  const double build_s = ms_since(t_build) / 1000.0;
  Offline backend;
  provider::Secrets secrets{std::string(32, 'a'), std::string(32, 'k')};
  provider::Provider prov(dir.string(), secrets, backend);
  prov.rate_limit().set(1e9, 1e9); // answer times are measured here, not the per-source flood limit
  auto server = provider::serve(prov, {"127.0.0.1", 0}, *provider::AllowList::parse("private"));
  net::ClientOptions opts;
  opts.base = *net::Url::parse("http://127.0.0.1:" + std::to_string(server->port()));
  auto http = net::make_http_client(opts);
  const std::string base = "/p/" + secrets.token + "/movie/library/metadata";
  std::vector<double> match_ms;
  std::vector<double> meta_ms;
  std::vector<double> image_ms;
  std::vector<double> push_ms;
  int failures = 0;
  // A 200 KB cover already in the cache.
  provider::ImageSigner signer(secrets.hmac_key);
  const provider::ImageRef cover{"scene", "1", "screenshot", "1705312342"};
  std::string jpeg = "\xFF\xD8\xFF\xE0";
  jpeg.resize(200 * 1024, 'x');
  provider::ImageCache cache(dir.string() + "/cache/img", int64_t{256} * 1024 * 1024);
  (void)cache.put(*db, cover, {jpeg, "image/jpeg"}, 1);
  const auto image_target = "/" + provider::image_path(cover, signer); // outside the secret path
  for (int k = 0; k < samples; ++k) {
    const int i = 1 + static_cast<int>((static_cast<int64_t>(k) * 7919) % n);
    const auto s = scene_number(i);
    // The whole path, as PMS sends it: a name alone is never a certain match (issue #31), and this
    // catalog knows no library folders to complete one.
    const auto rel = s.files.front().path;
    auto t = Clock::now();
    auto r = http->send({"POST",
                         base + "/matches",
                         {{"Content-Type", "application/json"}},
                         nlohmann::json{{"type", 1}, {"title", "x"}, {"filename", rel}}.dump()});
    match_ms.push_back(ms_since(t));
    failures += r && r->status == 200 && r->body.find("scene-" + s.id + "\"") != std::string::npos ? 0 : 1;
    t = Clock::now();
    r = http->send({"GET", base + "/scene-" + s.id, {}, ""});
    meta_ms.push_back(ms_since(t));
    failures += r && r->status == 200 ? 0 : 1;
    t = Clock::now();
    r = http->send({"GET", image_target, {}, ""});
    image_ms.push_back(ms_since(t));
    failures += r && r->status == 200 && r->body.size() == jpeg.size() ? 0 : 1;
    // Push: what the worker computes for the same scene before its one edit.
    t = Clock::now();
    const auto prepared = fieldsync::prepare(s, config::Settings{});
    const auto plan = fieldsync::plan_edit(prepared.desired, plex::Item{}, {}, {});
    push_ms.push_back(ms_since(t));
    failures += plan.params.empty() ? 1 : 0; // an empty item always needs an edit
  }
  server->stop();
  std::filesystem::remove_all(dir);
  const auto m = summary(match_ms);
  const auto p = summary(push_ms);
  std::cout << nlohmann::json{{"scenes", n},
                              {"catalog_build_s", build_s},
                              {"failures", failures},
                              {"match_over_http", m},
                              {"metadata_over_http", summary(meta_ms)},
                              {"image_cache_hit_200kb_over_http", summary(image_ms)},
                              {"push_prepare_and_diff_in_process", p},
                              {"match_p50_vs_push_p50", m.at("p50_ms").get<double>() / p.at("p50_ms").get<double>()}}
                   .dump(2)
            << "\n";
  return failures == 0 ? 0 : 1;
}
