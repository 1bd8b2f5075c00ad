// The provider's JSON (spec 2.2, 2.6, 2.7, 4.4). The fields come from fieldsync::prepare, the
// mapping push uses for its edits, so what PMS pulls and what PlexSync pushes cannot disagree.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "config/settings.hpp"
#include "provider/images.hpp"
#include "stash/scene.hpp"

namespace provider {

struct RenderContext {
  std::string identifier;
  // The provider's address without the secret path ("http://host:port", or provider_public_url):
  // signed image URLs hang below it. No trailing '/'.
  std::string base_url;
  const ImageSigner* signer = nullptr;
  const config::Settings* settings = nullptr;
};

// Whether actor photos in provider answers are the provider's own signed URLs: only when
// provider_public_url is an address the internet reaches (Plex's apps fetch them through Plex's
// image proxy); else they are push mode's stash_url_for_plex URLs, or none.
bool serves_own_photos(const config::Settings& s);

// {"MediaProvider": ...}: one movie type, the metadata and match features.
nlohmann::json root_document(const std::string& identifier, const std::string& title);
// One Metadata object for a scene.
nlohmann::json metadata_object(const stash::Scene& scene, const RenderContext& ctx);
// The Image[] list the /images route serves.
nlohmann::json image_list(const stash::Scene& scene, const RenderContext& ctx);
// {"MediaContainer": {offset 0, totalSize, identifier, size, <array_name>: items}}.
nlohmann::json container(const std::string& identifier, const char* array_name, nlohmann::json items);

// stash-box endpoint -> GUID scheme: stashdb.org -> stashdb, theporndb.net -> tpdb, fansdb.cc ->
// fansdb, pmvstash.org -> pmvstash, javstash.org -> javstash, other hosts their first label.
std::string stash_box_scheme(const std::string& endpoint);

} // namespace provider
