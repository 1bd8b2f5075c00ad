// Collection rules and genre filters (issue #28): the parser's errors name a position, and what
// the rules make of a scene (collections with their poster images, genres) follows the settings.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "config/manifest.hpp"
#include "config/settings.hpp"
#include "config/shelf_rules.hpp"
#include "support/doc_table.hpp"
#include "sync/metadata.hpp"
#include "sync/shelves.hpp"
#include "util/strings.hpp"

namespace shelf_rules_test {

// The sample scene of docs/settings.md's examples.
stash::Scene scene() {
  stash::Scene s;
  s.id = "7";
  s.title = "Sunset Walk";
  s.date = "2024-06-01";
  s.studio = "Studio North";
  s.studio_image = "http://stash/studio/1/image?t=1";
  s.parent_studio = "North Group";
  s.organized = true;
  s.performers = {{"1", "Léa Dubois", "http://stash/performer/1/image?t=1", true}, {"2", "Mika Tanaka", "", false}};
  s.tags = {"Outdoor", "Series/Coastline", "4K", "60fps"};
  s.tag_links["Outdoor"] = {{"Setting"}, ""};
  s.tag_links["4K"] = {{"Technical"}, ""};
  s.tag_links["Series/Coastline"] = {{}, "http://stash/tag/9/image?t=1"};
  s.groups = {"Summer Series"};
  s.group_fronts = {"http://stash/group/3/frontimage?t=1"};
  s.group_index = 3;
  return s;
}

config::Settings with(const std::string& key, const std::string& value) {
  auto loaded = config::load_settings({{"plex_url", "http://127.0.0.1:32400"}, {"plex_token", "t"}, {key, value}});
  EXPECT_TRUE(loaded.problems.empty()) << key << "=" << value << ": " << loaded.problems.front().message;
  return loaded.settings;
}

std::string collections_of(const config::Settings& settings, const stash::Scene& s = scene()) {
  const auto d = fieldsync::prepare(s, settings).desired;
  return d.collections ? util::join(*d.collections, ", ") : "(unset)";
}

std::string genres_of(const config::Settings& settings, const stash::Scene& s = scene()) {
  const auto d = fieldsync::prepare(s, settings).desired;
  return d.genres ? util::join(*d.genres, ", ") : "(unset)";
}

std::string error_of(const std::string& text) {
  auto rules = config::parse_collection_rules(text);
  EXPECT_FALSE(rules) << text;
  return rules ? std::string() : rules.error().message;
}

TEST(CollectionRules, EverySourceAndNames) {
  auto rules = config::parse_collection_rules(
      " studio => Studio: {name}; parent_studio;group; tag:Series/* ; tag_parent: Setting; performer:Favorite => ★ "
      "{name}; performer:all; organized:Done;");
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ(rules->size(), 8U);
  EXPECT_EQ((*rules)[0].source, config::CollectionSource::studio);
  EXPECT_EQ((*rules)[0].name.literals, (std::vector<std::string>{"Studio: ", ""}));
  EXPECT_EQ((*rules)[3].arg, "Series/*");
  EXPECT_EQ((*rules)[4].arg, "Setting");
  EXPECT_EQ((*rules)[5].arg, "favorite");
  EXPECT_EQ((*rules)[7].source, config::CollectionSource::organized);
  EXPECT_TRUE(config::parse_collection_rules("")->empty());
  EXPECT_TRUE(config::parse_collection_rules(" ; ;")->empty());
}

TEST(CollectionRules, ErrorsNameThePositionAndTheFix) {
  EXPECT_EQ(error_of("studio; studo").rfind("position 9: unknown source 'studo'; use one of: studio, parent_studio", 0),
            0U)
      << error_of("studio; studo");
  EXPECT_EQ(error_of("studio:North").rfind("position 7: 'studio' takes nothing after ':'", 0), 0U)
      << error_of("studio:North");
  EXPECT_EQ(error_of("Été; tag").rfind("position 1: unknown source", 0), 0U) << error_of("Été; tag");
  EXPECT_EQ(error_of("group; tag").rfind("position 11: 'tag' needs a tag name or glob", 0), 0U)
      << error_of("group; tag");
  EXPECT_EQ(error_of("performer:some").rfind("position 11: 'performer:some': write performer:all or", 0), 0U)
      << error_of("performer:some");
  EXPECT_EQ(error_of("studio =>").rfind("position 8: nothing after '=>'", 0), 0U) << error_of("studio =>");
  EXPECT_EQ(error_of("studio => {nme}").rfind("position 12: unknown field {nme}; use one of: name", 0), 0U)
      << error_of("studio => {nme}");
  EXPECT_EQ(error_of("=> x").rfind("position 1: a rule needs a source", 0), 0U) << error_of("=> x");
  const auto filter = config::parse_tag_filter("4K; parent: ");
  ASSERT_FALSE(filter);
  EXPECT_EQ(filter.error().message.rfind("position 5: 'parent:' needs the parent tag's name", 0), 0U)
      << filter.error().message;
  EXPECT_FALSE(config::parse_tag_filter("a; *"));
}

TEST(CollectionRules, EmptyRulesKeepTheBooleans) {
  config::Settings s;
  EXPECT_EQ(collections_of(s), "Studio North");
  s.collection_parent_studio = true;
  s.collection_groups = true;
  s.collection_prefix = "» ";
  EXPECT_EQ(collections_of(s), "» Studio North, » North Group, » Summer Series");
  s.skip_collections = true;
  EXPECT_EQ(collections_of(s), "(unset)");
}

TEST(CollectionRules, RulesPickNamesAndPosterImages) {
  auto s = with("collections",
                "studio => Studio: {name}; tag:series/*; performer:favorite => ★ {name}; group; organized:Done");
  s.collection_prefix = "PS ";
  const auto d = fieldsync::prepare(scene(), s).desired;
  ASSERT_TRUE(d.collections);
  EXPECT_EQ(util::join(*d.collections, ", "),
            "PS Studio: Studio North, PS Series/Coastline, PS ★ Léa Dubois, PS Summer Series, PS Done");
  EXPECT_EQ(d.collection_images.at("PS Studio: Studio North"), "http://stash/studio/1/image?t=1");
  EXPECT_EQ(d.collection_images.at("PS Series/Coastline"), "http://stash/tag/9/image?t=1");
  EXPECT_EQ(d.collection_images.at("PS ★ Léa Dubois"), "http://stash/performer/1/image?t=1");
  EXPECT_EQ(d.collection_images.at("PS Summer Series"), "http://stash/group/3/frontimage?t=1");
  EXPECT_EQ(d.collection_images.count("PS Done"), 0U) << "organized has no image";
  auto unorganized = scene();
  unorganized.organized = false;
  unorganized.performers[0].favorite = false;
  EXPECT_EQ(collections_of(s, unorganized), "PS Studio: Studio North, PS Series/Coastline, PS Summer Series");
  // Two rules naming the same collection make one.
  EXPECT_EQ(collections_of(with("collections", "studio; tag_parent:setting => Studio North; performer:all")),
            "Studio North, Léa Dubois, Mika Tanaka");
}

TEST(CollectionRules, ABrokenRuleIsReportedAndHoldsTheCollectionsAsTheyAre) {
  auto loaded = config::load_settings(
      {{"plex_url", "http://127.0.0.1:32400"}, {"plex_token", "t"}, {"collections", "studio; tag_parent"}});
  ASSERT_EQ(loaded.problems.size(), 1U);
  EXPECT_EQ(loaded.problems[0].key, "collections");
  EXPECT_NE(loaded.problems[0].message.find("collections: position 19: 'tag_parent' needs the parent tag's name"),
            std::string::npos)
      << loaded.problems[0].message;
  EXPECT_NE(loaded.problems[0].message.find("leaves every item's collections as they are"), std::string::npos);
  EXPECT_TRUE(loaded.usable());
  EXPECT_EQ(collections_of(loaded.settings), "(unset)") << "neither half the rules nor the booleans";
  EXPECT_EQ(genres_of(loaded.settings), "Outdoor, Series/Coastline, 4K, 60fps");
}

TEST(GenreFilter, IncludeExcludeAndFamilies) {
  EXPECT_EQ(genres_of(config::Settings{}), "Outdoor, Series/Coastline, 4K, 60fps");
  EXPECT_EQ(genres_of(with("genre_include", "series/*; 4k")), "Series/Coastline, 4K");
  EXPECT_EQ(genres_of(with("genre_exclude", "parent:Technical; *FPS")), "Outdoor, Series/Coastline");
  EXPECT_EQ(genres_of(with("genre_exclude", "parent:4K")), "Outdoor, Series/Coastline, 60fps")
      << "a family's head is in the family";
  auto both = with("genre_include", "parent:Setting; 4K");
  both.genre_exclude = "4?";
  EXPECT_EQ(genres_of(both), "Outdoor") << "exclude wins";
  auto loaded = config::load_settings(
      {{"plex_url", "http://127.0.0.1:32400"}, {"plex_token", "t"}, {"genre_exclude", "4K; parent:"}});
  ASSERT_EQ(loaded.problems.size(), 1U);
  EXPECT_EQ(loaded.problems[0].key, "genre_exclude");
  EXPECT_EQ(genres_of(loaded.settings), "(unset)");
  EXPECT_EQ(collections_of(loaded.settings), "Studio North");
}

TEST(GenreFilter, GlobsMatchWholeFoldedNames) {
  using fieldsync::glob_match;
  EXPECT_TRUE(glob_match("series/*", "Series/Coastline"));
  EXPECT_FALSE(glob_match("series/*", "Old Series/Coastline"));
  EXPECT_TRUE(glob_match("*fps", "60FPS"));
  EXPECT_TRUE(glob_match("?K", "4K"));
  EXPECT_FALSE(glob_match("?K", "K"));
  EXPECT_TRUE(glob_match("été*", "ÉTÉ 2024")) << "case folded beyond ASCII";
  EXPECT_TRUE(glob_match("?t?", "été")) << "'?' is one character, not one byte";
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
  EXPECT_TRUE(glob_match("**", ""));
  EXPECT_FALSE(glob_match("", "x"));
  // A pattern made to backtrack stays quick (the walk is linear per star).
  EXPECT_FALSE(glob_match(std::string(60, '*') + "b", std::string(5000, 'a')));
}

// Any text either parses or yields an error that names a position within it; never a crash. What
// parses can be applied to a scene.
RC_GTEST_PROP(CollectionRulesProperty, ParsesOrNamesAPosition, ()) {
  const auto pieces = *rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
      ";", ":", "=>", "{", "}", "{name}", "studio", "tag", "tag:*", "performer:", "favorite", "organized:x", " ", "Été",
      "parent_studio", "group", "tag_parent:S", "=> ★ {name}", "{{", "}}"));
  std::string text;
  for (const auto& p : pieces) {
    text += p;
  }
  for (const bool filter : {false, true}) {
    std::string message;
    if (filter) {
      const auto parsed = config::parse_tag_filter(text);
      if (parsed) {
        config::Settings s;
        s.genre_include = text;
        (void)fieldsync::genres_for(scene(), s);
        continue;
      }
      message = parsed.error().message;
    } else {
      const auto parsed = config::parse_collection_rules(text);
      if (parsed) {
        config::Settings s;
        s.collections = text;
        (void)fieldsync::collections_for(scene(), s);
        continue;
      }
      message = parsed.error().message;
    }
    RC_ASSERT(message.rfind("position ", 0) == 0U);
    const auto pos = std::stoul(message.substr(9));
    RC_ASSERT(pos >= 1U);
    RC_ASSERT(pos <= text.size() + 1);
  }
}

// docs/settings.md's shelf examples (generated by `plexsync settings-doc`) give their documented
// results for the sample scene above.
TEST(ShelfRulesDocs, EveryExampleGivesItsDocumentedResult) {
  const auto rows = testing_support::doc_table_rows(config::render_settings_doc(), "## Examples: shelves from rules");
  for (const auto& cells : rows) {
    ASSERT_EQ(cells.size(), 4U); // | wish | `key` | `value` | result |
    const auto settings = with(cells[1], cells[2]);
    EXPECT_EQ(cells[1] == "collections" ? collections_of(settings) : genres_of(settings), cells[3]) << cells[0];
  }
  EXPECT_GE(rows.size(), 8U);
}

} // namespace shelf_rules_test
