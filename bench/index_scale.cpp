// A large library end to end, without edits: list every item of plexsim into the persisted index
// (one full refresh), then page through every Stash scene and match it, as the worker would.
// Prints the index build time, the matching time, the verdicts and the peak RSS of this process.
// Usage: index_scale PLEX_URL STASH_URL [TOKEN]
#include <chrono>
#include <filesystem>
#include <iostream>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "match/matcher.hpp"
#include "stash/client.hpp"
#include "util/log.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: index_scale PLEX_URL STASH_URL [TOKEN]\n";
    return 2;
  }
  util::log::use_plain_stderr();
  const std::string token = argc > 3 ? argv[3] : "plexsim-token";
  const auto dir = std::filesystem::temp_directory_path() / ("plexsync-index-scale-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto db = store::Db::open(dir.string());
  if (!db) {
    std::cerr << db.error().message << "\n";
    return 1;
  }
  net::ClientOptions opts;
  opts.base = *net::Url::parse(argv[1]);
  opts.read_timeout_ms = 120000;
  plex::PlexClient plex(net::make_http_client(opts), token, {"index-scale-bench", "bench"});
  auto sections = plex.sections();
  if (!sections) {
    std::cerr << sections.error().message << "\n";
    return 1;
  }
  auto chosen = match::select_sections(*sections, "Adult");
  match::LibraryIndex index(*db);

  const auto t_index = std::chrono::steady_clock::now();
  auto report = index.refresh(plex, *chosen, "bench", true, 1000);
  if (!report) {
    std::cerr << report.error().message << "\n";
    return 1;
  }
  const double index_s = seconds_since(t_index);
  const long rss_after_index = peak_rss_kib();

  auto stash = stash::connect(argv[2], {});
  const auto t_all = std::chrono::steady_clock::now();
  double match_s = 0;
  int64_t scenes = 0;
  int64_t confident = 0;
  int64_t uncertain = 0;
  int64_t none = 0;
  for (int page = 1;; ++page) {
    auto data = (*stash)->query(stash::queries::find_scenes(stash::GroupField::groups),
                                {{"f", nlohmann::json::object()},
                                 {"p", {{"page", page}, {"per_page", 1000}, {"sort", "id"}, {"direction", "ASC"}}}});
    if (!data) {
      std::cerr << data.error().message << "\n";
      return 1;
    }
    const auto& list = data->at("findScenes").at("scenes");
    if (list.empty()) {
      break;
    }
    const auto t_match = std::chrono::steady_clock::now();
    for (const auto& j : list) {
      auto scene = stash::scene_from_json(j);
      if (!scene) {
        continue;
      }
      match::SceneFacts facts;
      for (const auto& f : scene->files) {
        facts.files.push_back({f.path, f.size, f.duration});
      }
      facts.title = scene->title;
      auto d = match::find_match(index, facts, 75);
      ++scenes;
      if (!d || d->verdict == match::Verdict::none) {
        ++none;
      } else {
        ++(d->verdict == match::Verdict::confident ? confident : uncertain);
      }
    }
    match_s += seconds_since(t_match);
  }
  const double total_s = seconds_since(t_all);
  std::cout << "items indexed: " << report->items_seen << " in " << report->requests << " requests, " << index_s
            << " s\n"
            << "scenes matched: " << scenes << " in " << match_s << " s (" << (scenes > 0 ? match_s * 1e6 / scenes : 0)
            << " us each); reading them from Stash took " << total_s - match_s << " s\n"
            << "verdicts: " << confident << " confident, " << uncertain << " uncertain, " << none << " none\n"
            << "index build + matching: " << index_s + match_s << " s\n"
            << "peak RSS: " << rss_after_index / 1024 << " MiB after the index, " << peak_rss_kib() / 1024
            << " MiB at the end\n";
  std::filesystem::remove_all(dir);
  return 0;
}
