// A Stash simulator: GraphQL over HTTP answering the queries of specs/stash-plugin-protocol.md
// from editable seeded scenes, with Stash's session-cookie and ApiKey rules and image endpoints.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graphql.hpp"
#include "net/server.hpp"
#include "schema.hpp"
#include "sim/faults.hpp"

namespace stashsim {

struct Options {
  std::string api_key;               // configured API key ("" = none)
  bool credentials = false;          // Stash has a username/password: requests need a cookie or the key
  std::string utc_offset = "+01:00"; // timestamps as Stash writes them (server local time)
  // The Stash release modelled: "" = develop, else a tag such as "v0.26.2" with its schema under
  // <schema_dir>/versions/<tag>. Queries are validated against that schema as gqlgen does (HTTP
  // 422 for an unknown field); v0.25 also stores plugin settings the way Stash v0.25 does.
  std::string release;
  std::string schema_dir; // Stash's SDL (tests/data/stash-schema); "" = the build's default
  // Stash's external_host: image URLs are built on it (it may carry a path prefix that only a
  // reverse proxy serves; this simulator serves its root only, like Stash itself).
  std::string external_host;
  // Scene covers as Stash's screenshots are, 16:9 JPEGs (320 x 180, one colour per scene), instead
  // of the 1 x 1 PNG the tests compare bytes with.
  bool wide_covers = false;
  // Stash's max_session_age with a password (0 = sessions never expire). As a real Stash v0.30.1
  // was seen doing, a cookie stops working this long after it was made, however often it is used:
  // the Set-Cookie that refreshes it carries the same value and the same end (stricter than
  // Stash's source, whose refresh re-encodes the timestamp; nobody saw a refresh extend it).
  int64_t session_max_age_ms = 0;
};

// The schema folder the build knows (tests/data/stash-schema in the source tree), or
// $STASHSIM_SCHEMA_DIR.
std::string default_schema_dir();

class StashSim {
public:
  // Throws std::runtime_error when a release is asked for and its schema cannot be read.
  explicit StashSim(Options options = {});

  // Answers as another Stash release from now on (its schema; v0.25's settings behaviour for
  // settings stored afterwards). Throws std::runtime_error when its schema cannot be read.
  void set_release(const std::string& release);
  // {"scenes": [...], "plugins": {"PlexSync": {...}}}
  void load(const nlohmann::json& seed);
  // n scenes whose files match plexsim's generated library (same paths, sizes, durations).
  void generate(int n, const std::string& path_prefix = "/media/adult");

  net::ServerResponse handle(const net::ServerRequest& req);

  // A fresh session cookie value, as Stash puts in a plugin's server_connection.
  std::string new_session();
  // Every session cookie stops working, as when Stash restarts.
  void end_sessions();
  // Stash's authentication: its API key and whether a username/password is set. Call before serving.
  void set_auth(const std::string& api_key, bool credentials);
  void set_session_max_age_ms(int64_t ms);
  // Edits a scene the way the UI would: merges fields and bumps updated_at.
  bool update_scene(const std::string& id, const nlohmann::json& patch);
  void add_scene(const nlohmann::json& scene);
  bool delete_scene(const std::string& id);
  void set_plugin_settings(const std::string& plugin_id, const nlohmann::json& settings);
  void set_job_queue(const nlohmann::json& jobs);
  // Hostile answers: every id as a JSON number instead of GraphQL's string.
  void set_numeric_ids(bool on);
  // The server's local offset from now on ("-05:00"): a DST change as Stash's stored text shows it.
  void set_utc_offset(const std::string& offset);
  std::optional<nlohmann::json> scene(const std::string& id);

  // Called with a scene's id after each sceneUpdate, before its answer is sent, as Stash runs a
  // plugin's Scene.Update.Post hook (the e2e harness runs the built plugin here). Set before serving.
  void set_on_scene_update(std::function<void(const std::string&)> hook);
  // Mutation documents answered without error.
  int64_t mutations();
  // Each mutation is applied at once but answered this much later: a client killed meanwhile
  // has changed Stash without knowing it (the window a ledger must survive).
  void set_mutation_delay_ms(int ms) { mutation_delay_ms_ = ms; }

  sim::FaultTable& faults() { return faults_; }
  sim::RequestLog& requests() { return log_; }
  // Every GraphQL document received, for schema validation in tests.
  std::vector<std::string> received_queries();

private:
  // HTTP status and body, as gqlgen answers (422 for documents that do not parse or validate).
  std::pair<int, nlohmann::json> execute(const std::string& query, const nlohmann::json& variables,
                                         const std::string& host);
  std::pair<int, nlohmann::json> mutate(const gql::Document& doc, const std::string& host);
  nlohmann::json plugin_configuration(const nlohmann::json& include) const;
  [[nodiscard]] bool v025() const;
  nlohmann::json full_scene(const nlohmann::json& s, const std::string& host) const;
  nlohmann::json find_scenes(const nlohmann::json& args, const std::string& host);
  std::string timestamp(int64_t epoch_s) const;
  int64_t next_tick();

  Options options_;
  std::optional<gql::Schema> schema_;
  std::mutex mutex_;
  std::map<int64_t, nlohmann::json> scenes_; // by numeric id
  nlohmann::json plugins_ = nlohmann::json::object();
  nlohmann::json job_queue_;
  std::map<std::string, int64_t> sessions_; // cookie value -> made at (steady ms)
  std::vector<std::string> queries_;
  std::atomic<bool> numeric_ids_{false};
  std::atomic<int> mutation_delay_ms_{0};
  int64_t clock_s_ = 1763600000; // advances one second per edit, like real saves
  int64_t mutations_ = 0;
  std::function<void(const std::string&)> on_scene_update_;
  sim::FaultTable faults_;
  sim::RequestLog log_;
};

} // namespace stashsim
