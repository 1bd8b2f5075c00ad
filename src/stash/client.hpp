// GraphQL over HTTP to Stash, authenticated with the session cookie Stash hands each plugin run
// (plus the API key when one is configured).
#pragma once

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

class StashClient {
public:
  StashClient(std::unique_ptr<net::HttpClient> http, StashAuth auth);

  // data member of the reply; GraphQL errors and HTTP failures become one readable error.
  util::Result<nlohmann::json> query(const std::string& document, const nlohmann::json& variables);
  util::Result<nlohmann::json> plugin_settings(const std::string& plugin_id);
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
};

// The one way PlexSync reaches Stash: base_url as built from server_connection. Certificates are
// not verified because Stash is normally reached on loopback with a self-signed certificate.
util::Result<std::unique_ptr<StashClient>> connect(const std::string& base_url, StashAuth auth);

} // namespace stash
