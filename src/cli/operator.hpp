// The operator CLI: `plexsync status | dlq | config | doctor | match | sync`, for people looking at
// a PlexSync install from a shell (docker exec into Stash's container, or a service host). Each
// reads the same data directory and settings as the plugin; --json prints one JSON document.
//
// Exit codes (also in the README): 0 done / healthy; 1 problems found or the operation failed;
// 2 usage error; 3 nothing to work on (no data directory, or Stash unknown or unreachable).
#pragma once

#include <string>

namespace cli {

inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_problems = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_unavailable = 3;

struct OperatorOptions {
  std::string data_dir;
  bool json = false;
};

// acknowledge_recovery: forget the note that a damaged database was replaced (after reading it).
int cmd_status(const OperatorOptions& o, bool acknowledge_recovery = false);
// action: list | retry | purge. error_class narrows list and retry; days is purge's age.
int cmd_dlq(const OperatorOptions& o, const std::string& action, const std::string& error_class, int days);
int cmd_config(const OperatorOptions& o);
int cmd_doctor(const OperatorOptions& o);
int cmd_match(const OperatorOptions& o, const std::string& scene_or_path);
int cmd_sync(const OperatorOptions& o, const std::string& scene_id, bool dry_run);
// The review list (uncertain matches, with their candidates), and a person's choice among them:
// pick binds the scene to that Plex item and syncs it.
int cmd_review(const OperatorOptions& o);
int cmd_review_pick(const OperatorOptions& o, const std::string& scene_id, const std::string& rating_key);

} // namespace cli
