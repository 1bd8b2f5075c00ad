// The sweep the end-to-end suite ends every test with must find what it looks for.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/sandbox.hpp"
#include "support/secret_sweep.hpp"

namespace {

using SecretSweepTest = testing_support::SandboxedTest;

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST_F(SecretSweepTest, FindsEachSecretWhereverItWasLeaked) {
  std::filesystem::create_directories(dir_ + "/data");
  write(dir_ + "/data/plexsync.log", "I ok\nE token=tok-123 was refused\n");
  write(dir_ + "/data/plexsync.db", "tok-123 key-9"); // the settings live in the database
  write(dir_ + "/data/plexsync.db-wal", "tok-123");
  write(dir_ + "/clean.txt", "nothing here");
  testing_support::SecretSweep sweep({{"token", "tok-123"}, {"key", "key/9"}});
  sweep.text("stdout", "{\"error\":null}");
  sweep.text("stderr", "ApiKey key/9");
  sweep.directory(dir_);
  sim::RecordedRequest r;
  r.method = "GET";
  r.path = "/library/sections";
  r.query = {{"X-Plex-Token", "tok-123"}};
  sweep.requests("Plex", {r});
  sweep.text("a URL", "/graphql?key=key%2F9");
  EXPECT_EQ(sweep.places(), 6U);
  const std::vector<std::string> expected = {"key in stderr", "token in " + dir_ + "/data/plexsync.log",
                                             "token in Plex request GET /library/sections", "key in a URL"};
  EXPECT_EQ(sweep.leaks(), expected);
}

} // namespace
