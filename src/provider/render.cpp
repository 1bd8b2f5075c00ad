#include "provider/render.hpp"

#include <nlohmann/json.hpp>

#include "net/http.hpp"
#include "provider/access.hpp"
#include "provider/identity.hpp"
#include "sync/metadata.hpp"
#include "sync/sanitize.hpp"
#include "util/strings.hpp"

namespace provider {
namespace {

std::string signed_url(const std::string& stash_url, const RenderContext& ctx) {
  const auto ref = image_ref_of_stash_url(stash_url);
  if (!ref || ctx.signer == nullptr) {
    return {};
  }
  return ctx.base_url + "/" + image_path(*ref, *ctx.signer);
}

// Actor photos are handed to Plex clients, which fetch them through Plex's image proxy (issue
// #26): the provider's signed URL only where the internet reaches the provider
// (provider_public_url); else the URL push mode sends, on stash_url_for_plex (photo_url); else
// none, and Health check says why.
std::string actor_photo(const fieldsync::Actor& actor, const RenderContext& ctx) {
  return serves_own_photos(*ctx.settings) ? signed_url(actor.stash_image, ctx) : actor.photo_url;
}

// The file name without its extension: the title of a scene that has none.
std::string file_title(const stash::Scene& scene) {
  if (scene.files.empty()) {
    return "scene " + scene.id;
  }
  auto name = scene.files.front().basename;
  if (const auto dot = name.rfind('.'); dot != std::string::npos && dot > 0) {
    name.resize(dot);
  }
  auto clean = fieldsync::sanitize_line(name, fieldsync::k_line_limit);
  return clean.empty() ? "scene " + scene.id : clean;
}

nlohmann::json images_of(const stash::Scene& scene, const fieldsync::Prepared& prepared, const RenderContext& ctx) {
  auto list = nlohmann::json::array();
  const auto url = prepared.desired.poster_url.empty() ? std::string() : signed_url(prepared.desired.poster_url, ctx);
  if (url.empty()) {
    return list;
  }
  const auto alt = prepared.desired.title.value_or(file_title(scene));
  list.push_back({{"type", "coverPoster"}, {"url", url}, {"alt", alt}});
  list.push_back({{"type", "background"}, {"url", url}, {"alt", alt}});
  return list;
}

nlohmann::json tags_of(const std::vector<std::string>& names) {
  auto out = nlohmann::json::array();
  for (const auto& n : names) {
    out.push_back({{"tag", n}});
  }
  return out;
}

} // namespace

bool serves_own_photos(const config::Settings& s) {
  return !s.provider_public_url.empty() && reachable_from_internet(s.provider_public_url);
}

nlohmann::json root_document(const std::string& identifier, const std::string& title) {
  return {{"MediaProvider",
           {{"identifier", identifier},
            {"title", title},
            {"version", "1.0.0"},
            {"Types",
             nlohmann::json::array({{{"type", 1}, {"Scheme", nlohmann::json::array({{{"scheme", identifier}}})}}})},
            {"Feature", nlohmann::json::array({{{"type", "metadata"}, {"key", "/library/metadata"}},
                                               {{"type", "match"}, {"key", "/library/metadata/matches"}}})}}}};
}

std::string stash_box_scheme(const std::string& endpoint) {
  auto url = net::Url::parse(endpoint);
  auto host = url ? util::to_lower(url->host) : util::to_lower(endpoint);
  if (host.rfind("www.", 0) == 0) {
    host = host.substr(4);
  }
  for (const auto& [domain, scheme] :
       {std::pair{"stashdb.org", "stashdb"}, std::pair{"theporndb.net", "tpdb"}, std::pair{"fansdb.cc", "fansdb"},
        std::pair{"pmvstash.org", "pmvstash"}, std::pair{"javstash.org", "javstash"}}) {
    if (host == domain || host.ends_with(std::string(".") + domain)) {
      return scheme;
    }
  }
  std::string label = host.substr(0, host.find('.'));
  std::string scheme;
  for (const char c : label) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      scheme += c;
    }
  }
  return scheme.empty() ? "stashbox" : scheme;
}

nlohmann::json metadata_object(const stash::Scene& scene, const RenderContext& ctx) {
  const auto& settings = *ctx.settings;
  const auto prepared = fieldsync::prepare(scene, settings);
  const auto& d = prepared.desired;
  nlohmann::json m = {{"ratingKey", rating_key(scene.id)},
                      {"key", item_key(scene.id)},
                      {"guid", guid(ctx.identifier, scene.id)},
                      {"type", "movie"},
                      {"title", d.title && !d.title->empty() ? *d.title : file_title(scene)}};
  if (d.sort_title) {
    m["titleSort"] = *d.sort_title;
  }
  // Required by the protocol; "" when there is no date, as Plex's own example sends.
  m["originallyAvailableAt"] = d.date ? *d.date : "";
  if (d.date && d.date->size() >= 4) {
    m["year"] = std::stoi(d.date->substr(0, 4));
  }
  if (d.summary && !d.summary->empty()) {
    m["summary"] = *d.summary;
  }
  if (d.tagline && !d.tagline->empty()) {
    m["tagline"] = *d.tagline;
  }
  if (d.content_rating && !d.content_rating->empty()) {
    m["contentRating"] = *d.content_rating;
  }
  if (!settings.provider_skip_adult_flag) {
    m["isAdult"] = true;
  }
  if (!scene.files.empty() && scene.files.front().duration > 0) {
    m["duration"] = static_cast<int64_t>(scene.files.front().duration * 1000.0);
  }
  if (d.studio && !d.studio->empty()) {
    m["studio"] = *d.studio;
    std::vector<std::string> studios{*d.studio};
    const auto parent = fieldsync::sanitize_line(scene.parent_studio, fieldsync::k_line_limit);
    if (!parent.empty() && !util::iequals(parent, *d.studio)) {
      studios.push_back(parent);
    }
    m["Studio"] = tags_of(studios);
  }
  if (d.genres && !d.genres->empty()) {
    m["Genre"] = tags_of(*d.genres);
  }
  if (d.actors && !d.actors->empty()) {
    auto roles = nlohmann::json::array();
    int order = 1;
    for (const auto& actor : *d.actors) {
      nlohmann::json role = {{"tag", actor.name}, {"order", order++}};
      if (auto thumb = actor_photo(actor, ctx); !thumb.empty()) {
        role["thumb"] = thumb;
      }
      roles.push_back(std::move(role));
    }
    m["Role"] = std::move(roles);
  }
  if (const auto director = fieldsync::sanitize_line(scene.director, fieldsync::k_line_limit); !director.empty()) {
    m["Director"] = tags_of({director});
  }
  if (!settings.provider_skip_external_guids && !scene.stash_ids.empty()) {
    auto ids = nlohmann::json::array();
    for (const auto& sid : scene.stash_ids) {
      ids.push_back({{"id", stash_box_scheme(sid.endpoint) + "://" + sid.stash_id}});
    }
    m["Guid"] = std::move(ids);
  }
  const auto images = images_of(scene, prepared, ctx);
  if (!images.empty()) {
    m["thumb"] = images.at(0).at("url");
    m["art"] = images.at(0).at("url");
    m["Image"] = images;
  }
  return m;
}

nlohmann::json image_list(const stash::Scene& scene, const RenderContext& ctx) {
  return images_of(scene, fieldsync::prepare(scene, *ctx.settings), ctx);
}

nlohmann::json container(const std::string& identifier, const char* array_name, nlohmann::json items) {
  const auto n = static_cast<int64_t>(items.size());
  return {{"MediaContainer",
           {{"offset", 0}, {"totalSize", n}, {"identifier", identifier}, {"size", n}, {array_name, std::move(items)}}}};
}

} // namespace provider
