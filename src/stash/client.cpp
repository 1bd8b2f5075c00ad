#include "stash/client.hpp"

#include <algorithm>

#include "util/log.hpp"

namespace stash {
namespace {

// The messages of a GraphQL answer's "errors" list, joined; empty when there are none.
std::string graphql_errors(const std::string& body) {
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  std::string message;
  if (doc.is_object() && doc.contains("errors") && doc.at("errors").is_array()) {
    for (const auto& e : doc.at("errors")) {
      if (e.is_object() && e.contains("message") && e.at("message").is_string()) {
        message += (message.empty() ? "" : "; ") + e.at("message").get<std::string>();
      }
    }
  }
  return message;
}

} // namespace

StashClient::StashClient(std::unique_ptr<net::HttpClient> http, StashAuth auth)
    : http_(std::move(http)), auth_(std::move(auth)) {
  util::log::add_secret(auth_.cookie_value);
  util::log::add_secret(auth_.api_key);
}

util::Result<nlohmann::json> StashClient::query(const std::string& document, const nlohmann::json& variables) {
  net::Request req;
  req.method = "POST";
  req.target = "/graphql";
  req.headers.push_back({"Content-Type", "application/json"});
  req.headers.push_back({"Accept", "application/json"});
  req.body = nlohmann::json{{"query", document}, {"variables", variables}}.dump();
  auto res = send(req);
  if (!res) {
    return util::fail(std::string("Stash unreachable (") + net::to_string(res.error().kind) +
                      "): " + res.error().message);
  }
  if (refused_auth(*res)) {
    return util::fail(auth_.api_key.empty()
                          ? "Stash refused the request (401): the session expired or Stash needs an API key; set "
                            "stash_api_key in the plugin settings"
                          : "Stash refused the request (401): check stash_api_key in the plugin settings (Stash: "
                            "Settings > Security > API Key)");
  }
  if (res->status == 403) {
    return util::fail("Stash refused the request (403): " + res->body.substr(0, 200));
  }
  if (res->status == 422 || res->status == 400) {
    // gqlgen refuses a document it cannot validate, such as a field this Stash release lacks.
    auto message = graphql_errors(res->body);
    return util::fail("Stash refused PlexSync's query (HTTP " + std::to_string(res->status) +
                      "): " + (message.empty() ? res->body.substr(0, 200) : message) +
                      ". PlexSync supports Stash v0.26 and later; if Stash is that new, report this with Stash's "
                      "version");
  }
  if (res->status != 200) {
    return util::fail("Stash answered HTTP " + std::to_string(res->status));
  }
  // Stash refreshes the session cookie on every authenticated answer; keep the newest.
  if (const auto* set_cookie = res->header("Set-Cookie"); set_cookie != nullptr) {
    const std::string prefix = auth_.cookie_name + "=";
    if (set_cookie->rfind(prefix, 0) == 0) {
      const auto end = set_cookie->find(';');
      auth_.cookie_value = set_cookie->substr(prefix.size(), end == std::string::npos ? end : end - prefix.size());
      util::log::add_secret(auth_.cookie_value);
    }
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(res->body);
  } catch (const nlohmann::json::exception&) {
    return util::fail("Stash sent a reply that is not JSON (" + std::to_string(res->body.size()) + " bytes)");
  }
  if (auto errors = graphql_errors(res->body); !errors.empty()) {
    return util::fail("Stash GraphQL error: " + errors);
  }
  if (!doc.is_object() || !doc.contains("data") || !doc.at("data").is_object()) {
    return util::fail("Stash reply has no data object");
  }
  return doc.at("data");
}

tl::expected<net::Response, net::TransportError> StashClient::send(net::Request& req) {
  const auto headers = req.headers;
  authenticate(req);
  auto res = http_->send(req);
  if (res && refused_auth(*res) && !auth_.api_key.empty() && !auth_.cookie_value.empty()) {
    req.headers = headers;
    authenticate(req, false);
    auto with_cookie = http_->send(req);
    if (with_cookie && !refused_auth(*with_cookie)) {
      LOG_WARN("Stash refused stash_api_key (401); using the session cookie instead. Correct stash_api_key in the "
               "plugin settings (Stash: Settings > Security > API Key) or clear it");
      auth_.api_key.clear();
      return with_cookie;
    }
  }
  // The session cookie expired (an idle worker outlives it): the API key read through it earlier,
  // by this client or (remembered) by another.
  if (res && refused_auth(*res) && auth_.api_key.empty() && facts_.api_key.empty() && key_source_) {
    facts_.api_key = key_source_();
    util::log::add_secret(facts_.api_key);
  }
  if (res && refused_auth(*res) && auth_.api_key.empty() && !facts_.api_key.empty()) {
    req.headers = headers;
    auth_.api_key = facts_.api_key;
    authenticate(req);
    auto with_key = http_->send(req);
    if (with_key && !refused_auth(*with_key)) {
      LOG_DEBUG("Stash's session cookie expired; continuing with Stash's API key");
      return with_key;
    }
    auth_.api_key.clear();
  }
  return res;
}

bool is_outage(const util::Error& error) {
  const auto& m = error.message;
  return m.rfind("Stash unreachable", 0) == 0 || m.rfind("Stash answered HTTP 5", 0) == 0 ||
         m.rfind("Stash sent a reply that is not JSON", 0) == 0;
}

bool refused_auth(const net::Response& res) {
  if (res.status == 401) {
    return true;
  }
  // Stash answers a page or image request without a valid session with a redirect to its login
  // page (internal/api/authentication.go), not 401; redirects are never followed.
  const auto* location = res.header("Location");
  return (res.status == 302 || res.status == 303 || res.status == 307) && location != nullptr &&
         location->find("/login") != std::string::npos;
}

util::Result<StashFacts> StashClient::facts() {
  if (facts_.known) {
    return facts_;
  }
  TRY_ASSIGN(auto data, query(queries::k_version, nlohmann::json::object()));
  StashFacts learned;
  learned.known = true;
  learned.api_key = facts_.api_key; // remembered: the cookie may already be too old to read it
  const auto version = nlohmann::json::json_pointer("/version/version");
  if (data.contains(version) && data.at(version).is_string()) {
    learned.version = data.at(version).get<std::string>();
  }
  // Only users allowed to see Stash's settings can read the key: a refusal is no failure.
  if (auto config = query(queries::k_api_key, nlohmann::json::object()); config) {
    const auto key = nlohmann::json::json_pointer("/configuration/general/apiKey");
    if (config->contains(key) && config->at(key).is_string()) {
      learned.api_key = config->at(key).get<std::string>();
    }
  } else {
    LOG_DEBUG("cannot read Stash's API key with the session cookie: " << config.error().message);
  }
  adopt(learned);
  return facts_;
}

void StashClient::adopt(const StashFacts& facts) {
  facts_ = facts;
  util::log::add_secret(facts_.api_key);
}

void StashClient::authenticate(net::Request& req, bool with_key) const {
  if (!auth_.cookie_value.empty()) {
    req.headers.push_back({"Cookie", auth_.cookie_name + "=" + auth_.cookie_value});
  }
  if (with_key && !auth_.api_key.empty()) {
    req.headers.push_back({"ApiKey", auth_.api_key});
  }
}

std::optional<std::string> image_target(const std::string& url) {
  // Stash builds image URLs from the Host it was asked on, or from its external_host, which may
  // carry a path prefix only a reverse proxy serves. Stash itself serves them from its root.
  size_t best = std::string::npos;
  for (const char* root : {"/scene/", "/performer/", "/studio/", "/group/", "/movie/", "/tag/", "/image/"}) {
    const auto at = url.rfind(root);
    if (at != std::string::npos && (best == std::string::npos || at > best)) {
      best = at;
    }
  }
  if (best != std::string::npos) {
    return url.substr(best);
  }
  const auto scheme = url.find("://");
  const auto path = scheme == std::string::npos ? url.find('/') : url.find('/', scheme + 3);
  if (path == std::string::npos) {
    return std::nullopt;
  }
  return url.substr(path);
}

util::Result<std::optional<StashClient::Image>> StashClient::fetch_image(const std::string& url) {
  const auto target = image_target(url);
  if (!target) {
    return util::fail("Stash gave an image address without a path");
  }
  net::Request req;
  req.target = *target;
  auto res = send(req);
  if (!res) {
    return util::fail(std::string("Stash unreachable (") + net::to_string(res.error().kind) +
                      ") while fetching an image: " + res.error().message);
  }
  if (refused_auth(*res)) {
    return util::fail("Stash refused an image request (HTTP " + std::to_string(res->status) +
                      (res->status == 401 ? "" : " to its login page") +
                      "): the session expired or Stash needs an API key; set stash_api_key in the plugin settings "
                      "(Stash: Settings > Security > API Key)");
  }
  if (res->status == 404) {
    return std::optional<Image>{}; // its scene or performer is gone: nothing to show
  }
  if (res->status != 200) {
    return util::fail("Stash answered HTTP " + std::to_string(res->status) + " for an image");
  }
  const auto* type = res->header("Content-Type");
  const std::string content_type = type != nullptr ? *type : "";
  // Stash answers a scene without a cover with its SVG placeholder: not a poster.
  if (content_type.rfind("image/", 0) != 0 || content_type.find("svg") != std::string::npos || res->body.empty()) {
    return std::optional<Image>{};
  }
  return std::optional<Image>{Image{std::move(res->body), content_type}};
}

namespace {

// "plexUrl" -> "plex_url"; snake_case keys stay as they are.
std::string snake_case(const std::string& key) {
  std::string out;
  for (const char c : key) {
    if (c >= 'A' && c <= 'Z') {
      if (!out.empty()) {
        out.push_back('_');
      }
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

} // namespace

nlohmann::json merge_plugin_settings(const nlohmann::json& plugins) {
  nlohmann::json merged = nlohmann::json::object();
  if (!plugins.is_object()) {
    return merged;
  }
  // Lowest precedence first: v0.25's camelCased id, then the exact id.
  for (const char* id : {"plexSync", "PlexSync"}) {
    if (!plugins.contains(id) || !plugins.at(id).is_object()) {
      continue;
    }
    nlohmann::json exact = nlohmann::json::object();
    for (const auto& [key, value] : plugins.at(id).items()) {
      const auto snake = snake_case(key);
      if (snake == key) {
        exact[key] = value;
      } else if (!merged.contains(snake) || merged.at(snake).is_null()) {
        merged[snake] = value;
      }
    }
    for (const auto& [key, value] : exact.items()) {
      merged[key] = value; // a snake_case key wins over its camelCase twin
    }
  }
  return merged;
}

util::Result<nlohmann::json> StashClient::plugin_settings() {
  TRY_ASSIGN(auto data, query(queries::k_plugin_settings, {{"ids", nlohmann::json::array({"PlexSync", "plexSync"})}}));
  const auto ptr = nlohmann::json::json_pointer("/configuration/plugins");
  if (!data.contains(ptr) || !data.at(ptr).is_object()) {
    return nlohmann::json::object();
  }
  return merge_plugin_settings(data.at(ptr));
}

util::Result<std::optional<Scene>> StashClient::find_scene(const std::string& id) {
  TRY_ASSIGN(const auto known, facts());
  TRY_ASSIGN(auto data, query(queries::find_scene(group_field_for(parse_version(known.version))), {{"id", id}}));
  if (!data.contains("findScene") || data.at("findScene").is_null()) {
    return std::optional<Scene>{};
  }
  TRY_ASSIGN(auto scene, scene_from_json(data.at("findScene")));
  return std::optional<Scene>{std::move(scene)};
}

util::Result<std::unique_ptr<StashClient>> connect(const std::string& base_url, StashAuth auth, int timeout_s,
                                                   const std::atomic<bool>* abort) {
  auto url = net::Url::parse(base_url);
  if (!url) {
    return util::fail("Stash address " + url.error().message);
  }
  net::ClientOptions opts;
  opts.base = *url;
  opts.verify_tls = false;
  opts.connect_timeout_ms = 5000;
  opts.read_timeout_ms = 60000;
  opts.abort = abort;
  if (timeout_s > 0) {
    // Calls made while Plex waits for an answer: bounded as a whole, and no image beyond 20 MiB.
    opts.connect_timeout_ms = std::min(opts.connect_timeout_ms, timeout_s * 1000);
    opts.read_timeout_ms = timeout_s * 1000;
    opts.total_timeout_ms = timeout_s * 1000;
    opts.max_response_bytes = size_t{20} * 1024U * 1024U;
  }
  return std::make_unique<StashClient>(net::make_http_client(opts), std::move(auth));
}

} // namespace stash
