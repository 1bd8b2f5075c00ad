#include "worker/scan.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "match/index.hpp"
#include "provider/catalog.hpp"
#include "provider/identity.hpp"
#include "provider/service.hpp"
#include "queue/queue.hpp"
#include "util/log.hpp"
#include "util/utc_time.hpp"
#include "worker/worker.hpp"

namespace worker {
namespace {

constexpr int64_t k_page_size = 200;
constexpr int64_t k_poll_overlap_s = 5;
// Stash stores updated_at in the server's local offset and compares it as text (spec 5.3): when a
// server off UTC sets its clocks back, the repeated hour's changes sort below the cursor
// ("01:05-05:00" < "01:59-04:00") until local time passes it again. Looking an hour further back
// finds them; what was already seen in that window is skipped by (id, updated_at).
constexpr int64_t k_poll_dst_overlap_s = 3600;

int64_t poll_overlap_s(const std::string& cursor) {
  const bool utc = cursor.ends_with("Z") || cursor.ends_with("+00:00") || cursor.ends_with("-00:00");
  return utc ? k_poll_overlap_s : k_poll_dst_overlap_s + k_poll_overlap_s;
}

} // namespace

util::Result<ScanResult> enqueue_changed(stash::StashClient& stash, store::Db& db, const nlohmann::json& scene_filter,
                                         const std::string& event, int64_t now_ms,
                                         const std::function<void(int64_t, int64_t)>& progress,
                                         const std::function<bool(const std::string&, const std::string&)>& skip,
                                         bool even_up_to_date) {
  ScanResult result;
  queue::Queue q(db);
  for (int64_t page = 1;; ++page) {
    // Sorted by id: stable while scenes change under us (updated_at would move them between pages).
    TRY_ASSIGN(auto data,
               stash.query(stash::queries::k_scene_versions,
                           {{"f", scene_filter.is_object() ? scene_filter : nlohmann::json::object()},
                            {"p", {{"page", page}, {"per_page", k_page_size}, {"sort", "id"}, {"direction", "ASC"}}}}));
    TRY_ASSIGN(const auto found, stash::scene_versions_from_json(data));
    const auto total = found.count;
    const auto& scenes = found.scenes;
    TRY_ASSIGN(auto txn, store::Txn::begin(db));
    for (const auto& [id, updated_at] : scenes) {
      ++result.seen;
      result.versions.emplace_back(id, updated_at);
      if (updated_at > result.newest_updated_at) {
        result.newest_updated_at = updated_at;
      }
      if (skip && skip(id, updated_at)) {
        ++result.up_to_date;
        continue;
      }
      TRY_ASSIGN(auto rec, db.prepare("SELECT stash_updated_at FROM sync_records WHERE scene_id = ?1"));
      rec.bind(1, id);
      TRY_ASSIGN(const bool has, rec.step());
      if (has && rec.text_at(0) == updated_at && !even_up_to_date) {
        ++result.up_to_date;
        continue;
      }
      TRY(q.enqueue(id, event, now_ms));
      ++result.queued;
    }
    TRY(txn.commit());
    if (progress) {
      progress(result.seen, total);
    }
    if (scenes.empty() || result.seen >= total) {
      break;
    }
  }
  return result;
}

std::string shift_timestamp(const std::string& t, int64_t delta_s) {
  size_t rest = 0;
  const auto parsed = util::parse_iso_datetime(t, &rest);
  if (!parsed) {
    return {};
  }
  // The local wall time moves; the offset after it is kept as it was.
  return util::format_utc(util::to_epoch(*parsed) + delta_s, "%Y-%m-%dT%H:%M:%S") + t.substr(rest);
}

namespace {

// The (id, updated_at) pairs within the overlap window below the cursor, as "id@updated_at".
nlohmann::json boundary(const std::vector<std::pair<std::string, std::string>>& versions, const std::string& cursor) {
  const auto floor = shift_timestamp(cursor, -poll_overlap_s(cursor));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, updated_at] : versions) {
    if (updated_at > floor) {
      std::string entry = id;
      entry += '@';
      entry += updated_at;
      out.push_back(std::move(entry));
    }
  }
  return out;
}

} // namespace

util::Result<ScanResult> poll_late_updates(stash::StashClient& stash, store::Db& db, int64_t now_ms) {
  TRY_ASSIGN(auto cursor, db.get_kv("poll_cursor"));
  if (!cursor || cursor->empty()) {
    // First poll: remember where Stash's newest updated_at stands, enqueue nothing.
    TRY_ASSIGN(auto data,
               stash.query(stash::queries::k_scene_versions,
                           {{"f", nlohmann::json::object()},
                            {"p", {{"page", 1}, {"per_page", 100}, {"sort", "updated_at"}, {"direction", "DESC"}}}}));
    TRY_ASSIGN(const auto found, stash::scene_versions_from_json(data));
    const auto& versions = found.scenes;
    const auto start = versions.empty() ? std::string("1970-01-01T00:00:00Z") : versions.front().second;
    auto window = versions;
    if (!versions.empty() && poll_overlap_s(start) > k_poll_overlap_s) {
      // The next poll looks an hour back: all of that hour counts as seen, not just this page.
      const nlohmann::json since = {
          {"updated_at", {{"value", shift_timestamp(start, -poll_overlap_s(start))}, {"modifier", "GREATER_THAN"}}}};
      TRY_ASSIGN(auto listed, enqueue_changed(stash, db, since, "poll", now_ms, {},
                                              [](const std::string&, const std::string&) { return true; }));
      window = std::move(listed.versions);
    }
    TRY(db.put_kv("poll_seen", boundary(window, start).dump()));
    TRY(db.put_kv("poll_cursor", start));
    return ScanResult{};
  }
  std::set<std::string> seen;
  if (auto text = db.get_kv("poll_seen"); text && *text) {
    const auto parsed = nlohmann::json::parse(**text, nullptr, false);
    if (parsed.is_array()) {
      for (const auto& v : parsed) {
        if (v.is_string()) {
          seen.insert(v.get<std::string>());
        }
      }
    }
  }
  const auto since = shift_timestamp(*cursor, -poll_overlap_s(*cursor));
  const nlohmann::json filter = {
      {"updated_at", {{"value", since.empty() ? *cursor : since}, {"modifier", "GREATER_THAN"}}}};
  TRY_ASSIGN(auto result, enqueue_changed(stash, db, filter, "poll", now_ms, {},
                                          [&](const std::string& id, const std::string& updated_at) {
                                            return seen.count(id + "@" + updated_at) > 0;
                                          }));
  const auto next_cursor = std::max(*cursor, result.newest_updated_at);
  TRY(db.put_kv("poll_seen", boundary(result.versions, next_cursor).dump()));
  TRY(db.put_kv("poll_cursor", next_cursor));
  if (result.queued > 0) {
    LOG_INFO("found " << result.queued << " scene(s) changed in Stash without a hook; queued");
  }
  return result;
}

// reconcile_*: also Plex's side of scenes synced before: items gone from Plex (re-added under a
// new key, or removed) and items with empty fields (Plex agents or a user cleared them) are
// queued again; the worker's diff then writes only what Stash actually has.
util::Result<std::pair<int64_t, int64_t>> reconcile_plex_side(store::Db& db, const config::Settings& settings,
                                                              int64_t now) {
  auto plex = make_plex_client(settings, db);
  auto all = plex->sections();
  if (!all) {
    return util::fail(all.error().message);
  }
  TRY_ASSIGN(auto sections, match::select_sections(*all, settings.plex_library));
  std::unordered_map<std::string, plex::ItemSummary> items;
  constexpr int64_t k_reconcile_page = 200;
  for (const auto& section : sections) {
    int64_t start = 0;
    for (int64_t pages = 0; pages < match::k_max_listing_pages; ++pages) {
      auto page = plex->list_section(section.key, start, k_reconcile_page);
      if (!page) {
        return util::fail(page.error().message);
      }
      const auto listed = page->items.size();
      for (auto& item : page->items) {
        items.emplace(item.rating_key, std::move(item));
      }
      start += static_cast<int64_t>(listed);
      if (match::listing_done(start, page->total, listed, k_reconcile_page)) {
        break;
      }
    }
  }
  std::vector<std::pair<std::string, bool>> to_queue; // (scene, gone from Plex)
  {
    TRY_ASSIGN(auto recs, db.prepare("SELECT scene_id, rating_key FROM sync_records"));
    while (true) {
      TRY_ASSIGN(const bool row, recs.step());
      if (!row) {
        break;
      }
      const auto it = items.find(recs.text_at(1));
      if (it == items.end()) {
        to_queue.emplace_back(recs.text_at(0), true);
      } else if (it->second.title.empty() || it->second.summary.empty() || it->second.studio.empty() ||
                 it->second.originally_available_at.empty()) {
        to_queue.emplace_back(recs.text_at(0), false);
      }
    }
  }
  queue::Queue q(db);
  int64_t gone = 0;
  for (const auto& [scene, missing] : to_queue) {
    TRY(q.enqueue(scene, "reconcile", now));
    gone += missing ? 1 : 0;
  }
  return std::pair<int64_t, int64_t>{gone, static_cast<int64_t>(to_queue.size()) - gone};
}

util::Result<CatchUp> catch_up_pull_items(store::Db& db, const config::Settings& settings, int64_t now) {
  const auto identifier = provider::identifier(settings.provider_identifier_suffix);
  CatchUp done;
  if (!identifier) {
    return done;
  }
  auto plex = make_plex_client(settings, db);
  auto all = plex->sections();
  if (!all) {
    return util::fail(all.error().message);
  }
  std::vector<std::string> locations;
  for (const auto& section : *all) {
    locations.insert(locations.end(), section.locations.begin(), section.locations.end());
  }
  (void)provider::remember_library_folders(db, *all);
  // The scene whose file an item holds by its full path, or "" (none, several, or only the end of
  // the path matched: issue #31, an item bound to a scene whose file merely shared its name).
  const auto owner_of = [&](const plex::ItemSummary& item) -> util::Result<std::string> {
    for (const auto& part : item.parts) {
      TRY_ASSIGN(const auto found, provider::match_file(db, part.file, locations));
      if (found.kind == provider::FileMatch::Kind::exact) {
        return found.scenes.front();
      }
    }
    return std::string();
  };
  std::set<std::string> scenes;
  constexpr int64_t k_page = 200;
  for (const auto& section : *all) {
    if (section.agent != *identifier) {
      continue;
    }
    int64_t start = 0;
    for (int64_t pages = 0; pages < match::k_max_listing_pages; ++pages) {
      auto page = plex->list_section(section.key, start, k_page);
      if (!page) {
        return util::fail(page.error().message);
      }
      for (const auto& item : page->items) {
        const auto bound = provider::scene_of_guid(*identifier, item.guid);
        if (!bound) {
          if (!settings.skip_bind_unmatched) {
            TRY_ASSIGN(const auto owner, owner_of(item));
            if (!owner.empty()) {
              scenes.insert(owner);
            }
          }
          continue;
        }
        TRY_ASSIGN(const auto snapshot, provider::load_snapshot(db, *bound));
        if (snapshot) {
          continue; // bound to a scene the provider knows
        }
        TRY_ASSIGN(const auto owner, owner_of(item));
        if (owner.empty() || owner == *bound) {
          continue; // the file is no scene's now: delete_action's business
        }
        TRY_ASSIGN(const auto heir, provider::load_snapshot(db, owner));
        const auto title = heir ? heir->scene.title : std::string();
        if (auto r = plex->bind_item(item.rating_key, provider::guid(*identifier, owner), title); !r) {
          return util::fail(r.error().message);
        }
        provider::count_bind();
        ++done.rebound;
        LOG_INFO("Plex item " << item.rating_key << " belonged to scene " << *bound
                              << ", which is gone; bound to scene " << owner << ", which has its file now");
      }
      const auto listed = page->items.size();
      start += static_cast<int64_t>(listed);
      if (match::listing_done(start, page->total, listed, k_page)) {
        break;
      }
    }
  }
  queue::Queue q(db);
  for (const auto& scene : scenes) {
    TRY(q.enqueue(scene, "provider_catch_up", now));
  }
  done.queued = static_cast<int64_t>(scenes.size());
  return done;
}

util::Result<int64_t> forget_deleted_scenes(store::Db& db, const ScanResult& full_scan) {
  std::set<std::string> alive;
  for (const auto& [id, updated_at] : full_scan.versions) {
    alive.insert(id);
  }
  std::vector<std::string> gone;
  {
    TRY_ASSIGN(auto recs, db.prepare("SELECT scene_id FROM sync_records"));
    while (true) {
      TRY_ASSIGN(const bool row, recs.step());
      if (!row) {
        break;
      }
      if (alive.count(recs.text_at(0)) == 0U) {
        gone.push_back(recs.text_at(0));
      }
    }
  }
  queue::Queue q(db);
  for (const auto& id : gone) {
    TRY_ASSIGN(auto del, db.prepare("DELETE FROM sync_records WHERE scene_id = ?1"));
    TRY(del.bind(1, id).run());
    TRY(q.drop(id));
  }
  return static_cast<int64_t>(gone.size());
}

util::Result<int64_t> clear_match_cache(store::Db& db, int64_t now) {
  TRY_ASSIGN(auto txn, store::Txn::begin(db));
  TRY(db.exec("DELETE FROM sync_records"));
  const auto cleared = db.changes();
  TRY(db.exec(
      "DELETE FROM match_reviews; DELETE FROM kv WHERE key LIKE 'scan_requested:%' OR key LIKE 'scan_folder:%'"));
  TRY(db.put_kv("index_epoch", std::to_string(now)));
  TRY(txn.commit());
  return cleared;
}

} // namespace worker
