// What the shelf settings of issue #28 make of a scene: the Plex collections it belongs to (the
// `collections` rules, or the collection_* booleans when there are none) and which of its tags
// become genres (genre_include / genre_exclude). The language itself is config/shelf_rules.hpp's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"
#include "stash/scene.hpp"

namespace fieldsync {

struct CollectionName {
  std::string name;  // collection_prefix and the rule's "=> NAME" applied; not yet sanitized
  std::string image; // the Stash image a collection PlexSync creates gets as poster ("" = none)
};

// In rule order, duplicates (case folded) left to the caller's clean-up. Empty when the rules do
// not parse (settings validation reported them; the caller holds the list instead).
std::vector<CollectionName> collections_for(const stash::Scene& scene, const config::Settings& settings);

// The scene's tags that pass genre_include and genre_exclude, in Stash's order.
std::vector<std::string> genres_for(const stash::Scene& scene, const config::Settings& settings);

// A glob over whole names: '*' any run of characters, '?' one character, compared case and
// Unicode-form folded as Plex compares tag names. Linear in practice, never exponential.
bool glob_match(std::string_view pattern, std::string_view text);

} // namespace fieldsync
