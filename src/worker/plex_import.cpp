// The worker's side of Plex -> Stash (issue #27): when to poll and drain, what to count and log.
#include "activity/importer.hpp"
#include "activity/webhook.hpp"
#include "stash/activity.hpp"
#include "sync/plan.hpp"
#include "util/log.hpp"
#include "util/utc_time.hpp"
#include "worker/worker.hpp"

namespace worker {
namespace {

constexpr int64_t k_default_poll_s = 300;
constexpr int64_t k_inbox_retry_ms = 30'000;
constexpr int64_t k_settings_max_age_ms = 60'000;

} // namespace

void Worker::import_from_plex(int64_t now) {
  if (!plex_ || !stash_) {
    return;
  }
  const int64_t interval_s =
      settings_->plex_history_poll_seconds == 0 ? k_default_poll_s : settings_->plex_history_poll_seconds;
  const bool poll_due = interval_s > 0 && now - last_plex_poll_ms_ >= interval_s * 1000;
  const int64_t generation = activity::inbox_generation();
  const bool inbox_due = inbox_seen_ != generation || (inbox_retry_ms_ != 0 && now >= inbox_retry_ms_);
  if (!poll_due && !inbox_due) {
    return; // nothing happened: no request, no query, no log line
  }
  activity::Importer importer(db_, *plex_, *stash_, *settings_, now);
  activity::ImportStats stats;
  std::string source;
  if (inbox_due) {
    inbox_seen_ = generation;
    if (auto drained = importer.drain_inbox(); drained) {
      stats += *drained;
      inbox_retry_ms_ = 0;
      source = "webhook";
    } else {
      inbox_retry_ms_ = now + k_inbox_retry_ms;
      LOG_WARN("Plex's webhook events could not be brought to Stash yet: " << drained.error().message
                                                                           << "; they are kept and tried again");
    }
  }
  if (poll_due) {
    last_plex_poll_ms_ = now;
    if (now - settings_loaded_ms_ > k_settings_max_age_ms) {
      // A service worker may see no hook for hours: settings changed in Stash (the accounts, this
      // very switch) apply within a minute.
      (void)refresh_context(true);
      if (!settings_ || !settings_->plex_to_stash) {
        return;
      }
    }
    if (auto polled = importer.poll(); polled) {
      stats += *polled;
      source = source.empty() ? "poll" : "webhook+poll";
    } else {
      LOG_WARN("Plex's plays and ratings could not be read or written: " << polled.error().message
                                                                         << "; trying again in " << interval_s << " s");
    }
  }
  for (const auto& scene : importer.push_wanted()) {
    (void)queue_.enqueue(scene, "Scene.Update.Post", now); // Stash's rating was later: it goes to Plex
  }
  const std::pair<const char*, int64_t> counters[] = {{"imported_plays", stats.plays},
                                                      {"imported_resume_points", stats.resume_points},
                                                      {"imported_ratings", stats.ratings},
                                                      {"rating_conflicts", stats.conflicts}};
  for (const auto& [key, delta] : counters) {
    if (delta != 0) {
      (void)db_.add_stat(key, delta);
    }
  }
  if (stats.wrote() || stats.conflicts > 0) {
    (void)db_.put_kv("last_import_ms", std::to_string(now));
    (void)db_.put_kv("last_import_source", source);
    LOG_INFO("from Plex to Stash (" << source << "): " << stats.plays << " play(s), " << stats.resume_points
                                    << " resume point(s), " << stats.ratings << " rating(s)"
                                    << (stats.conflicts > 0 ? ", " + std::to_string(stats.conflicts) +
                                                                  " rating(s) changed on both sides (the later kept)"
                                                            : std::string()));
  }
}

void Worker::note_echo(const std::string& scene_id, std::optional<int> rating100) {
  const auto key = "own_edit:" + scene_id;
  auto own = db_.get_kv(key);
  if (!own || !*own) {
    return;
  }
  if (**own == (rating100 ? std::to_string(*rating100) : "none")) {
    (void)db_.add_stat("echo_jobs", 1);
  }
  if (auto forget = db_.prepare("DELETE FROM kv WHERE key = ?1"); forget) {
    (void)forget->bind(1, key).run();
  }
}

void Worker::keep_later_plex_rating(const stash::Scene& scene, const plex::Item& item, const fieldsync::Written& last,
                                    fieldsync::Desired& desired) {
  if (!settings_->plex_to_stash || settings_->skip_rating || !stash_) {
    return;
  }
  const auto agreed_it = last.scalars.find("userRating");
  const std::string agreed = agreed_it == last.scalars.end() ? std::string() : agreed_it->second;
  const std::string in_plex = item.user_rating ? fieldsync::rating_text(*item.user_rating) : std::string();
  const std::string in_stash = desired.rating ? fieldsync::rating_text(*desired.rating) : std::string();
  if (in_plex == agreed || in_plex == in_stash || in_plex.empty()) {
    return; // Plex unchanged (the push goes on), both agree, or cleared in Plex (the importer's case)
  }
  if (in_stash != agreed) {
    (void)db_.add_stat("rating_conflicts", 1);
    const auto stash_at = util::parse_rfc3339(scene.updated_at);
    if (stash_at && *stash_at > item.last_rated_at) {
      LOG_INFO("scene " << scene.id << ": rating changed in Stash (" << (in_stash.empty() ? "none" : in_stash)
                        << ") after Plex (" << in_plex << "); Stash's goes to Plex");
      return;
    }
  }
  desired.rating = *item.user_rating; // Plex's stays, and Stash takes it
  const int rating100 = activity::to_rating100(*item.user_rating);
  (void)activity::note_own_edit(db_, scene.id, rating100);
  if (auto updated = stash::set_rating(*stash_, scene.id, rating100); updated) {
    (void)db_.add_stat("imported_ratings", 1);
    LOG_INFO("scene " << scene.id << ": rating " << in_plex << " set in Plex"
                      << (in_stash != agreed ? " after Stash's change" : "") << " is now Stash's (" << rating100
                      << "/100)");
  } else {
    LOG_WARN("scene " << scene.id << ": Plex's rating " << in_plex
                      << " could not be written to Stash: " << updated.error().message << "; kept in Plex");
  }
}

} // namespace worker
