// The small language of issue #28 that shapes Plex's shelves: collection rules (`collections`)
// and tag filters (`genre_include`, `genre_exclude`). Parsed when the settings load, so a rule that
// does not parse is a settings problem naming its position (1-based, in characters) and the fix,
// and is never half applied. What a rule yields for a scene is sync/shelves.hpp's.
//
//   collections:  RULE (';' RULE)*     RULE = SOURCE [':' ARG] ['=>' NAME]
//                 e.g. "studio => Studio: {name}; tag:Series/*; performer:favorite => ★ {name}"
//   tag filters:  PATTERN (';' PATTERN)*   PATTERN = GLOB | 'parent:' NAME
//                 e.g. "4K; Series/*; parent:Positions"
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/title_template.hpp"
#include "util/expected.hpp"

namespace config {

enum class CollectionSource {
  studio,        // the scene's studio
  parent_studio, // its studio's parent
  group,         // each group (movie) the scene belongs to
  tag,           // each tag whose name matches the glob in arg
  tag_parent,    // each tag directly under the parent tag named in arg
  performer,     // each performer (arg "all") or each favourite one (arg "favorite")
  organized,     // one collection, named arg, of the scenes marked organized
};

struct CollectionRule {
  CollectionSource source = CollectionSource::studio;
  std::string arg;
  TitleTemplate name{{"", ""}, {{"name"}}}; // over the field {name}; "{name}" without "=> NAME"
};

// Rule sources as a person writes them, for messages and docs.
const std::vector<std::string>& collection_sources();

util::Result<std::vector<CollectionRule>> parse_collection_rules(std::string_view text);

struct TagPattern {
  bool parent = false; // "parent:NAME": the tags directly under NAME (and NAME itself)
  std::string text;    // a glob ('*' any run, '?' one character; case folded) or the parent's name
};

util::Result<std::vector<TagPattern>> parse_tag_filter(std::string_view text);

} // namespace config
