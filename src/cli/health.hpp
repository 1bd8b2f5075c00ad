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

HealthReport health_check(const stash::ServerConnection& server, store::Db& db);

} // namespace cli
