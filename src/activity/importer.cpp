#include "activity/importer.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "match/fold.hpp"
#include "stash/activity.hpp"
#include "sync/plan.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "util/utc_time.hpp"

namespace activity {
namespace {

constexpr int64_t k_page = 100;
constexpr int64_t k_max_pages = 2000; // 200,000 entries in one poll: a bound, not a plan
constexpr int64_t k_accounts_ttl_ms = 10LL * 60 * 1000;
constexpr int64_t k_inbox_batch = 200;
constexpr int64_t k_first_poll_margin_s = 300;

int64_t abs_diff(int64_t a, int64_t b) {
  return a > b ? a - b : b - a;
}

std::string rating_of(std::optional<double> r) {
  return r ? fieldsync::rating_text(*r) : std::string();
}

// The scenes' activity as Stash has it now, by id.
util::Result<std::map<std::string, stash::SceneActivity>> activity_of(stash::StashClient& stash,
                                                                      const std::set<std::string>& ids) {
  std::map<std::string, stash::SceneActivity> out;
  if (ids.empty()) {
    return out;
  }
  const std::vector<std::string> list(ids.begin(), ids.end());
  TRY_ASSIGN(auto found, stash::scene_activity(stash, list));
  for (auto& a : found) {
    out[a.id] = std::move(a);
  }
  return out;
}

} // namespace

ImportStats& ImportStats::operator+=(const ImportStats& o) {
  plays += o.plays;
  plays_known += o.plays_known;
  resume_points += o.resume_points;
  ratings += o.ratings;
  conflicts += o.conflicts;
  ignored += o.ignored;
  return *this;
}

std::set<std::string> counted_accounts(const std::string& setting) {
  std::set<std::string> out;
  for (const auto& name : util::split(setting, ',')) {
    const auto trimmed = util::trim(name);
    if (!trimmed.empty()) {
      out.insert(match::fold_text(trimmed));
    }
  }
  return out;
}

Importer::Importer(store::Db& db, plex::PlexClient& plex, stash::StashClient& stash, const config::Settings& settings,
                   int64_t now_ms)
    : db_(db), plex_(plex), stash_(stash), settings_(settings), now_ms_(now_ms),
      counted_(counted_accounts(settings.plex_to_stash_accounts)) {}

util::Result<nlohmann::json> Importer::plex_get(const std::string& target) {
  auto got = plex_.get(target);
  if (!got) {
    last_plex_failure_ = got.error().kind;
    return util::fail("Plex: " + got.error().message);
  }
  return std::move(*got);
}

util::Result<std::string> Importer::account_name(int64_t account_id) {
  // Kept in kv (id -> name) and in memory for the round; read from Plex again when an id is
  // unknown or the copy is over 10 minutes old, at most once per round.
  if (!accounts_loaded_) {
    accounts_loaded_ = true;
    TRY_ASSIGN(auto cached, db_.get_kv("plex_accounts"));
    TRY_ASSIGN(auto read_at, db_.get_kv("plex_accounts_ms"));
    const auto names = cached ? nlohmann::json::parse(*cached, nullptr, false) : nlohmann::json();
    if (names.is_object()) {
      for (const auto& [id, name] : names.items()) {
        if (name.is_string()) {
          accounts_[std::atoll(id.c_str())] = match::fold_text(name.get<std::string>());
        }
      }
    }
    accounts_age_ms_ = now_ms_ - (read_at ? std::atoll(read_at->c_str()) : 0);
  }
  if ((accounts_.count(account_id) == 0U || accounts_age_ms_ > k_accounts_ttl_ms) && !accounts_read_) {
    accounts_read_ = true;
    TRY_ASSIGN(const auto mc, plex_get("/accounts"));
    TRY_ASSIGN(const auto read, accounts_from_json(mc));
    nlohmann::json names = nlohmann::json::object();
    accounts_.clear();
    for (const auto& [id, name] : read) {
      names[std::to_string(id)] = name;
      accounts_[id] = match::fold_text(name);
    }
    TRY(db_.put_kv("plex_accounts", names.dump()));
    TRY(db_.put_kv("plex_accounts_ms", std::to_string(now_ms_)));
    accounts_age_ms_ = 0;
  }
  const auto it = accounts_.find(account_id);
  return it == accounts_.end() ? std::string() : it->second;
}

util::Result<std::string> Importer::owner_name() {
  return account_name(1); // PMS's own id for the server owner
}

util::Result<std::optional<std::string>> Importer::scene_of(const std::string& rating_key) {
  TRY_ASSIGN(auto stmt, db_.prepare("SELECT scene_id FROM sync_records WHERE rating_key = ?1 ORDER BY synced_ms DESC"));
  stmt.bind(1, rating_key);
  TRY_ASSIGN(const bool row, stmt.step());
  if (!row) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(stmt.text_at(0));
}

util::Result<int64_t> Importer::cursor(const char* key) {
  TRY_ASSIGN(auto value, db_.get_kv(key));
  if (!value || value->empty()) {
    return int64_t{-1};
  }
  return static_cast<int64_t>(std::atoll(value->c_str()));
}

util::Result<ImportStats> Importer::import_plays(std::vector<Play> plays, const char* source) {
  ImportStats stats;
  // The same play twice in one batch (a webhook and the history): once.
  std::sort(plays.begin(), plays.end(), [](const Play& a, const Play& b) {
    return std::tie(a.account, a.rating_key, a.viewed_at) < std::tie(b.account, b.rating_key, b.viewed_at);
  });
  std::vector<Play> distinct;
  for (auto& p : plays) {
    if (!distinct.empty() && distinct.back().account == p.account && distinct.back().rating_key == p.rating_key &&
        p.viewed_at - distinct.back().viewed_at <= k_same_play_s) {
      ++stats.plays_known;
      continue;
    }
    distinct.push_back(std::move(p));
  }
  // Known to the ledger: nothing to ask Stash.
  TRY_ASSIGN(auto known, db_.prepare("SELECT 1 FROM plex_plays WHERE account = ?1 AND rating_key = ?2 AND viewed_at "
                                     "BETWEEN ?3 AND ?4 LIMIT 1"));
  std::map<std::string, std::vector<Play>> by_scene;
  std::map<std::string, std::optional<std::string>> scenes;
  for (auto& p : distinct) {
    known.reset();
    known.bind(1, p.account)
        .bind(2, p.rating_key)
        .bind(3, p.viewed_at - k_same_play_s)
        .bind(4, p.viewed_at + k_same_play_s);
    TRY_ASSIGN(const bool seen, known.step());
    if (seen) {
      ++stats.plays_known;
      continue;
    }
    if (!scenes.count(p.rating_key)) {
      TRY_ASSIGN(scenes[p.rating_key], scene_of(p.rating_key));
    }
    const auto& scene = scenes[p.rating_key];
    if (!scene) {
      ++stats.ignored; // an item PlexSync never synced
      continue;
    }
    by_scene[*scene].push_back(std::move(p));
  }
  if (by_scene.empty()) {
    return stats;
  }
  std::set<std::string> ids;
  for (const auto& [scene, list] : by_scene) {
    ids.insert(scene);
  }
  TRY_ASSIGN(const auto current, activity_of(stash_, ids));
  TRY_ASSIGN(auto ledger_times, db_.prepare("SELECT viewed_at FROM plex_plays WHERE scene_id = ?1"));
  TRY_ASSIGN(auto record, db_.prepare("INSERT OR IGNORE INTO plex_plays(account, rating_key, viewed_at, scene_id, "
                                      "source, imported_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  for (auto& [scene, list] : by_scene) {
    const auto it = current.find(scene);
    if (it == current.end()) {
      stats.ignored += static_cast<int64_t>(list.size()); // deleted in Stash since
      continue;
    }
    // Stash's plays, less the ones the ledger already accounts for (one entry per play).
    std::vector<int64_t> free = it->second.play_history;
    ledger_times.reset();
    ledger_times.bind(1, scene);
    const auto consume = [&](int64_t t) {
      auto best = free.end();
      for (auto f = free.begin(); f != free.end(); ++f) {
        if (abs_diff(*f, t) <= k_same_play_s && (best == free.end() || abs_diff(*f, t) < abs_diff(*best, t))) {
          best = f;
        }
      }
      if (best == free.end()) {
        return false;
      }
      free.erase(best);
      return true;
    };
    for (;;) {
      TRY_ASSIGN(const bool row, ledger_times.step());
      if (!row) {
        break;
      }
      (void)consume(ledger_times.int_at(0));
    }
    std::sort(list.begin(), list.end(), [](const Play& a, const Play& b) { return a.viewed_at < b.viewed_at; });
    std::vector<const Play*> to_add;
    std::vector<const Play*> already;
    for (const auto& p : list) {
      (consume(p.viewed_at) ? already : to_add).push_back(&p);
    }
    if (!to_add.empty()) {
      std::vector<int64_t> times;
      int64_t duration = 0;
      for (const auto* p : to_add) {
        times.push_back(p->viewed_at);
        duration += p->add_duration_s;
      }
      TRY(stash::add_plays(stash_, scene, times));
      if (duration > 0) {
        TRY(stash::save_activity(stash_, scene, std::nullopt, static_cast<double>(duration)));
      }
    }
    // Recorded once Stash holds them; a crash before this line is caught by the check above.
    TRY_ASSIGN(auto txn, store::Txn::begin(db_));
    for (const auto* p : to_add) {
      record.reset();
      TRY(record.bind(1, p->account)
              .bind(2, p->rating_key)
              .bind(3, p->viewed_at)
              .bind(4, scene)
              .bind(5, source)
              .bind(6, now_ms_)
              .run());
    }
    for (const auto* p : already) {
      record.reset();
      TRY(record.bind(1, p->account)
              .bind(2, p->rating_key)
              .bind(3, p->viewed_at)
              .bind(4, scene)
              .bind(5, "stash")
              .bind(6, now_ms_)
              .run());
    }
    TRY(txn.commit());
    stats.plays += static_cast<int64_t>(to_add.size());
    stats.plays_known += static_cast<int64_t>(already.size());
  }
  return stats;
}

util::Result<std::vector<ViewState>> Importer::items_since(const char* filter, int64_t since) {
  std::vector<ViewState> out;
  for (int64_t start = 0, page = 0; page < k_max_pages; ++page, start += k_page) {
    TRY_ASSIGN(const auto mc, plex_get("/library/all?type=1&" + std::string(filter) + ">>=" + std::to_string(since) +
                                       "&X-Plex-Container-Start=" + std::to_string(start) +
                                       "&X-Plex-Container-Size=" + std::to_string(k_page)));
    TRY_ASSIGN(auto states, view_states_from_json(mc));
    const auto listed = mc.contains("Metadata") && mc.at("Metadata").is_array() ? mc.at("Metadata").size() : 0U;
    for (auto& v : states) {
      out.push_back(std::move(v));
    }
    if (listed < static_cast<size_t>(k_page)) {
      break;
    }
  }
  return out;
}

util::Result<ImportStats> Importer::poll() {
  ImportStats stats;
  const int64_t now_s = now_ms_ / 1000;
  TRY_ASSIGN(const int64_t history_from, cursor("plex_history_cursor"));
  if (history_from < 0) {
    // Turned on just now: from here on (less a margin for a clock that differs from Plex's; the
    // cursors follow Plex's own times afterwards). Older plays are not imported (README).
    const auto start = std::to_string(now_s - k_first_poll_margin_s);
    TRY(db_.put_kv("plex_history_cursor", start));
    TRY(db_.put_kv("plex_viewed_cursor", start));
    TRY(db_.put_kv("plex_rated_cursor", start));
    LOG_INFO("Plex -> Stash is on: plays, resume points and ratings from now on are brought to Stash");
    return stats;
  }
  // 1. The play history (every account), newest first as python-plexapi reads it, in pages.
  std::vector<HistoryEntry> entries;
  for (int64_t start = 0, page = 0; page < k_max_pages; ++page, start += k_page) {
    TRY_ASSIGN(const auto mc, plex_get("/status/sessions/history/all?sort=viewedAt:desc&viewedAt>=" +
                                       std::to_string(history_from - k_history_overlap_s) + "&X-Plex-Container-Start=" +
                                       std::to_string(start) + "&X-Plex-Container-Size=" + std::to_string(k_page)));
    TRY_ASSIGN(auto got, history_from_json(mc));
    for (auto& e : got.entries) {
      entries.push_back(std::move(e));
    }
    if (got.size < static_cast<size_t>(k_page) || (got.total >= 0 && start + k_page >= got.total)) {
      break;
    }
  }
  int64_t newest = history_from;
  std::vector<Play> plays;
  for (const auto& e : entries) {
    newest = std::max(newest, e.viewed_at);
    TRY_ASSIGN(const auto name, account_name(e.account_id));
    TRY_ASSIGN(const auto owner, owner_name());
    if (name.empty() || (name != owner && counted_.count(name) == 0U)) {
      ++stats.ignored;
      continue;
    }
    plays.push_back({name, e.rating_key, e.viewed_at, 0});
  }
  TRY_ASSIGN(const auto imported, import_plays(std::move(plays), "history"));
  stats += imported;
  TRY(db_.put_kv("plex_history_cursor", std::to_string(newest)));

  // 2. Resume points and 3. ratings: the owner's items viewed or rated since the last look.
  for (const char* kind : {"lastViewedAt", "lastRatedAt"}) {
    const bool viewed = std::string_view(kind) == "lastViewedAt";
    const char* key = viewed ? "plex_viewed_cursor" : "plex_rated_cursor";
    TRY_ASSIGN(int64_t from, cursor(key));
    if (from < 0) {
      from = now_s - k_first_poll_margin_s; // never everything Plex ever saw
    }
    TRY_ASSIGN(const auto states, items_since(kind, std::max<int64_t>(0, from - 1)));
    int64_t seen = from;
    std::map<std::string, ViewState> by_scene;
    for (const auto& v : states) {
      const int64_t at = viewed ? v.last_viewed_at : v.last_rated_at;
      if (at <= from) {
        continue; // the boundary second, answered again when Plex reads ">>=" as "at or after"
      }
      seen = std::max(seen, at);
      TRY_ASSIGN(const auto scene, scene_of(v.rating_key));
      if (!scene) {
        ++stats.ignored;
        continue;
      }
      by_scene[*scene] = v;
    }
    std::set<std::string> ids;
    for (const auto& [scene, v] : by_scene) {
      ids.insert(scene);
    }
    TRY_ASSIGN(const auto current, activity_of(stash_, ids));
    for (const auto& [scene, v] : by_scene) {
      const auto it = current.find(scene);
      if (it == current.end()) {
        continue;
      }
      if (viewed) {
        TRY_ASSIGN(const auto applied, apply_resume(scene, v, it->second));
        stats += applied;
      } else {
        TRY_ASSIGN(const auto applied, apply_rating(scene, v.user_rating, v.last_rated_at, it->second));
        stats += applied;
      }
    }
    TRY(db_.put_kv(key, std::to_string(seen)));
  }
  return stats;
}

util::Result<ImportStats> Importer::apply_resume(const std::string& scene, const ViewState& v,
                                                 const stash::SceneActivity& current) {
  ImportStats stats;
  if (v.view_offset_ms > 0) {
    const double resume = static_cast<double>(v.view_offset_ms) / 1000.0;
    if (std::fabs(current.resume_time - resume) < 1.0) {
      return stats;
    }
    TRY(stash::save_activity(stash_, scene, resume, std::nullopt));
  } else if (v.view_count > 0 && current.resume_time > 0) {
    TRY(stash::save_activity(stash_, scene, 0.0, std::nullopt)); // finished in Plex: no resume point
  } else {
    return stats;
  }
  ++stats.resume_points;
  return stats;
}

util::Result<ImportStats> Importer::apply_rating(const std::string& scene, std::optional<double> rating,
                                                 int64_t rated_at, const stash::SceneActivity& current) {
  ImportStats stats;
  if (settings_.skip_rating) {
    return stats; // PlexSync leaves ratings alone both ways
  }
  TRY_ASSIGN(auto stmt, db_.prepare("SELECT coalesce(written, '') FROM sync_records WHERE scene_id = ?1"));
  stmt.bind(1, scene);
  TRY_ASSIGN(const bool row, stmt.step());
  if (!row) {
    return stats;
  }
  auto written = fieldsync::Written::from_json(stmt.text_at(0));
  const auto agreed_it = written.scalars.find("userRating");
  const std::string agreed = agreed_it == written.scalars.end() ? std::string() : agreed_it->second;
  const std::string in_plex = rating_of(rating);
  if (in_plex == agreed) {
    return stats; // not changed in Plex (or PlexSync's own write)
  }
  const std::string in_stash = current.rating100 ? fieldsync::rating_text(to_plex_rating(*current.rating100)) : "";
  const auto remember = [&]() -> util::Result<void> {
    if (in_plex.empty()) {
      written.scalars.erase("userRating");
    } else {
      written.scalars["userRating"] = in_plex;
    }
    TRY_ASSIGN(auto update, db_.prepare("UPDATE sync_records SET written = ?2 WHERE scene_id = ?1"));
    return update.bind(1, scene).bind(2, written.to_json()).run();
  };
  if (in_stash == in_plex) {
    TRY(remember()); // both already agree
    return stats;
  }
  if (in_stash != agreed) {
    ++stats.conflicts;
    const auto stash_at = util::parse_rfc3339(current.updated_at);
    if (stash_at && *stash_at > rated_at) {
      LOG_INFO("scene " << scene << ": rating changed in Stash (" << (in_stash.empty() ? "none" : in_stash)
                        << ") after Plex (" << (in_plex.empty() ? "none" : in_plex) << "); Stash's is kept");
      push_wanted_.push_back(scene);
      return stats;
    }
    LOG_INFO("scene " << scene << ": rating changed in Plex (" << (in_plex.empty() ? "none" : in_plex)
                      << ") after Stash (" << (in_stash.empty() ? "none" : in_stash) << "); Plex's is kept");
  }
  // Recorded before the write: the hook Stash fires for it (before the write's answer comes
  // back) then finds both sides agreeing, and its job counts as an echo.
  TRY(remember());
  const std::optional<int> rating100 = rating ? std::optional<int>(to_rating100(*rating)) : std::nullopt;
  TRY(note_own_edit(db_, scene, rating100));
  TRY(stash::set_rating(stash_, scene, rating100));
  ++stats.ratings;
  return stats;
}

util::Result<ImportStats> Importer::drain_inbox() {
  ImportStats stats;
  TRY_ASSIGN(auto select, db_.prepare("SELECT id, received_ms, payload FROM plex_inbox ORDER BY id LIMIT " +
                                      std::to_string(k_inbox_batch)));
  std::vector<std::tuple<int64_t, int64_t, std::string>> rows;
  for (;;) {
    TRY_ASSIGN(const bool row, select.step());
    if (!row) {
      break;
    }
    rows.emplace_back(select.int_at(0), select.int_at(1), select.text_at(2));
  }
  TRY_ASSIGN(auto remove, db_.prepare("DELETE FROM plex_inbox WHERE id = ?1"));
  for (const auto& [id, received_ms, payload] : rows) {
    auto event = webhook_event_from_text(payload);
    if (event && (event->type.empty() || event->type == "movie") && !event->rating_key.empty()) {
      std::string account;
      if (event->owner_self) {
        TRY_ASSIGN(account, owner_name());
      } else {
        account = match::fold_text(event->account);
        TRY_ASSIGN(const auto owner, owner_name());
        if (account != owner && counted_.count(account) == 0U) {
          account.clear();
        }
      }
      if (account.empty()) {
        ++stats.ignored;
      } else {
        TRY_ASSIGN(const auto applied, apply_event(*event, account, received_ms / 1000));
        stats += applied;
      }
    } else {
      ++stats.ignored; // unknown events, other libraries' media, unreadable payloads
      if (!event) {
        LOG_DEBUG("webhook event ignored: " << event.error().message);
      }
    }
    remove.reset();
    TRY(remove.bind(1, id).run());
  }
  return stats;
}

util::Result<ImportStats> Importer::apply_event(const WebhookEvent& event, const std::string& account,
                                                int64_t received_s) {
  ImportStats stats;
  const bool scrobble = event.event == "media.scrobble";
  const bool stop = event.event == "media.stop";
  const bool rate = event.event == "media.rate";
  if (!scrobble && !stop && !rate) {
    ++stats.ignored;
    return stats;
  }
  if (scrobble) {
    const int64_t at = event.state.last_viewed_at > 0 ? event.state.last_viewed_at : received_s;
    TRY_ASSIGN(const auto imported,
               import_plays({{account, event.rating_key, at, event.state.duration_ms / 1000}}, "webhook"));
    stats += imported;
  }
  TRY_ASSIGN(const auto scene, scene_of(event.rating_key));
  if (!scene) {
    return stats;
  }
  TRY_ASSIGN(const auto current, activity_of(stash_, {*scene}));
  const auto it = current.find(*scene);
  if (it == current.end()) {
    return stats;
  }
  if (rate) {
    TRY_ASSIGN(const auto applied,
               apply_rating(*scene, event.rating,
                            event.state.last_rated_at > 0 ? event.state.last_rated_at : received_s, it->second));
    stats += applied;
  } else {
    ViewState v = event.state;
    if (scrobble) {
      v.view_offset_ms = 0;
      v.view_count = std::max<int64_t>(1, v.view_count);
    }
    TRY_ASSIGN(const auto applied, apply_resume(*scene, v, it->second));
    stats += applied;
  }
  return stats;
}

util::Result<void> note_own_edit(store::Db& db, const std::string& scene_id, std::optional<int> rating100) {
  return db.put_kv("own_edit:" + scene_id, rating100 ? std::to_string(*rating100) : "none");
}

ImportSummary import_summary(store::Db& db) {
  ImportSummary s;
  const auto stat = [&](const char* key) -> int64_t {
    auto stmt = db.prepare("SELECT value FROM stats WHERE key = ?1");
    if (!stmt) {
      return 0;
    }
    stmt->bind(1, key);
    auto row = stmt->step();
    return row && *row ? stmt->int_at(0) : 0;
  };
  s.plays = stat("imported_plays");
  s.resume_points = stat("imported_resume_points");
  s.ratings = stat("imported_ratings");
  s.conflicts = stat("rating_conflicts");
  s.echo_jobs = stat("echo_jobs");
  if (auto last = db.get_kv("last_import_ms"); last && *last) {
    s.last_import_ms = std::atoll((*last)->c_str());
  }
  if (auto src = db.get_kv("last_import_source"); src && *src) {
    s.last_source = **src;
  }
  if (auto stmt = db.prepare("SELECT count(*) FROM plex_inbox"); stmt) {
    if (auto row = stmt->step(); row && *row) {
      s.inbox = stmt->int_at(0);
    }
  }
  return s;
}

} // namespace activity
