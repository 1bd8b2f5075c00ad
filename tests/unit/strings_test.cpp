#include <gtest/gtest.h>

#include "net/http.hpp"
#include "util/strings.hpp"

TEST(Strings, PercentEncodeLeavesOnlyUnreservedCharacters) {
  EXPECT_EQ(util::percent_encode("Q&A, Extended"), "Q%26A%2C%20Extended");
  EXPECT_EQ(util::percent_encode("a+b#1/=%"), "a%2Bb%231%2F%3D%25");
  EXPECT_EQ(util::percent_encode("Zoë"), "Zo%C3%AB");
  EXPECT_EQ(util::percent_encode("safe-_.~"), "safe-_.~");
}

TEST(Strings, ParseQueryDecodesKeysValuesAndPlus) {
  const auto q = util::parse_query("genre%5B0%5D.tag.tag=Golden+Hour&title.value=a%2Bb&flag&x=");
  ASSERT_EQ(q.size(), 4U);
  EXPECT_EQ(q[0].first, "genre[0].tag.tag");
  EXPECT_EQ(q[0].second, "Golden Hour");
  EXPECT_EQ(q[1].second, "a+b");
  EXPECT_EQ(q[2].first, "flag");
  EXPECT_EQ(q[3].second, "");
}

TEST(Strings, PercentDecodeKeepsMalformedEscapes) {
  EXPECT_EQ(util::percent_decode("100%", false), "100%");
  EXPECT_EQ(util::percent_decode("%zz%4", false), "%zz%4");
}

TEST(Strings, BasenameAndDirnameHandleBothSeparators) {
  EXPECT_EQ(util::basename("/a/b/c.mp4"), "c.mp4");
  EXPECT_EQ(util::basename("M:\\Media\\x.mkv"), "x.mkv");
  EXPECT_EQ(util::dirname("/a/b/c.mp4"), "/a/b");
}

TEST(Url, ParsesHostPortAndBasePath) {
  auto u = net::Url::parse("https://plex.example:32400/base/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "plex.example");
  EXPECT_EQ(u->port, 32400);
  EXPECT_EQ(u->base_path, "/base");
  auto v6 = net::Url::parse("http://[::1]:9999");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->display(), "http://[::1]:9999");
  EXPECT_EQ(net::Url::parse("http://h")->port, 80);
}

TEST(Url, RejectsWithMessagesThatNameTheProblem) {
  EXPECT_EQ(net::Url::parse("plex:32400").error().message, "must start with http:// or https://, got 'plex:32400'");
  EXPECT_EQ(net::Url::parse("http://h:99999").error().message, "has an invalid port '99999'");
  EXPECT_EQ(net::Url::parse("http://user:pw@h").error().message,
            "must not contain credentials (user:password@); use the token setting");
  EXPECT_FALSE(net::Url::parse("http://h/?X-Plex-Token=1"));
}

TEST(Strings, AllDigitsIsNonEmptyAsciiDigitsWithinALength) {
  EXPECT_TRUE(util::all_digits("0123456789"));
  EXPECT_FALSE(util::all_digits(""));
  EXPECT_FALSE(util::all_digits("12a"));
  EXPECT_FALSE(util::all_digits("\"3\""));
  EXPECT_FALSE(util::all_digits("-1"));
  EXPECT_FALSE(util::all_digits("\xd9\xa3")); // ARABIC-INDIC DIGIT THREE is not an ASCII digit
  EXPECT_TRUE(util::all_digits(std::string(18, '9'), 18));
  EXPECT_FALSE(util::all_digits(std::string(19, '9'), 18));
}
