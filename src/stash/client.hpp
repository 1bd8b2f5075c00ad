// GraphQL over HTTP to Stash, authenticated with the session cookie Stash hands each plugin run
// (plus the API key when one is configured).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "net/http.hpp"
#include "stash/scene.hpp"
#include "util/expected.hpp"

namespace stash {

struct StashAuth {
  std::string cookie_name = "session";
  std::string cookie_value;
  std::string api_key;
};

// What a client learns from Stash once and a worker carries over to the clients it makes next
// (each hook brings a new session cookie, so a worker makes many): Stash's release, and Stash's
// API key read through the session cookie. The key is also kept in PlexSync's database (a 0600
// file: remember_api_key in worker/worker.hpp), so any later process goes on with it the moment Stash refuses an
// expired cookie (Stash's max_session_age, an hour by default, counted from the cookie's making).
struct StashFacts {
  bool known = false;
  std::string version; // as Stash reports it; may be empty
  std::string api_key; // empty when Stash has no credentials
};

class StashClient {
public:
  StashClient(std::unique_ptr<net::HttpClient> http, StashAuth auth);

  // Reads the facts once (one small query) unless given by adopt(); later calls reuse them. An API
  // key adopted earlier (remembered from another process) is kept when it cannot be read now.
  util::Result<StashFacts> facts();
  void adopt(const StashFacts& facts);
  // Where a key Stash's API key can be had from when Stash refuses the cookie and this client has
  // learnt none itself (another lane or process read it while its cookie worked): asked then only.
  void set_key_source(std::function<std::string()> source) { key_source_ = std::move(source); }
  [[nodiscard]] const StashFacts& known_facts() const { return facts_; } // no request

  // data member of the reply; GraphQL errors and HTTP failures become one readable error.
  util::Result<nlohmann::json> query(const std::string& document, const nlohmann::json& variables);
  // PlexSync's settings, keys in snake_case: found under the id "PlexSync" and under "plexSync",
  // where Stash v0.25 keeps them (and hands keys back camelCased) and its v0.26 upgrade leaves them.
  util::Result<nlohmann::json> plugin_settings();
  // nullopt when the scene no longer exists.
  util::Result<std::optional<Scene>> find_scene(const std::string& id);
  // An image Stash serves (scene cover, performer photo), fetched with the plugin's credentials
  // over the same connection. nullopt when Stash only has its placeholder.
  struct Image {
    std::string bytes;
    std::string content_type;
  };
  util::Result<std::optional<Image>> fetch_image(const std::string& url);

private:
  void authenticate(net::Request& req, bool with_key = true) const;
  // Sends with the credentials; an API key Stash refuses while the session cookie works is
  // dropped (with a warning naming the fix), so a wrong stash_api_key does not stop the sync.
  tl::expected<net::Response, net::TransportError> send(net::Request& req);
  std::unique_ptr<net::HttpClient> http_;
  StashAuth auth_;
  StashFacts facts_;
  std::function<std::string()> key_source_;
};

// Whether a failure of a Stash call is Stash being away as a whole (unreachable, a 5xx, a page
// that is not JSON from a proxy in front of it), as opposed to one request's own problem (a
// GraphQL error about one scene, a refusal): the worker pauses the queue for the first kind.
bool is_outage(const util::Error& error);

// Stash's answer to a request its authentication refused: 401, or (for pages and images of a
// Stash with credentials) 302 to /login.
bool refused_auth(const net::Response& res);

// The plugin settings maps Stash returned under each id, merged (the exact id "PlexSync" wins)
// with camelCase keys (v0.25, and settings migrated from it) turned back into snake_case.
nlohmann::json merge_plugin_settings(const nlohmann::json& plugins);

// The path (and query) to request on Stash's own address for an image URL Stash built: from the
// last "/scene/", "/performer/", ... on, so an external_host with a path prefix still works.
std::optional<std::string> image_target(const std::string& url);

// The one way PlexSync reaches Stash: base_url as built from server_connection. Certificates are
// not verified because Stash is normally reached on loopback with a self-signed certificate.
// timeout_s > 0: every call is bounded by it as a whole (the metadata provider's calls).
// abort: see net::ClientOptions::abort.
util::Result<std::unique_ptr<StashClient>> connect(const std::string& base_url, StashAuth auth, int timeout_s = 0,
                                                   const std::atomic<bool>* abort = nullptr);

} // namespace stash
