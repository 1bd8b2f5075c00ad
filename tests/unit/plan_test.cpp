#include <algorithm>
#include <set>

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

fieldsync::EditPlan plan(const stash::Scene& s, const plex::Item& item, const config::Settings& settings = {},
                         const fieldsync::Written& last = {}) {
  return fieldsync::plan_edit(fieldsync::prepare(s, settings).desired, item,
                              {settings.preserve_plex_edits, settings.tag_mode == "merge"}, last);
}

// Fields the base settings do not sync, so the tests below see only what they are about.
config::Settings core_settings() {
  config::Settings s;
  s.skip_collections = true;
  s.skip_rating = true;
  s.skip_poster = true;
  return s;
}

TEST(Plan, NothingToSendWhenPlexAlreadyMatches) {
  auto item = matching_item();
  EXPECT_TRUE(plan(scene(), item, core_settings()).params.empty());
}

TEST(Plan, UnlockedButEqualFieldIsLocked) {
  auto item = matching_item();
  item.locked.erase("title");
  const auto p = plan(scene(), item, core_settings());
  EXPECT_EQ(p.changed, std::vector<std::string>{"title"});
  EXPECT_EQ(param(p.params, "title.locked"), "1");
}

TEST(Plan, TagListsAreSetWithExplicitRemovals) {
  auto item = matching_item();
  item.genres = {"Outdoor", "Romance", "Old Tag"};
  const auto p = plan(scene(), item, core_settings());
  EXPECT_EQ(param(p.params, "genre[0].tag.tag"), "Outdoor");
  EXPECT_EQ(param(p.params, "genre[3].tag.tag"), "Q&A, Extended");
  // Each name encoded, then the joined list encoded again by the query builder.
  EXPECT_EQ(param(p.params, "genre[].tag.tag-"), "Romance,Old%20Tag");
  EXPECT_EQ(param(p.params, "genre.locked"), "1");
  const auto q = plex::build_query(p.params);
  EXPECT_NE(q.find("genre[].tag.tag-=Romance%2COld%2520Tag"), std::string::npos);
}

TEST(Plan, MergeModeNeverRemoves) {
  auto settings = core_settings();
  settings.tag_mode = "merge";
  auto item = matching_item();
  item.genres = {"Outdoor", "Romance"};
  const auto p = plan(scene(), item, settings);
  EXPECT_EQ(param(p.params, "genre[].tag.tag-"), "<absent>");
  EXPECT_EQ(param(p.params, "genre[4].tag.tag"), "Romance"); // kept in the complete list
}

TEST(Plan, CollectionsRemoveOnlyWhatPlexSyncAdded) {
  config::Settings settings = core_settings();
  settings.skip_collections = false;
  settings.collection_prefix = "Studio: ";
  auto item = matching_item();
  item.collections = {"Studio: Old Studio", "My Favourites"};
  fieldsync::Written last;
  last.lists["collection"] = {"Studio: Old Studio"};
  const auto p = plan(scene(), item, settings, last);
  EXPECT_EQ(param(p.params, "collection[0].tag.tag"), "Studio: Harbor Light Studio");
  EXPECT_EQ(param(p.params, "collection[1].tag.tag"), "My Favourites");
  EXPECT_EQ(param(p.params, "collection[].tag.tag-"), "Studio%3A%20Old%20Studio");
}

// PMS documents no `year` edit field and no real client sends one (fidelity findings row 4): an
// item whose year Plex never locked is still up to date.
TEST(Plan, RatingTaglineAndContentRatingButNeverYear) {
  auto settings = core_settings();
  settings.skip_rating = false;
  settings.tagline_source = "code";
  settings.content_rating = "XXX";
  auto s = scene();
  s.rating100 = 85;
  s.code = "HLS-042";
  const auto p = plan(s, matching_item(), settings);
  EXPECT_EQ(param(p.params, "userRating.value"), "8.5");
  EXPECT_EQ(param(p.params, "year.value"), "<absent>");
  EXPECT_EQ(param(p.params, "originallyAvailableAt.value"), "<absent>"); // already equal and locked
  EXPECT_EQ(param(p.params, "tagline.value"), "HLS-042");
  EXPECT_EQ(param(p.params, "contentRating.value"), "XXX");
  auto item = matching_item();
  item.user_rating = 8.5;
  item.tagline = "HLS-042";
  item.content_rating = "XXX";
  item.locked.insert({"userRating", "tagline", "contentRating"});
  EXPECT_TRUE(plan(s, item, settings).params.empty());
}

TEST(Plan, ActorPhotosAreSentAndAChangedPhotoResendsTheList) {
  auto settings = core_settings();
  settings.stash_url_for_plex = "http://192.168.1.10:9999/";
  auto s = scene();
  s.performers[0].image_path = "http://127.0.0.1:9999/performer/1/image?t=5";
  auto item = matching_item();
  item.actor_photos = {"http://192.168.1.10:9999/performer/1/image?t=5", ""};
  EXPECT_TRUE(plan(s, item, settings).params.empty());
  s.performers[0].image_path = "http://127.0.0.1:9999/performer/1/image?t=6";
  const auto p = plan(s, item, settings);
  EXPECT_EQ(param(p.params, "actor[0].tag.thumb"), "http://192.168.1.10:9999/performer/1/image?t=6");
  EXPECT_EQ(param(p.params, "actor[1].tag.thumb"), "<absent>");
}

// Plex fetches actor photos itself: never Stash's loopback address, never a Stash credential
// (fidelity findings row 3).
TEST(Plan, ActorPhotosNeedStashsAddressAsPlexReachesItAndCarryNoCredential) {
  auto settings = core_settings();
  auto s = scene();
  s.performers[0].image_path = "http://127.0.0.1:9999/performer/1/image?t=5";
  auto item = matching_item();
  item.actors.clear();
  auto p = plan(s, item, settings);
  EXPECT_EQ(param(p.params, "actor[0].tag.tag"), item.actors.empty() ? s.performers[0].name : "");
  EXPECT_EQ(param(p.params, "actor[0].tag.thumb"), "<absent>");
  settings.stash_url_for_plex = "https://stash.example.org/prefix";
  s.performers[0].image_path = "http://127.0.0.1:9999/performer/1/image?t=5&apikey=SECRET";
  p = plan(s, item, settings);
  EXPECT_EQ(param(p.params, "actor[0].tag.thumb"), "https://stash.example.org/prefix/performer/1/image?t=5");
  settings.skip_performer_photos = true;
  EXPECT_EQ(param(plan(s, item, settings).params, "actor[0].tag.thumb"), "<absent>");
}

TEST(Plan, PreservePlexEditsKeepsWhatTheUserChanged) {
  auto settings = core_settings();
  settings.preserve_plex_edits = true;
  auto item = matching_item();
  item.title = "My own title";  // edited in Plex, never written by PlexSync
  item.summary = "";            // empty: filled
  item.studio = "Harbor Light"; // what PlexSync wrote last time: updated
  fieldsync::Written last;
  last.scalars["studio"] = "Harbor Light";
  const auto p = plan(scene(), item, settings, last);
  EXPECT_EQ(param(p.params, "title.value"), "<absent>");
  EXPECT_EQ(param(p.params, "summary.value"), "Line one & two.\nLine three.");
  EXPECT_EQ(param(p.params, "studio.value"), "Harbor Light Studio");
  EXPECT_NE(std::find(p.kept.begin(), p.kept.end(), "title"), p.kept.end());
}

TEST(Plan, ClearedDetailsClearTheSummary) {
  auto s = scene();
  s.details.clear();
  EXPECT_EQ(param(plan(s, matching_item(), core_settings()).params, "summary.value"), "");
}

TEST(Plan, TogglesTurnFieldsOff) {
  config::Settings settings = core_settings();
  settings.skip_genres = true;
  settings.skip_title = true;
  settings.skip_date = true;
  auto item = matching_item();
  item.genres.clear();
  item.title = "Other";
  EXPECT_TRUE(plan(scene(), item, settings).params.empty());
}

TEST(Plan, InvalidDateIsNotSentAndNamesTheField) {
  auto s = scene();
  s.date = "2024-02-30";
  auto item = matching_item();
  item.originally_available_at = "";
  const auto prepared = fieldsync::prepare(s, core_settings());
  ASSERT_EQ(prepared.violations.size(), 1U);
  EXPECT_EQ(prepared.violations[0].field, "date");
  EXPECT_NE(prepared.violations[0].message.find("'2024-02-30' is not a date"), std::string::npos);
  EXPECT_EQ(param(plan(s, item, core_settings()).params, "originallyAvailableAt.value"), "<absent>");
}

TEST(Plan, LongEditsAreSplitUnderTheRequestLineBudget) {
  auto s = scene();
  s.details = std::string(6000, 'x');
  for (int i = 0; i < 50; ++i) {
    s.tags.push_back("A rather long tag name number " + std::to_string(i));
  }
  const auto p = plan(s, plex::Item{}, core_settings());
  const auto batches = plex::split_edit(p.params, plex::k_max_edit_query_bytes);
  ASSERT_GE(batches.size(), 2U);
  size_t total = 0;
  for (const auto& b : batches) {
    EXPECT_LE(plex::build_query(b).size(), plex::k_max_edit_query_bytes);
    total += b.size();
  }
  EXPECT_EQ(total, p.params.size()); // nothing lost, nothing repeated
  EXPECT_EQ(plex::split_edit(plan(scene(), plex::Item{}, core_settings()).params, plex::k_max_edit_query_bytes).size(),
            1U);
}

// A long summary in a script that triples when encoded (fidelity findings row 6): cut by encoded
// size at a character boundary with a warning, so it never needs a request line of its own size.
TEST(Plan, ALongSummaryIsCutByItsEncodedSize) {
  auto s = scene();
  std::string details;
  for (int i = 0; i < 3000; ++i) {
    details += "日本語"; // 9 bytes, 27 once encoded
  }
  s.details = details;
  const auto prepared = fieldsync::prepare(s, core_settings());
  ASSERT_TRUE(prepared.desired.summary);
  const auto& summary = *prepared.desired.summary;
  EXPECT_LE(fieldsync::encoded_size(summary), fieldsync::k_summary_encoded_max);
  EXPECT_GT(fieldsync::encoded_size(summary), fieldsync::k_summary_encoded_max - 64);
  EXPECT_TRUE(fieldsync::is_valid_utf8(summary));
  EXPECT_EQ(summary.substr(summary.size() - 3), "\u2026");
  ASSERT_EQ(prepared.violations.size(), 1U);
  EXPECT_EQ(prepared.violations[0].field, "summary");
  for (const auto& batch : plex::split_edit(fieldsync::plan_edit(prepared.desired, plex::Item{}, {}, {}).params,
                                            plex::k_max_edit_query_bytes)) {
    EXPECT_LE(plex::build_query(batch).size(), plex::k_max_edit_query_bytes);
  }
  // A combining sequence is never split: e + U+0301 stays whole or goes whole.
  const auto cut = fieldsync::cap_encoded(std::string(10, 'a') + "e\u0301" + std::string(10, 'b'), 10 + 7 + 9);
  EXPECT_EQ(cut, std::string(10, 'a') + "e\u0301\u2026");
  EXPECT_EQ(fieldsync::cap_encoded(std::string(10, 'a') + "e\u0301" + std::string(10, 'b'), 10 + 6 + 9),
            std::string(10, 'a') + "\u2026");
}

// A list too long for one request is split between entries: an actor's name and photo always
// travel together, and the removals and the lock come in the last request (row 7).
TEST(Plan, AListSplitAcrossRequestsKeepsEachEntryWhole) {
  auto settings = core_settings();
  settings.stash_url_for_plex = "http://192.168.1.10:9999";
  settings.max_tags = 200;
  auto s = scene();
  s.performers.clear();
  for (int i = 0; i < 120; ++i) {
    s.performers.push_back({std::to_string(i), "Performer with a long stage name " + std::to_string(i),
                            "http://127.0.0.1:9999/performer/" + std::to_string(i) + "/image?t=1700000000"});
  }
  auto item = matching_item();
  item.actors = {"Someone Else"};
  const auto p = plan(s, item, settings);
  const auto batches = plex::split_edit(p.params, plex::k_max_edit_query_bytes);
  ASSERT_GE(batches.size(), 2U);
  for (size_t b = 0; b < batches.size(); ++b) {
    EXPECT_LE(plex::build_query(batches[b]).size(), plex::k_max_edit_query_bytes);
    std::set<std::string> names;
    std::set<std::string> thumbs;
    for (const auto& [k, v] : batches[b]) {
      if (k.rfind("actor[", 0) == 0 && k.find(".tag.tag") != std::string::npos && k.find("[]") == std::string::npos) {
        names.insert(k.substr(0, k.find(']')));
      } else if (k.find(".tag.thumb") != std::string::npos) {
        thumbs.insert(k.substr(0, k.find(']')));
      }
      if (k == "actor.locked" || k == "actor[].tag.tag-") {
        EXPECT_EQ(b, batches.size() - 1) << k << " before the last request";
      }
    }
    EXPECT_EQ(names, thumbs) << "request " << b;
  }
}

TEST(Written, RoundTripsAndToleratesGarbage) {
  fieldsync::Written w;
  w.scalars["title"] = "T";
  w.lists["genre"] = {"a", "b"};
  const auto back = fieldsync::Written::from_json(w.to_json());
  EXPECT_EQ(back.scalars, w.scalars);
  EXPECT_EQ(back.lists, w.lists);
  EXPECT_TRUE(fieldsync::Written::from_json("{not json").scalars.empty());
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

TEST(PathMap, ARootPrefixKeepsTheSeparator) {
  const auto m = match::PathMap::parse("/=>/mnt/");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->apply("/media/a.mp4"), "/mnt/media/a.mp4");
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

namespace {

// Moving to a pull library (spec 5.6): PlexSync gives back only its own locks.
TEST(PlanUnlockForProvider, OnlyPlexSyncsOwnUnchangedLocksAreReleased) {
  plex::Item item;
  item.title = "A person's title"; // edited in Plex after PlexSync wrote "Stash title"
  item.summary = "Stash summary";
  item.studio = "Studio";
  item.genres = {"A", "B"};
  item.actors = {"Someone else"};
  item.collections = {"Studio"};
  item.locked = {"title", "summary", "studio", "collection"};
  fieldsync::Written last;
  last.scalars = {{"title", "Stash title"}, {"summary", "Stash summary"}, {"studio", "Studio"}};
  last.lists = {{"genre", {"A", "B"}}, {"actor", {"Jane"}}, {"collection", {"Studio"}}};
  const auto params = fieldsync::unlock_for_provider(item, last);
  const std::set<std::pair<std::string, std::string>> got(params.begin(), params.end());
  const std::set<std::pair<std::string, std::string>> want{
      {"summary.locked", "0"}, {"studio.locked", "0"}, {"genre.locked", "0"}};
  EXPECT_EQ(got, want) << "title: a person's edit; actor: changed in Plex; collection: stays PlexSync's";
  EXPECT_TRUE(fieldsync::unlock_for_provider(item, fieldsync::Written{}).empty()) << "nothing PlexSync wrote";
}

} // namespace
