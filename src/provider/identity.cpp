#include "provider/identity.hpp"

#include <algorithm>

#include "util/strings.hpp"

namespace provider {
namespace {

bool identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';
}

} // namespace

bool valid_identifier(std::string_view id) {
  constexpr std::string_view prefix = "tv.plex.agents.custom.";
  if (id.substr(0, prefix.size()) != prefix || id.size() == prefix.size()) {
    return false;
  }
  const auto rest = id.substr(prefix.size());
  return std::all_of(rest.begin(), rest.end(), identifier_char);
}

std::optional<std::string> identifier(std::string_view suffix) {
  std::string id = k_base_identifier;
  if (!suffix.empty()) {
    id += '.';
    id += suffix;
  }
  if (!valid_identifier(id) || id.back() == '.' || id.find("..") != std::string::npos) {
    return std::nullopt;
  }
  return id;
}

std::string rating_key(std::string_view scene_id) {
  std::string key = "scene-";
  key += scene_id;
  return key;
}

std::string item_key(std::string_view scene_id) {
  return "/library/metadata/" + rating_key(scene_id);
}

std::string guid(std::string_view identifier, std::string_view scene_id) {
  return std::string(identifier) + "://movie/" + rating_key(scene_id);
}

std::optional<std::string> scene_of_rating_key(std::string_view rating_key) {
  constexpr std::string_view prefix = "scene-";
  if (rating_key.substr(0, prefix.size()) != prefix || !util::all_digits(rating_key.substr(prefix.size()), 18)) {
    return std::nullopt;
  }
  return std::string(rating_key.substr(prefix.size()));
}

std::optional<std::string> scene_of_guid(std::string_view identifier, std::string_view guid) {
  const std::string prefix = std::string(identifier) + "://movie/";
  if (guid.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  return scene_of_rating_key(guid.substr(prefix.size()));
}

} // namespace provider
