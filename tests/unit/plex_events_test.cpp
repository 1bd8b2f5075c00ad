// Readers of Plex's activity answers and webhooks (issue #27), and the time parser they rely on.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "activity/importer.hpp"
#include "activity/plex_events.hpp"
#include "util/utc_time.hpp"

namespace {

std::string multipart(const std::string& boundary, const std::vector<std::pair<std::string, std::string>>& parts) {
  std::string body;
  for (const auto& [disposition, content] : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; " + disposition + "\r\n\r\n" + content + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

TEST(PlexHistory, ReadsMoviesAndSkipsWhatCannotBeImported) {
  const auto mc = nlohmann::json::parse(R"({"size":5,"totalSize":9,"Metadata":[
    {"ratingKey":"10001","type":"movie","viewedAt":1796600000,"accountID":1},
    {"ratingKey":10002,"type":"movie","viewedAt":"1796600100","accountID":"8000001"},
    {"ratingKey":"20001","type":"episode","viewedAt":1796600200,"accountID":1},
    {"type":"movie","viewedAt":1796600300,"accountID":1},
    {"ratingKey":"10003","type":"movie","viewedAt":0,"accountID":1}]})");
  const auto page = activity::history_from_json(mc);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->size, 5U);
  EXPECT_EQ(page->total, 9);
  ASSERT_EQ(page->entries.size(), 2U);
  EXPECT_EQ(page->entries[1].rating_key, "10002");
  EXPECT_EQ(page->entries[1].account_id, 8000001);
  EXPECT_EQ(page->entries[1].viewed_at, 1796600100);
  EXPECT_FALSE(activity::history_from_json(nlohmann::json::parse(R"({"Metadata":{"a":1}})")));
  EXPECT_FALSE(activity::history_from_json(nlohmann::json::array()));
  EXPECT_TRUE(activity::history_from_json(nlohmann::json::object())->entries.empty());
}

TEST(PlexAccounts, IdsAndNames) {
  const auto accounts = activity::accounts_from_json(nlohmann::json::parse(
      R"({"Account":[{"id":0,"name":""},{"id":1,"name":"owner"},{"id":"8000001","name":"Alice"},{"id":5}]})"));
  ASSERT_TRUE(accounts);
  EXPECT_EQ(accounts->size(), 2U);
  EXPECT_EQ(accounts->at(1), "owner");
  EXPECT_EQ(accounts->at(8000001), "Alice");
}

TEST(PlexWebhook, ReadsTheEventTheAccountAndTheItemsState) {
  const auto e = activity::webhook_event_from_text(R"({"event":"media.rate","rating":8.0,"user":true,"owner":true,
    "Account":{"id":12142596,"title":"someone"},"Metadata":{"ratingKey":"10001","type":"movie","userRating":6.0,
    "lastRatedAt":1796600000,"viewOffset":125000,"viewCount":2,"lastViewedAt":1796500000,"duration":1800000}})");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->event, "media.rate");
  EXPECT_TRUE(e->owner_self);
  EXPECT_EQ(e->account, "someone");
  EXPECT_EQ(e->rating_key, "10001");
  EXPECT_EQ(e->rating, 8.0) << "the top-level rating is the new one";
  EXPECT_EQ(e->state.view_offset_ms, 125000);
  EXPECT_EQ(e->state.last_rated_at, 1796600000);
  // A cleared rating: -1, or none at all.
  EXPECT_FALSE(activity::webhook_event_from_text(R"({"event":"media.rate","rating":-1,"Metadata":{}})")->rating);
  EXPECT_EQ(activity::webhook_event_from_text(R"({"event":"media.rate","Metadata":{"userRating":4}})")->rating, 4.0);
  // Another user's event on the owner's server.
  EXPECT_FALSE(activity::webhook_event_from_text(R"({"event":"media.stop","user":false,"owner":true})")->owner_self);
  EXPECT_FALSE(activity::webhook_event_from_text(R"({"user":true})"));
  EXPECT_FALSE(activity::webhook_event_from_text("[1,2]"));
  EXPECT_FALSE(activity::webhook_event_from_text("not json"));
}

TEST(Multipart, FindsThePayloadPartAndSkipsTheThumbnail) {
  const auto body = multipart("xYz", {{"name=\"thumb\"; filename=\"payload\"", "\xff\xd8 jpeg"},
                                      {"name=\"payload\"\r\nContent-Type: application/json", "{\"event\":\"x\"}"}});
  auto part = activity::multipart_part("multipart/form-data; boundary=xYz", body, "payload");
  ASSERT_TRUE(part) << part.error().message;
  EXPECT_EQ(*part, "{\"event\":\"x\"}");
  EXPECT_TRUE(activity::multipart_part("Multipart/Form-Data; boundary=\"xYz\"; charset=utf-8", body, "payload"));
  EXPECT_FALSE(activity::multipart_part("application/json", body, "payload"));
  EXPECT_FALSE(activity::multipart_part("multipart/form-data", body, "payload"));
  EXPECT_FALSE(activity::multipart_part("multipart/form-data; boundary=other", body, "payload"));
  EXPECT_FALSE(activity::multipart_part("multipart/form-data; boundary=xYz", body.substr(0, 60), "payload"));
  EXPECT_FALSE(activity::multipart_part("multipart/form-data; boundary=" + std::string(71, 'b'), body, "payload"));
  const auto only_thumb = multipart("b", {{"name=\"thumb\"; filename=\"payload\"", "jpeg"}});
  EXPECT_FALSE(activity::multipart_part("multipart/form-data; boundary=b", only_thumb, "payload"));
}

TEST(Ratings, PlexHalfStarsAndStashHundredsMapBothWays) {
  EXPECT_EQ(activity::to_rating100(7.0), 70);
  EXPECT_EQ(activity::to_rating100(3.5), 35);
  EXPECT_EQ(activity::to_rating100(12), 100);
  EXPECT_EQ(activity::to_rating100(-1), 0);
  EXPECT_DOUBLE_EQ(activity::to_plex_rating(73), 7.3);
  for (int r = 0; r <= 100; ++r) {
    EXPECT_EQ(activity::to_rating100(activity::to_plex_rating(r)), r);
  }
}

TEST(CountedAccounts, TrimsFoldsAndSplits) {
  const auto counted = activity::counted_accounts(" Alice , BOB,,  ");
  EXPECT_EQ(counted, (std::set<std::string>{"alice", "bob"}));
  EXPECT_TRUE(activity::counted_accounts("").empty());
}

TEST(Rfc3339, ZonesAndFractions) {
  EXPECT_EQ(util::parse_rfc3339("2026-12-07T10:00:00Z"), 1796637600);
  EXPECT_EQ(util::parse_rfc3339("2026-12-07T11:00:00+01:00"), 1796637600);
  EXPECT_EQ(util::parse_rfc3339("2026-12-07T05:30:00.123-04:30"), 1796637600);
  EXPECT_FALSE(util::parse_rfc3339("2026-12-07T10:00:00"));
  EXPECT_FALSE(util::parse_rfc3339("2026-12-07T10:00:00+1:00"));
  EXPECT_FALSE(util::parse_rfc3339("2026-12-07T10:00:00+24:00"));
  EXPECT_FALSE(util::parse_rfc3339("yesterday"));
}

} // namespace
