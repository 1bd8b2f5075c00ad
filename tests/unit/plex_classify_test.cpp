#include <gtest/gtest.h>

#include "plex/client.hpp"

namespace {

net::Response status(int s, std::optional<std::string> retry_after = std::nullopt) {
  net::Response r;
  r.status = s;
  if (retry_after) {
    r.headers.push_back({"Retry-After", *retry_after});
  }
  return r;
}

TEST(Classify, StatusesMapToRetryDecisions) {
  EXPECT_FALSE(plex::classify(status(200), 0));
  EXPECT_EQ(plex::classify(status(500), 0)->kind, plex::Failure::transient_status);
  EXPECT_EQ(plex::classify(status(502), 0)->kind, plex::Failure::transient_status);
  EXPECT_EQ(plex::classify(status(503), 0)->kind, plex::Failure::transient_status);
  EXPECT_EQ(plex::classify(status(504), 0)->kind, plex::Failure::transient_status);
  EXPECT_EQ(plex::classify(status(429), 0)->kind, plex::Failure::rate_limited);
  EXPECT_EQ(plex::classify(status(401), 0)->kind, plex::Failure::auth);
  EXPECT_EQ(plex::classify(status(403), 0)->kind, plex::Failure::auth);
  EXPECT_EQ(plex::classify(status(404), 0)->kind, plex::Failure::not_found);
  EXPECT_EQ(plex::classify(status(400), 0)->kind, plex::Failure::permanent_status);
  EXPECT_EQ(plex::classify(status(409), 0)->kind, plex::Failure::permanent_status);
}

TEST(Classify, RetryAfterSecondsAndHttpDate) {
  EXPECT_EQ(plex::classify(status(429, "7"), 0)->retry_after_s, 7);
  // Sun, 06 Nov 1994 08:49:37 GMT = 784111777
  EXPECT_EQ(plex::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7);
  EXPECT_EQ(plex::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111999), 0);
  EXPECT_FALSE(plex::parse_retry_after("soon", 0));
  EXPECT_FALSE(plex::parse_retry_after("", 0));
}

TEST(Classify, TransportFailures) {
  using TF = net::TransportFailure;
  EXPECT_EQ(plex::classify(net::TransportError{TF::connect_refused, "x"}).kind, plex::Failure::connect);
  EXPECT_EQ(plex::classify(net::TransportError{TF::dns, "x"}).kind, plex::Failure::connect);
  EXPECT_EQ(plex::classify(net::TransportError{TF::reset, "x"}).kind, plex::Failure::connect);
  EXPECT_EQ(plex::classify(net::TransportError{TF::read_timeout, "x"}).kind, plex::Failure::timeout);
  EXPECT_EQ(plex::classify(net::TransportError{TF::connect_timeout, "x"}).kind, plex::Failure::timeout);
  EXPECT_EQ(plex::classify(net::TransportError{TF::deadline, "x"}).kind, plex::Failure::timeout);
  // An untrusted certificate is fixed in the settings, like a token: the queue waits for it.
  EXPECT_EQ(plex::classify(net::TransportError{TF::tls, "x"}).kind, plex::Failure::auth);
}

TEST(Classify, UnauthorizedMessageSaysWhatToFix) {
  EXPECT_EQ(
      plex::classify(status(401), 0)->message,
      "Plex answered HTTP 401: the token is missing, wrong or revoked; set plex_token to the server owner's token");
}

} // namespace
