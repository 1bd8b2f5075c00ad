// Scored matching over a persisted index: the cases real libraries produce (duplicate file
// names, macOS NFD paths, case, Windows servers, moved files, multi-part items, bare titles).
#include <gtest/gtest.h>

#include "config/settings.hpp"
#include "match/fold.hpp"
#include "match/matcher.hpp"
#include "match/path_map.hpp"
#include "support/sandbox.hpp"

namespace {

class MatchTest : public testing_support::DatabaseTest {
protected:
  void SetUp() override {
    DatabaseTest::SetUp();
    index_.emplace(*db_);
  }

  void add(const std::string& rk, const std::string& title, std::vector<plex::PartRef> parts) {
    plex::ItemSummary item;
    item.rating_key = rk;
    item.title = title;
    item.parts = std::move(parts);
    ASSERT_TRUE(index_->add("1", item, 1));
  }

  match::Decision decide(const std::string& path, int64_t size = 0, double duration = 0,
                         const std::string& title = "") {
    match::SceneFacts facts;
    facts.files.push_back({path, size, duration});
    facts.title = title;
    auto d = match::find_match(*index_, facts, 75);
    EXPECT_TRUE(d) << d.error().message;
    return *d;
  }

  std::optional<match::LibraryIndex> index_;
};

TEST_F(MatchTest, ExactPathWinsOverADuplicateFileName) {
  add("1", "A", {{"/media/A-M/Scene 5 [1080p].mp4", 100, 60000}});
  add("2", "A copy", {{"/media/N-Z/Scene 5 [1080p].mp4", 100, 60000}});
  const auto d = decide("/media/N-Z/Scene 5 [1080p].mp4", 100);
  ASSERT_EQ(d.verdict, match::Verdict::confident);
  EXPECT_EQ(d.ranked.front().rating_key, "2");
  EXPECT_EQ(d.ranked.front().score, 100);
  EXPECT_EQ(d.ranked.front().reason, "exact path");
}

TEST_F(MatchTest, NfdCaseAndSeparatorsFoldToTheSamePath) {
  add("1", "Été", {{"/media/\xC3\x89t\xC3\xA9/Clip.MP4", 1, 1}}); // NFC in Plex
  const auto nfd = decide("/media/E\xCC\x81te\xCC\x81/Clip.MP4"); // macOS wrote NFD
  ASSERT_EQ(nfd.verdict, match::Verdict::confident);
  EXPECT_EQ(nfd.ranked.front().score, 95);
  EXPECT_EQ(decide("/MEDIA/\xC3\xA9t\xC3\xA9/clip.mp4").ranked.front().score, 95); // case
  add("2", "Win", {{"M:\\Media\\Folder\\Win Clip.mkv", 1, 1}});                    // Plex on Windows
  const auto win = decide("M:/Media/Folder/Win Clip.mkv");
  ASSERT_EQ(win.verdict, match::Verdict::confident);
  EXPECT_EQ(win.ranked.front().rating_key, "2");
}

TEST_F(MatchTest, MovedFileMatchesByNameAndSizeAmongDuplicates) {
  add("1", "x", {{"/media/a/Scene 6.mp4", 111, 60000}});
  add("2", "x", {{"/media/b/Scene 6.mp4", 222, 60000}});
  const auto d = decide("/media/moved/Scene 6.mp4", 222);
  ASSERT_EQ(d.verdict, match::Verdict::confident);
  EXPECT_EQ(d.ranked.front().rating_key, "2");
  EXPECT_EQ(d.ranked.front().score, 90);
  EXPECT_EQ(d.ranked[1].score, 60);
}

TEST_F(MatchTest, NameAndDurationWhenSizesDiffer) {
  add("1", "x", {{"/media/a/Remux.mkv", 111, 3600000}});
  const auto d = decide("/other/Remux.mkv", 999, 3600.8);
  ASSERT_EQ(d.verdict, match::Verdict::confident);
  EXPECT_EQ(d.ranked.front().score, 80);
}

TEST_F(MatchTest, TwoEquallyGoodCandidatesAreUncertain) {
  add("1", "x", {{"/media/a/Same.mp4", 500, 1000}});
  add("2", "x", {{"/media/b/Same.mp4", 500, 1000}});
  const auto d = decide("/elsewhere/Same.mp4", 500);
  EXPECT_EQ(d.verdict, match::Verdict::uncertain);
  EXPECT_NE(d.why.find("fit equally well"), std::string::npos);
  EXPECT_EQ(d.ranked.size(), 2U);
}

TEST_F(MatchTest, FileNameAloneIsBelowTheThreshold) {
  add("1", "x", {{"/media/a/Only Name.mp4", 500, 1000}});
  const auto d = decide("/elsewhere/Only Name.mp4", 9);
  EXPECT_EQ(d.verdict, match::Verdict::uncertain);
  EXPECT_EQ(d.ranked.front().score, 60);
  EXPECT_NE(d.why.find("below match_min_score 75"), std::string::npos);
}

TEST_F(MatchTest, AnyPartOfAMultiPartItemMatches) {
  add("7", "Two parts", {{"/media/m/Movie CD1.avi", 1, 1}, {"/media/m/Movie CD2.avi", 2, 2}});
  const auto d = decide("/media/m/Movie CD2.avi");
  ASSERT_EQ(d.verdict, match::Verdict::confident);
  EXPECT_EQ(d.ranked.front().rating_key, "7");
  EXPECT_EQ(d.ranked.size(), 1U) << "one candidate per item";
}

TEST_F(MatchTest, TitleFallbackNeverMakesAConfidentMatch) {
  add("1", "Sunset Session: Été Edition", {{"/media/x/abc123.mp4", 1, 1}});
  const auto d = decide("/stash/renamed/other.mp4", 5, 0, "Sunset Session - Ete Edition");
  EXPECT_EQ(d.verdict, match::Verdict::uncertain);
  ASSERT_FALSE(d.ranked.empty());
  EXPECT_EQ(d.ranked.front().reason, "similar title");
  EXPECT_LE(d.ranked.front().score, 50);
}

TEST_F(MatchTest, NothingAtAllIsNone) {
  add("1", "Completely different", {{"/media/x/a.mp4", 1, 1}});
  EXPECT_EQ(decide("/media/y/b.mp4", 1, 0, "Unrelated words here").verdict, match::Verdict::none);
}

TEST_F(MatchTest, ForgottenItemsDisappearFromLookups) {
  add("1", "x", {{"/media/a/Gone.mp4", 1, 1}});
  ASSERT_TRUE(index_->forget("1"));
  EXPECT_EQ(decide("/media/a/Gone.mp4").verdict, match::Verdict::none);
  EXPECT_EQ(*index_->size(), 0);
}

TEST(Fold, PathsAndTitles) {
  EXPECT_EQ(match::fold_path("\\\\?\\C:\\Media\\Été.MKV"), "c:/media/\xC3\xA9t\xC3\xA9.mkv");
  EXPECT_EQ(match::folded_basename("/a/B/Ça.mp4"), "\xC3\xA7"
                                                   "a.mp4");
  EXPECT_EQ(match::title_words("Hello, World! 2024"), (std::vector<std::string>{"hello", "world", "2024"}));
  EXPECT_DOUBLE_EQ(match::title_similarity("Hello World", "hello - world"), 1.0);
  EXPECT_LT(match::title_similarity("Hello World", "Goodbye Moon"), 0.5);
  EXPECT_EQ(match::title_similarity("", "x"), 0);
}

} // namespace

namespace {

// Issue #31: an invalid path_map was reported nowhere and its jobs retried forever. It is a fatal
// settings problem now, named with the rule and the fix, wherever settings are loaded.
TEST(PathMapSetting, AnInvalidRuleIsAFatalSettingsProblem) {
  for (const std::string bad : {"/data", "=>", "=> /media", "/data=>/media;/other"}) {
    auto loaded = config::load_effective_settings(
        {{"plex_url", "http://127.0.0.1:32400"}, {"plex_token", "abcd"}, {"path_map", bad}});
    match::check_path_map(loaded);
    ASSERT_FALSE(loaded.problems.empty()) << bad;
    EXPECT_EQ(loaded.problems.back().key, "path_map") << bad;
    EXPECT_TRUE(loaded.problems.back().fatal) << bad;
    EXPECT_NE(loaded.problems.back().message.find("=>"), std::string::npos) << loaded.problems.back().message;
    EXPECT_FALSE(loaded.usable()) << bad;
  }
  auto fine = config::load_effective_settings(
      {{"plex_url", "http://127.0.0.1:32400"}, {"plex_token", "abcd"}, {"path_map", "/data=>/media"}});
  match::check_path_map(fine);
  EXPECT_TRUE(fine.usable());
}

} // namespace
