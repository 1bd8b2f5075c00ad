// Title templates (issue #28): the parser's errors name a position, and filling one drops the
// separators around empty fields.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "config/manifest.hpp"
#include "config/settings.hpp"
#include "config/title_template.hpp"
#include "support/doc_table.hpp"
#include "sync/metadata.hpp"
#include "sync/title_template.hpp"

namespace {

stash::Scene scene() {
  stash::Scene s;
  s.id = "7";
  s.title = "Sunset Walk";
  s.code = "AB-123";
  s.date = "2024-06-01";
  s.studio = "Studio North";
  s.parent_studio = "North Group";
  s.performers = {{"1", "Léa Dubois", ""}, {"2", "Mika Tanaka", ""}};
  s.groups = {"Summer Series"};
  s.group_index = 3;
  s.files = {{"/media/adult/Sunset.Walk.1080p.mp4", "Sunset.Walk.1080p.mp4", 1, 1}};
  return s;
}

std::string fill(const std::string& text, const stash::Scene& s = scene()) {
  auto t = config::parse_title_template(text);
  EXPECT_TRUE(t) << text << ": " << t.error().message;
  return t ? fieldsync::render_title(*t, s) : "";
}

TEST(TitleTemplate, EveryFieldAndFallbacks) {
  EXPECT_EQ(fill("{date} {studio} - {title}"), "2024-06-01 Studio North - Sunset Walk");
  EXPECT_EQ(fill("{year}: {performers}"), "2024: Léa Dubois, Mika Tanaka");
  EXPECT_EQ(fill("{group} #{group_index} ({code})"), "Summer Series #3 (AB-123)");
  EXPECT_EQ(fill("{parent_studio} / {studio}"), "North Group / Studio North");
  EXPECT_EQ(fill("{filename}"), "Sunset.Walk.1080p");
  auto untitled = scene();
  untitled.title.clear();
  EXPECT_EQ(fill("{title|filename}", untitled), "Sunset.Walk.1080p");
  EXPECT_EQ(fill("{ title | code }", untitled), "AB-123") << "spaces around names are allowed";
  EXPECT_EQ(fill("{{{title}}}"), "{Sunset Walk}") << "doubled braces are literal";
}

TEST(TitleTemplate, AnEmptyFieldTakesItsSeparatorsWithIt) {
  auto s = scene();
  s.date.clear();
  EXPECT_EQ(fill("{studio} - {date} - {title}", s), "Studio North - Sunset Walk");
  EXPECT_EQ(fill("{date} {title}", s), "Sunset Walk");
  EXPECT_EQ(fill("{title} ({year})", s), "Sunset Walk");
  EXPECT_EQ(fill("{title} ({year})"), "Sunset Walk (2024)");
  s.studio.clear();
  EXPECT_EQ(fill("[{studio}] {title}", s), "Sunset Walk");
  s.title.clear();
  s.files.clear();
  EXPECT_EQ(fill("[{studio}] {title}", s), "");
}

TEST(TitleTemplate, ErrorsNameThePositionAndTheFix) {
  const auto error = [](const std::string& text) {
    auto t = config::parse_title_template(text);
    EXPECT_FALSE(t) << text;
    return t ? std::string() : t.error().message;
  };
  EXPECT_EQ(error("{date} {studo}").rfind("position 9: unknown field {studo}; use one of: title, code", 0), 0U)
      << error("{date} {studo}");
  EXPECT_EQ(error("Été {title").rfind("position 5: '{' is never closed", 0), 0U) << error("Été {title");
  EXPECT_EQ(error("{title}}x}").rfind("position 8: '}' without a '{'", 0), 0U) << error("{title}}x}");
  EXPECT_EQ(error("{title|}").rfind("position 8: an empty field name", 0), 0U) << error("{title|}");
  EXPECT_EQ(error("{ti{tle}").rfind("position 1: '{' is never closed", 0), 0U);
  EXPECT_NE(error("no fields at all").find("no field"), std::string::npos);
}

TEST(TitleTemplate, ASettingThatDoesNotParseIsReportedAndNotApplied) {
  auto loaded = config::load_settings({{"plex_url", "http://127.0.0.1:32400"},
                                       {"plex_token", "t"},
                                       {"title_template", "{date} {studo}"},
                                       {"sort_title_template", "{studio} {date}"}});
  ASSERT_EQ(loaded.problems.size(), 1U);
  EXPECT_EQ(loaded.problems[0].key, "title_template");
  EXPECT_NE(loaded.problems[0].message.find("position 9"), std::string::npos) << loaded.problems[0].message;
  EXPECT_NE(loaded.problems[0].message.find("the scene title is used as it is"), std::string::npos);
  EXPECT_TRUE(loaded.usable());
  const auto d = fieldsync::prepare(scene(), loaded.settings).desired;
  EXPECT_EQ(d.title, "Sunset Walk");
  EXPECT_EQ(d.sort_title, "Studio North 2024-06-01");
}

TEST(TitleTemplate, PreparedTitlesAreSanitizedAndCapped) {
  auto s = scene();
  s.title = std::string(400, 'x') + "\x01";
  config::Settings settings;
  settings.title_template = "{studio} - {title}";
  const auto d = fieldsync::prepare(s, settings).desired;
  ASSERT_TRUE(d.title);
  EXPECT_LE(d.title->size(), fieldsync::k_line_limit.max_bytes);
  EXPECT_EQ(d.title->rfind("Studio North - xxx", 0), 0U);
  EXPECT_EQ(d.title->find('\x01'), std::string::npos);
}

// Any text either parses or yields an error that names a position within it; never a crash.
RC_GTEST_PROP(TitleTemplateProperty, ParsesOrNamesAPosition, ()) {
  const auto pieces = *rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
      "{", "}", "{{", "}}", "|", "{title}", "{date|code}", "{nope}", " - ", "Été", "x", "{ year }", "{performers"));
  std::string text;
  for (const auto& p : pieces) {
    text += p;
  }
  const auto parsed = config::parse_title_template(text);
  if (parsed) {
    RC_ASSERT(parsed->literals.size() == parsed->fields.size() + 1);
    RC_ASSERT(!parsed->fields.empty());
    (void)fieldsync::render_title(*parsed, scene());
  } else {
    const auto& m = parsed.error().message;
    RC_ASSERT(m.rfind("position ", 0) == 0U);
    const auto pos = std::stoul(m.substr(9));
    RC_ASSERT(pos >= 1U);
    RC_ASSERT(pos <= text.size() + 1);
  }
}

} // namespace

namespace {

// docs/settings.md's examples (generated by `plexsync settings-doc`) say what each template makes
// of the sample scene above: each row is filled here and must give its documented result.
TEST(TitleTemplateDocs, EveryExampleGivesItsDocumentedResult) {
  const auto rows =
      testing_support::doc_table_rows(config::render_settings_doc(), "## Examples: titles from templates");
  for (const auto& cells : rows) {
    ASSERT_EQ(cells.size(), 4U); // | wish | `key` | `template` | result |
    EXPECT_EQ(fill(cells[2]), cells[3]) << cells[0];
  }
  EXPECT_GE(rows.size(), 6U);
}

} // namespace
