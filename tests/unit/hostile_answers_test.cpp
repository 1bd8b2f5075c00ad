// Answers whose shape surprises the code, and secrets pasted into URLs (issue #19).
#include <deque>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/plugin.hpp"
#include "net/http.hpp"
#include "plex/client.hpp"
#include "stash/scene.hpp"
#include "support/sandbox.hpp"
#include "util/log.hpp"
#include "util/url_secrets.hpp"

namespace {

TEST(UrlSecrets, TokensKeysPasswordsAndUserinfoAreFoundAndMasked) {
  const std::string pasted = "http://192.168.1.20:32400/web/index.html#!/server?X-Plex-Token=abcDEF123xyz&x=1";
  EXPECT_EQ(util::secrets_in_urls(pasted), std::vector<std::string>{"abcDEF123xyz"});
  EXPECT_EQ(util::mask_url_secrets(pasted),
            "http://192.168.1.20:32400/web/index.html#!/server?X-Plex-Token=<redacted>&x=1");
  EXPECT_EQ(util::mask_url_secrets("see https://me:hunter22@stash.local:9999/graphql?apikey=K3Y&page=2 now"),
            "see https://<redacted>@stash.local:9999/graphql?apikey=<redacted>&page=2 now");
  EXPECT_EQ(util::mask_url_secrets("plex_url 'http://plex:32400?x-plex-token=T0KEN'"),
            "plex_url 'http://plex:32400?x-plex-token=<redacted>'");
  // Ordinary URLs and text are left alone.
  for (const std::string plain : {"http://plex:32400/library/sections/1/all?type=1&sort=addedAt",
                                  "scene 12 -> Plex item 10011 (match 100, exact path)", "a?b=c&keyboard=1"}) {
    EXPECT_EQ(util::mask_url_secrets(plain), plain);
    EXPECT_TRUE(util::secrets_in_urls(plain).empty()) << plain;
  }
}

TEST(UrlSecrets, ARefusedPlexUrlDoesNotQuoteItsToken) {
  for (const std::string url : {"http://plex:32400?X-Plex-Token=s3cr3tTok", "http://plex:32400/?X-Plex-Token=s3cr3tTok",
                                "plex:32400/?X-Plex-Token=s3cr3tTok", "https://u:s3cr3tTok@plex:32400"}) {
    const auto parsed = net::Url::parse(url);
    ASSERT_FALSE(parsed) << url;
    EXPECT_EQ(parsed.error().message.find("s3cr3tTok"), std::string::npos) << parsed.error().message;
  }
}

TEST(UrlSecrets, TheLogMasksATokenPastedIntoAnyUrl) {
  EXPECT_EQ(util::log::redact("GET http://plex:32400/?X-Plex-Token=neverRegistered1 failed"),
            "GET http://plex:32400/?X-Plex-Token=<redacted> failed");
}

TEST(SceneVersions, NumericIdsAreReadAndOtherShapesAreErrorsNotExceptions) {
  const auto ok = stash::scene_versions_from_json(nlohmann::json::parse(
      R"({"findScenes":{"count":2,"scenes":[{"id":7,"updated_at":"2026-01-01T00:00:00Z"},{"id":"8","updated_at":null}]}})"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->count, 2);
  ASSERT_EQ(ok->scenes.size(), 2U);
  EXPECT_EQ(ok->scenes[0].first, "7");
  EXPECT_EQ(ok->scenes[1].first, "8");
  EXPECT_EQ(ok->scenes[1].second, "");
  for (const char* hostile :
       {R"(null)", R"([])", R"({"findScenes":[]})", R"({"findScenes":{"count":"2","scenes":[]}})",
        R"({"findScenes":{"count":1,"scenes":{"id":"1"}}})", R"({"findScenes":{"count":1,"scenes":[{"id":1.5}]}})",
        R"({"findScenes":{"count":1,"scenes":[null]}})", R"({"findScenes":{"count":1,"scenes":[{"id":{"n":1}}]}})"}) {
    const auto parsed = stash::scene_versions_from_json(nlohmann::json::parse(hostile));
    ASSERT_FALSE(parsed) << hostile;
    EXPECT_NE(parsed.error().message.find("Stash answered findScenes with"), std::string::npos);
  }
  const auto scene = stash::scene_from_json(nlohmann::json::parse(R"({"id":42,"title":"t"})"));
  ASSERT_TRUE(scene) << scene.error().message;
  EXPECT_EQ(scene->id, "42");
}

// Answers in the order given, then the last one again.
class ScriptedHttp : public net::HttpClient {
public:
  explicit ScriptedHttp(std::deque<net::Response> answers) : answers_(std::move(answers)) {}
  tl::expected<net::Response, net::TransportError> send(const net::Request& /*req*/) override {
    ++sent;
    auto r = answers_.front();
    if (answers_.size() > 1) {
      answers_.pop_front();
    }
    return r;
  }
  int sent = 0;

private:
  std::deque<net::Response> answers_;
};

net::Response answer(int status, std::string body, std::vector<net::Header> headers = {}) {
  net::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(PlexAnswers, XmlOnceIsReadAgainAndXmlTwiceIsABrokenAnswer) {
  const auto xml = answer(200, R"(<?xml version="1.0"?><MediaContainer machineIdentifier="m1"/>)");
  const auto json = answer(200, R"({"MediaContainer":{"machineIdentifier":"m1"}})");
  auto once = std::make_unique<ScriptedHttp>(std::deque<net::Response>{xml, json});
  auto* once_http = once.get();
  plex::PlexClient recovers(std::move(once), "tok-1234", {"id", "0"});
  const auto id = recovers.identity();
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "m1");
  EXPECT_EQ(once_http->sent, 2);

  plex::PlexClient stays(std::make_unique<ScriptedHttp>(std::deque<net::Response>{xml}), "tok-1234", {"id", "0"});
  const auto failed = stays.sections();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, plex::Failure::bad_response);
  EXPECT_NE(failed.error().message.find("Accept"), std::string::npos) << failed.error().message;
}

TEST(PlexAnswers, AWebPageIsCalledAWebPageNotXml) {
  // Issue #31: a login portal's page answering for Plex was reported as XML.
  for (const auto& page : {answer(200, "<!DOCTYPE html><html><body>Sign in</body></html>"),
                           answer(200, "<html><head><title>Router</title></head></html>"),
                           answer(200, "<div>captive portal</div>", {{"Content-Type", "text/html; charset=utf-8"}})}) {
    plex::PlexClient client(std::make_unique<ScriptedHttp>(std::deque<net::Response>{page, page}), "tok-1234",
                            {"id", "0"});
    const auto failed = client.identity();
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().kind, plex::Failure::bad_response);
    EXPECT_NE(failed.error().message.find("web page (HTML)"), std::string::npos) << failed.error().message;
    EXPECT_EQ(failed.error().message.find("XML"), std::string::npos) << failed.error().message;
  }
}

TEST(PlexAnswers, ARedirectToHttpsNamesTheUrlToUse) {
  const auto e = plex::classify(
      answer(301, "", {{"Location", "https://192-168-1-20.abcdef.plex.direct:32400/identity?X-Plex-Token=tokXYZ99"}}),
      0);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, plex::Failure::auth) << "settings, like the token: the queue pauses, no retries burned";
  EXPECT_NE(e->message.find("set plex_url to https://192-168-1-20.abcdef.plex.direct:32400"), std::string::npos)
      << e->message;
  EXPECT_EQ(e->message.find("tokXYZ99"), std::string::npos);
  const auto elsewhere = plex::classify(answer(302, "", {{"Location", "http://other/login?token=tokXYZ99"}}), 0);
  ASSERT_TRUE(elsewhere);
  EXPECT_EQ(elsewhere->message.find("tokXYZ99"), std::string::npos) << elsewhere->message;
}

class WorkerCrashes : public testing_support::SandboxedTest {};

TEST_F(WorkerCrashes, ThreeWithinTenMinutesStopTheHooksFromStartingWorkers) {
  const int64_t now = 1'800'000'000'000;
  EXPECT_TRUE(cli::recent_worker_crashes(dir_, now).empty());
  cli::record_worker_crash(dir_, now - 11 * 60 * 1000, "too old to count");
  cli::record_worker_crash(dir_, now - 60 * 1000, "type_error");
  cli::record_worker_crash(dir_, now - 1000, "type_error");
  EXPECT_EQ(cli::recent_worker_crashes(dir_, now).size(), 2U);
  cli::record_worker_crash(dir_, now, "type_error");
  const auto recent = cli::recent_worker_crashes(dir_, now);
  ASSERT_EQ(recent.size(), 3U);
  EXPECT_EQ(recent.back().value("message", ""), "type_error");
}

} // namespace
