// The health_check task: can PlexSync reach Stash and Plex, is the token accepted, do the
// configured libraries exist, and is the queue paused (breaker, authentication)?
#pragma once

#include <nlohmann/json.hpp>

#include "stash/protocol.hpp"
#include "store/db.hpp"

namespace cli {

struct HealthReport {
  nlohmann::json details;
  std::vector<std::string> problems; // each names the cause and the fix; empty when healthy
  std::vector<std::string> notes;    // what works differently than a user may expect, and why
};

// Stash v0.25 cannot keep the settings of a plugin whose id has capitals (stashapp/stash#4575):
// the message that says so and how to fix it, or "" for a release without that bug.
std::string stash_release_problem(const std::string& version);

// api_key: Stash's API key when the session cookie is not enough (outside Stash).
HealthReport health_check(const stash::ServerConnection& server, store::Db& db, const std::string& api_key = "");

} // namespace cli
