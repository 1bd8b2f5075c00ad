#include <gtest/gtest.h>

#include "match/path_map.hpp"
#include "sync/plan.hpp"
#include "util/strings.hpp"

namespace {

stash::Scene scene() {
  stash::Scene s;
  s.id = "1";
  s.title = "Sunset Session: Été Edition";
  s.details = "Line one & two.\nLine three.";
  s.studio = "Harbor Light Studio";
  s.date = "2024-03-11";
  s.tags = {"Outdoor", "Sunset", "Golden Hour", "Q&A, Extended"};
  s.performers = {{"1", "Alex Doe", ""}, {"2", "Zoë Ångström", ""}};
  s.files = {{"/data/a.mp4", "a.mp4", 1, 1}};
  return s;
}

plex::Item matching_item() {
  plex::Item it;
  it.rating_key = "1001";
  it.title = "Sunset Session: Été Edition";
  it.summary = "Line one & two.\nLine three.";
  it.studio = "Harbor Light Studio";
  it.originally_available_at = "2024-03-11";
  it.genres = {"Outdoor", "Sunset", "Golden Hour", "Q&A, Extended"};
  it.actors = {"Alex Doe", "Zoë Ångström"};
  it.locked = {"title", "summary", "studio", "originallyAvailableAt", "genre", "actor"};
  return it;
}

std::string param(const plex::Params& p, const std::string& key) {
  for (const auto& [k, v] : p) {
    if (k == key) {
      return v;
    }
  }
  return "<absent>";
}

TEST(Sanitize, NfcAndControlCharacters) {
  EXPECT_EQ(fieldsync::sanitize("E\xCC\x81t\xC3\xA9", false), "\xC3\x89t\xC3\xA9"); // NFD É -> NFC
  EXPECT_EQ(fieldsync::sanitize("a\x01"
                                "b\x7f"
                                "c\xC2\x85"
                                "d",
                                false),
            "abcd");
  EXPECT_EQ(fieldsync::sanitize("  one\ntwo\t ", false), "one two");
  EXPECT_EQ(fieldsync::sanitize("one\r\ntwo", true), "one \ntwo");
  EXPECT_EQ(fieldsync::sanitize("bad \xFF utf8", false), "bad  utf8");
}

TEST(Plan, NothingToSendWhenPlexAlreadyMatches) {
  const auto plan = fieldsync::plan_edit(scene(), matching_item(), config::Settings{});
  EXPECT_TRUE(plan.params.empty());
}

TEST(Plan, UnlockedButEqualFieldIsLocked) {
  auto item = matching_item();
  item.locked.erase("title");
  const auto plan = fieldsync::plan_edit(scene(), item, config::Settings{});
  EXPECT_EQ(plan.changed, std::vector<std::string>{"title"});
  EXPECT_EQ(param(plan.params, "title.locked"), "1");
}

TEST(Plan, TagListsAreSetWithExplicitRemovals) {
  auto item = matching_item();
  item.genres = {"Outdoor", "Romance", "Old Tag"};
  const auto plan = fieldsync::plan_edit(scene(), item, config::Settings{});
  EXPECT_EQ(param(plan.params, "genre[0].tag.tag"), "Outdoor");
  EXPECT_EQ(param(plan.params, "genre[3].tag.tag"), "Q&A, Extended");
  // Each name encoded, then the joined list encoded again by the query builder.
  EXPECT_EQ(param(plan.params, "genre[].tag.tag-"), "Romance,Old%20Tag");
  EXPECT_EQ(param(plan.params, "genre.locked"), "1");
  const auto q = plex::build_query(plan.params);
  EXPECT_NE(q.find("genre[].tag.tag-=Romance%2COld%2520Tag"), std::string::npos);
}

TEST(Plan, ClearedDetailsClearTheSummary) {
  auto s = scene();
  s.details.clear();
  const auto plan = fieldsync::plan_edit(s, matching_item(), config::Settings{});
  EXPECT_EQ(param(plan.params, "summary.value"), "");
}

TEST(Plan, TogglesTurnFieldsOff) {
  config::Settings settings;
  settings.sync_genres = false;
  settings.sync_title = false;
  auto item = matching_item();
  item.genres.clear();
  item.title = "Other";
  EXPECT_TRUE(fieldsync::plan_edit(scene(), item, settings).params.empty());
}

TEST(Plan, InvalidDateIsNotSent) {
  auto s = scene();
  s.date = "2024-13-40";
  auto item = matching_item();
  item.originally_available_at = "";
  EXPECT_EQ(param(fieldsync::plan_edit(s, item, config::Settings{}).params, "originallyAvailableAt.value"), "<absent>");
}

TEST(PathMap, FirstMatchingRuleOnComponentBoundaries) {
  auto m = match::PathMap::parse("/data/stash=>/media/plex; /data=>/mnt/other/");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->apply("/data/stash/a b.mp4"), "/media/plex/a b.mp4");
  EXPECT_EQ(m->apply("/data/stash2/x.mp4"), "/mnt/other/stash2/x.mp4");
  EXPECT_EQ(m->apply("/elsewhere/x.mp4"), "/elsewhere/x.mp4");
  auto win = match::PathMap::parse("/data=>M:\\Media");
  EXPECT_EQ(win->apply("/data/a/b.mkv"), "M:\\Media\\a\\b.mkv");
}

TEST(PathMap, BadRulesNameTheRule) {
  EXPECT_EQ(match::PathMap::parse("/data->/media").error().message,
            "path_map: rule '/data->/media' has no '=>'; write STASH_PREFIX=>PLEX_PREFIX, e.g. /data=>/media");
  EXPECT_FALSE(match::PathMap::parse("=>/media"));
  EXPECT_TRUE(match::PathMap::parse("")->rules().empty());
}

} // namespace

#include "worker/scan.hpp"

namespace {

TEST(PollCursor, ShiftKeepsStashsOffsetAndFormat) {
  EXPECT_EQ(worker::shift_timestamp("2025-11-20T08:15:42+01:00", -5), "2025-11-20T08:15:37+01:00");
  EXPECT_EQ(worker::shift_timestamp("2025-11-20T00:00:02Z", -5), "2025-11-19T23:59:57Z");
  EXPECT_EQ(worker::shift_timestamp("2024-03-01T00:00:00-05:00", -1), "2024-02-29T23:59:59-05:00");
  EXPECT_EQ(worker::shift_timestamp("yesterday", -5), "");
}

} // namespace
