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
};

// api_key: Stash's API key when the session cookie is not enough (outside Stash).
HealthReport health_check(const stash::ServerConnection& server, store::Db& db, const std::string& api_key = "");

} // namespace cli
