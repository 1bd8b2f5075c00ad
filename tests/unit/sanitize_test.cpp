#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "sync/metadata.hpp"
#include "sync/sanitize.hpp"

namespace {

using fieldsync::sanitize_block;
using fieldsync::sanitize_line;
using fieldsync::TextLimit;

constexpr TextLimit k_big{1000, 4000};

TEST(Sanitize, NfcAndControlCharacters) {
  EXPECT_EQ(sanitize_line("E\xCC\x81t\xC3\xA9", k_big), "\xC3\x89t\xC3\xA9"); // NFD É -> NFC
  EXPECT_EQ(sanitize_line("a\x01"
                          "b\x7f"
                          "c\xC2\x85"
                          "d",
                          k_big),
            "abcd");
  EXPECT_EQ(sanitize_line("  one\ntwo\t  three ", k_big), "one two three");
  EXPECT_EQ(sanitize_block("one\r\ntwo\rthree\t(tab kept)", k_big), "one\ntwo\nthree\t(tab kept)");
}

TEST(Sanitize, InvalidUtf8IsRepairedAsLatin1OrDropped) {
  EXPECT_EQ(sanitize_line("caf\xE9 cr\xE8me", k_big), "caf\xC3\xA9 cr\xC3\xA8me");
  EXPECT_EQ(sanitize_line("bad \x80\x81 bytes \xC3", k_big), "bad bytes \xC3\x83");
  EXPECT_TRUE(fieldsync::is_valid_utf8(sanitize_line("\xF0\x28\x8C\x28 \xED\xA0\x80", k_big)));
}

TEST(Sanitize, InvisibleAndBidiCharactersGoEmojiStay) {
  EXPECT_EQ(sanitize_line("zero\xE2\x80\x8Bwidth\xEF\xBB\xBF", k_big), "zerowidth");
  EXPECT_EQ(sanitize_line("\xE2\x80\xAEreversed\xE2\x80\xAC \xE2\x81\xA6iso\xE2\x81\xA9", k_big), "reversed iso");
  // Family emoji: man ZWJ woman ZWJ girl keeps its joiners; a joiner between letters goes.
  const std::string family = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";
  EXPECT_EQ(sanitize_line("we " + family + " ok", k_big), "we " + family + " ok");
  EXPECT_EQ(sanitize_line("a\xE2\x80\x8D"
                          "b",
                          k_big),
            "ab");
  EXPECT_EQ(sanitize_line("thumbs \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", k_big), "thumbs \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD");
}

TEST(Sanitize, NoBreakSpacesCollapseInLines) {
  EXPECT_EQ(sanitize_line("a\xC2\xA0\xC2\xA0"
                          "b\xE3\x80\x80"
                          "c",
                          k_big),
            "a b c");
}

TEST(Sanitize, BlocksKeepParagraphsButNotRunsOfBlankLines) {
  EXPECT_EQ(sanitize_block("  first   \n\n\n\nsecond  \nthird\n\n", k_big), "first\n\nsecond\nthird");
}

TEST(Truncate, NeverSplitsAGraphemeOrAUtf8Sequence) {
  const std::string flag = "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"; // regional indicators F R: one grapheme, 8 bytes
  EXPECT_EQ(fieldsync::truncate_graphemes("ab" + flag + "cd", {3, 100}), "ab" + flag);
  EXPECT_EQ(fieldsync::truncate_graphemes("ab" + flag + "cd", {10, 9}), "ab");     // the flag does not fit in 9 bytes
  EXPECT_EQ(fieldsync::truncate_graphemes("e\xCC\x81xyz", {1, 100}), "e\xCC\x81"); // e + combining accent
  EXPECT_EQ(sanitize_line("word another", {7, 100}), "word an");
  EXPECT_EQ(sanitize_line("word another", {5, 100}), "word"); // trailing space trimmed
}

TEST(Truncate, BlocksEndWithAnEllipsisWithinTheBudget) {
  const auto out = sanitize_block(std::string(50, 'x'), {10, 100});
  EXPECT_EQ(out, std::string(9, 'x') + "\xE2\x80\xA6");
  EXPECT_LE(sanitize_block(std::string(50, 'x'), {100, 12}).size(), 12U);
}

// Arbitrary bytes, biased towards the interesting ones.
rc::Gen<std::string> messy_text() {
  return rc::gen::map(
      rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
          "a", "Z", " ", "\t", "\n", "\r", "\x01", "\x7f", "\xC2\x85", "\xE9", "\xFF", "\xC3\xA9", "e\xCC\x81",
          "\xE2\x80\x8B", "\xE2\x80\x8D", "\xE2\x80\xAE", "\xF0\x9F\x91\xA8", "\xF0\x9F\x87\xAB", "\xF0\x9F\x8F\xBD",
          "\xEF\xB8\x8F", "\xC2\xA0", "\xE4\xB8\xAD", "\xCC\x81")),
      [](const std::vector<std::string>& pieces) {
        std::string s;
        for (const auto& p : pieces) {
          s += p;
        }
        return s;
      });
}

RC_GTEST_PROP(SanitizeProperty, OutputIsValidBoundedCleanAndStable, ()) {
  const auto text = *messy_text();
  const auto graphemes = *rc::gen::inRange<size_t>(0, 40);
  const auto bytes = *rc::gen::inRange<size_t>(0, 120);
  const TextLimit limit{graphemes, bytes};
  for (const bool block : {false, true}) {
    const auto out = block ? sanitize_block(text, limit) : sanitize_line(text, limit);
    RC_ASSERT(fieldsync::is_valid_utf8(out));
    RC_ASSERT(out.size() <= bytes);
    RC_ASSERT(fieldsync::truncate_graphemes(out, limit) == out); // within the grapheme budget too
    for (const unsigned char c : out) {
      RC_ASSERT(c >= 0x20 || c == '\t' || c == '\n');
      RC_ASSERT(c != 0x7f);
      RC_ASSERT(block || (c != '\n' && c != '\t'));
    }
    RC_ASSERT(out.find("\xE2\x80\x8B") == std::string::npos);
    RC_ASSERT(out.find("\xE2\x80\xAE") == std::string::npos);
    // Sanitizing twice changes nothing.
    RC_ASSERT((block ? sanitize_block(out, limit) : sanitize_line(out, limit)) == out);
  }
}

RC_GTEST_PROP(TruncateProperty, IsAPrefixOfWholeGraphemes, ()) {
  const auto text = fieldsync::repair_utf8(*messy_text());
  const TextLimit limit{*rc::gen::inRange<size_t>(0, 30), *rc::gen::inRange<size_t>(0, 90)};
  const auto cut = fieldsync::truncate_graphemes(text, limit);
  RC_ASSERT(text.compare(0, cut.size(), cut) == 0);
  RC_ASSERT(cut.size() <= limit.max_bytes);
  // Taking one more byte budget never yields a shorter result (monotone), and the cut is a
  // grapheme boundary: truncating the original to the cut's size gives the cut back.
  RC_ASSERT(fieldsync::truncate_graphemes(text, {limit.max_graphemes, cut.size()}) == cut);
}

TEST(Validate, DatesFollowTheCalendar) {
  int y = 0;
  int m = 0;
  int d = 0;
  EXPECT_TRUE(fieldsync::parse_date("2024-02-29", y, m, d));
  EXPECT_FALSE(fieldsync::parse_date("2023-02-29", y, m, d));
  EXPECT_TRUE(fieldsync::parse_date("2024-07", y, m, d));
  EXPECT_EQ(d, 0);
  EXPECT_TRUE(fieldsync::parse_date("1999", y, m, d));
  EXPECT_FALSE(fieldsync::parse_date("24-01-01", y, m, d));
  EXPECT_FALSE(fieldsync::parse_date("2024/01/01", y, m, d));
  EXPECT_FALSE(fieldsync::parse_date("0001-01-01", y, m, d));
}

// No real client edits `year` and PMS documents no such field (fidelity findings row 4): a date
// without a day leaves Plex's date alone, with a note.
TEST(Validate, PartialDatesLeavePlexsDateAlone) {
  stash::Scene s;
  s.id = "7";
  s.title = "T";
  s.date = "2019-05";
  const auto p = fieldsync::prepare(s, config::Settings{});
  ASSERT_EQ(p.violations.size(), 1U);
  EXPECT_EQ(p.violations[0].message, "'2019-05' has no day; Plex's date needs one (YYYY-MM-DD), so Plex keeps its own");
  EXPECT_FALSE(p.desired.date.has_value());
}

TEST(Validate, ListsOverMaxTagsAreCutWithAWarning) {
  stash::Scene s;
  s.id = "7";
  s.title = "T";
  for (int i = 0; i < 12; ++i) {
    s.tags.push_back("tag " + std::to_string(i));
  }
  config::Settings settings;
  settings.max_tags = 10;
  const auto p = fieldsync::prepare(s, settings);
  ASSERT_EQ(p.violations.size(), 1U);
  EXPECT_EQ(p.violations[0].field, "genres");
  EXPECT_EQ(p.violations[0].message, "12 entries, more than max_tags (10); the first 10 are sent");
  EXPECT_EQ(p.desired.genres->size(), 10U);
}

TEST(Validate, SchemaRejectsWhatPrepareNeverProduces) {
  fieldsync::Desired d;
  d.title = "two\nlines";
  d.date = "2024-13-01";
  d.rating = 11;
  d.genres = std::vector<std::string>{"ok", ""};
  const auto v = fieldsync::validate(d, 50);
  std::vector<std::string> fields;
  for (const auto& x : v) {
    fields.push_back(x.field);
  }
  EXPECT_EQ(fields, (std::vector<std::string>{"title", "date", "rating", "genres"}));
}

RC_GTEST_PROP(ValidateProperty, PreparedMetadataAlwaysPassesTheSchema, ()) {
  stash::Scene s;
  s.id = "1";
  s.title = *messy_text();
  s.details = *messy_text();
  s.studio = *messy_text();
  s.date = *rc::gen::element<std::string>("", "2024-02-29", "2023-02-29", "2024-1", "abcd", "2024", "1700-01-01");
  s.rating100 = *rc::gen::inRange(-5, 110);
  s.tags = *rc::gen::container<std::vector<std::string>>(messy_text());
  s.performers.push_back({"1", *messy_text(), ""});
  s.files.push_back({"/x/" + *messy_text(), *messy_text(), 1, 1});
  config::Settings settings;
  settings.max_tags = *rc::gen::inRange(1, 20);
  settings.tagline_source = "code";
  s.code = *messy_text();
  const auto p = fieldsync::prepare(s, settings);
  RC_ASSERT(fieldsync::validate(p.desired, settings.max_tags).empty());
}

} // namespace
