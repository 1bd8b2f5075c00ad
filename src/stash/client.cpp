#include "stash/client.hpp"

#include "util/log.hpp"

namespace stash {

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
  if (res->status == 401) {
    return util::fail(auth_.api_key.empty()
                          ? "Stash refused the request (401): the session expired or Stash needs an API key; set "
                            "stash_api_key in the plugin settings"
                          : "Stash refused the request (401): check stash_api_key in the plugin settings (Stash: "
                            "Settings > Security > API Key)");
  }
  if (res->status == 403) {
    return util::fail("Stash refused the request (403): " + res->body.substr(0, 200));
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
  if (doc.contains("errors") && doc.at("errors").is_array() && !doc.at("errors").empty()) {
    std::string message = "Stash GraphQL error: ";
    for (const auto& e : doc.at("errors")) {
      if (e.is_object() && e.contains("message") && e.at("message").is_string()) {
        message += e.at("message").get<std::string>() + "; ";
      }
    }
    return util::fail(message);
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
  if (res && res->status == 401 && !auth_.api_key.empty() && !auth_.cookie_value.empty()) {
    req.headers = headers;
    authenticate(req, false);
    auto with_cookie = http_->send(req);
    if (with_cookie && with_cookie->status != 401) {
      LOG_WARN("Stash refused stash_api_key (401); using the session cookie instead. Correct stash_api_key in the "
               "plugin settings (Stash: Settings > Security > API Key) or clear it");
      auth_.api_key.clear();
      return with_cookie;
    }
  }
  return res;
}

void StashClient::authenticate(net::Request& req, bool with_key) const {
  if (!auth_.cookie_value.empty()) {
    req.headers.push_back({"Cookie", auth_.cookie_name + "=" + auth_.cookie_value});
  }
  if (with_key && !auth_.api_key.empty()) {
    req.headers.push_back({"ApiKey", auth_.api_key});
  }
}

util::Result<std::optional<StashClient::Image>> StashClient::fetch_image(const std::string& url) {
  // Stash builds image URLs from the Host it was asked on; reach it the way we already do.
  const auto scheme = url.find("://");
  const auto path = scheme == std::string::npos ? url.find('/') : url.find('/', scheme + 3);
  if (path == std::string::npos) {
    return util::fail("Stash gave an image address without a path");
  }
  net::Request req;
  req.target = url.substr(path);
  auto res = send(req);
  if (!res) {
    return util::fail(std::string("Stash unreachable (") + net::to_string(res.error().kind) +
                      ") while fetching an image: " + res.error().message);
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

util::Result<nlohmann::json> StashClient::plugin_settings(const std::string& plugin_id) {
  TRY_ASSIGN(auto data, query(queries::k_plugin_settings, {{"ids", {plugin_id}}}));
  const auto ptr = nlohmann::json::json_pointer("/configuration/plugins");
  if (!data.contains(ptr) || !data.at(ptr).is_object()) {
    return nlohmann::json::object();
  }
  const auto& plugins = data.at(ptr);
  return plugins.contains(plugin_id) ? plugins.at(plugin_id) : nlohmann::json::object();
}

util::Result<std::optional<Scene>> StashClient::find_scene(const std::string& id) {
  TRY_ASSIGN(auto data, query(std::string(queries::k_find_scene) + "\n" + queries::k_scene_fragment, {{"id", id}}));
  if (!data.contains("findScene") || data.at("findScene").is_null()) {
    return std::optional<Scene>{};
  }
  TRY_ASSIGN(auto scene, scene_from_json(data.at("findScene")));
  return std::optional<Scene>{std::move(scene)};
}

util::Result<std::unique_ptr<StashClient>> connect(const std::string& base_url, StashAuth auth) {
  auto url = net::Url::parse(base_url);
  if (!url) {
    return util::fail("Stash address " + url.error().message);
  }
  net::ClientOptions opts;
  opts.base = *url;
  opts.verify_tls = false;
  opts.connect_timeout_ms = 5000;
  opts.read_timeout_ms = 60000;
  return std::make_unique<StashClient>(net::make_http_client(opts), std::move(auth));
}

} // namespace stash
