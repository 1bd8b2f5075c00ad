// Who the provider is to Plex (specs/plex-metadata-provider.md 2.3, 4.2): the identifier, and the
// ratingKey, key and GUID of each Stash scene, all derived from the scene id.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace provider {

inline constexpr const char* k_base_identifier = "tv.plex.agents.custom.plexsync.stash";

// The identifier with provider_identifier_suffix ("" = none); nullopt when the suffix holds
// anything but ASCII letters, digits and periods (Plex refuses such identifiers).
std::optional<std::string> identifier(std::string_view suffix);
// ^tv\.plex\.agents\.custom\.[A-Za-z0-9.]+$, as Plex validates it.
bool valid_identifier(std::string_view id);

std::string rating_key(std::string_view scene_id);                        // scene-1042
std::string item_key(std::string_view scene_id);                          // /library/metadata/scene-1042
std::string guid(std::string_view identifier, std::string_view scene_id); // <identifier>://movie/scene-1042
// The Stash scene id of "scene-<digits>"; nullopt for anything else.
std::optional<std::string> scene_of_rating_key(std::string_view rating_key);
// The scene id of one of our GUIDs (this identifier, type movie); nullopt otherwise.
std::optional<std::string> scene_of_guid(std::string_view identifier, std::string_view guid);

} // namespace provider
