// Plex -> Stash (issue #27): what people do in Plex (plays, resume points, ratings) applied to
// Stash, exactly once, without echoes. Two sources feed it: the poll (the play history and the
// owner's recently viewed and rated items, from remembered points) and webhook events waiting in
// the plex_inbox table. Run by the worker's owning lane; docs/ARCHITECTURE.md shows where.
//
// Exactly once: a play is (account, item, time). Before adding plays to a scene, the scene's
// play history is read from Stash, and a play Stash already holds (within k_same_play_s, one
// Stash entry per play) is only recorded in the ledger: a worker killed between Stash's answer
// and the ledger's commit, a replayed history, a webhook and a poll of the same play, or a
// healed (empty) ledger add nothing twice.
//
// Ratings: sync_records.written["userRating"] is the rating both sides agreed on last (what
// PlexSync wrote to Plex, or took from it). A Plex rating that differs from it changed in Plex;
// if Stash's changed too, the later change wins (Plex's lastRatedAt against Stash's updated_at).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "activity/plex_events.hpp"
#include "config/settings.hpp"
#include "plex/client.hpp"
#include "stash/activity.hpp"
#include "stash/client.hpp"
#include "store/db.hpp"

namespace activity {

// Plays of one account and item this close in time are the same play (a webhook and the history
// give one play times a few seconds apart).
inline constexpr int64_t k_same_play_s = 180;
// The history is read back this far before the remembered point: a play Plex records a little
// after a later one (two clients, a slow scrobble) is still seen, and the ledger makes the
// overlap free of duplicates. Short, so that a poll after a busy hour is still one request.
inline constexpr int64_t k_history_overlap_s = 600;

struct ImportStats {
  int64_t plays = 0;       // added to Stash's play history
  int64_t plays_known = 0; // already in the ledger or in Stash
  int64_t resume_points = 0;
  int64_t ratings = 0;   // Plex -> Stash
  int64_t conflicts = 0; // both changed; the later won
  int64_t ignored = 0;   // other accounts, items PlexSync did not sync, unknown events
  ImportStats& operator+=(const ImportStats& o);
  [[nodiscard]] bool wrote() const { return plays + resume_points + ratings > 0; }
};

// The accounts whose activity counts: the owner, always, and the names in plex_to_stash_accounts.
std::set<std::string> counted_accounts(const std::string& setting);

class Importer {
public:
  Importer(store::Db& db, plex::PlexClient& plex, stash::StashClient& stash, const config::Settings& settings,
           int64_t now_ms);
  // One poll: the history since the remembered point, then the owner's items viewed and rated
  // since theirs. The first poll after turning the feature on only remembers where Plex stands.
  util::Result<ImportStats> poll();
  // Applies the webhook events waiting in the inbox, oldest first; an event Stash could not take
  // stays for the next round. Events arrive from WebhookReceiver.
  util::Result<ImportStats> drain_inbox();
  // Scenes whose rating changed in Stash later than in Plex: the caller queues them for pushing.
  [[nodiscard]] const std::vector<std::string>& push_wanted() const { return push_wanted_; }
  // How the last Plex request that failed failed (auth: the token; the caller pauses), if one did.
  [[nodiscard]] std::optional<plex::Failure> last_plex_failure() const { return last_plex_failure_; }

private:
  struct Play {
    std::string account; // folded name
    std::string rating_key;
    int64_t viewed_at = 0;
    int64_t add_duration_s = 0; // time watched, when Plex told it
  };
  util::Result<ImportStats> import_plays(std::vector<Play> plays, const char* source);
  util::Result<ImportStats> apply_resume(const std::string& scene, const ViewState& v,
                                         const stash::SceneActivity& current);
  util::Result<ImportStats> apply_rating(const std::string& scene, std::optional<double> rating, int64_t rated_at,
                                         const stash::SceneActivity& current);
  util::Result<ImportStats> apply_event(const WebhookEvent& event, const std::string& account, int64_t received_s);
  util::Result<nlohmann::json> plex_get(const std::string& target);
  util::Result<std::string> account_name(int64_t account_id); // folded; "" when unknown
  util::Result<std::string> owner_name();
  util::Result<std::optional<std::string>> scene_of(const std::string& rating_key);
  util::Result<int64_t> cursor(const char* key); // -1 before the first poll
  util::Result<std::vector<ViewState>> items_since(const char* filter, int64_t since);

  store::Db& db_;
  plex::PlexClient& plex_;
  stash::StashClient& stash_;
  const config::Settings& settings_;
  int64_t now_ms_;
  std::set<std::string> counted_;
  std::vector<std::string> push_wanted_;
  bool accounts_read_ = false;              // /accounts was read from Plex this round
  bool accounts_loaded_ = false;            // the kv copy was read this round
  std::map<int64_t, std::string> accounts_; // id -> folded name
  int64_t accounts_age_ms_ = 0;
  std::optional<plex::Failure> last_plex_failure_;
};

// PlexSync is about to set a scene's rating in Stash (kv own_edit:<scene>): the job the hook of
// that edit queues, when it finds the scene with this rating and writes nothing, is an echo.
util::Result<void> note_own_edit(store::Db& db, const std::string& scene_id, std::optional<int> rating100);

// The ledger's and counters' summary for Health check, status and /metrics.
struct ImportSummary {
  int64_t plays = 0;
  int64_t resume_points = 0;
  int64_t ratings = 0;
  int64_t conflicts = 0;
  int64_t echo_jobs = 0; // jobs after PlexSync's own Stash edit that wrote nothing to Plex
  int64_t last_import_ms = 0;
  int64_t inbox = 0; // webhook events waiting
  std::string last_source;
};
ImportSummary import_summary(store::Db& db);

} // namespace activity
