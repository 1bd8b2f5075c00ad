// Test fixtures: a temporary directory removed only when the test passed (kept for debugging),
// and running simulators on loopback ports.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "net/server.hpp"
#include "plexsim.hpp"
#include "stashsim.hpp"
#include "store/db.hpp"

namespace testing_support {

class SandboxedTest : public ::testing::Test {
protected:
  void SetUp() override;
  void TearDown() override;
  std::string dir_;
};

// A sandbox with the PlexSync database opened in it.
class DatabaseTest : public SandboxedTest {
protected:
  void SetUp() override {
    SandboxedTest::SetUp();
    auto opened = store::Db::open(dir_);
    ASSERT_TRUE(opened) << opened.error().message;
    db_.emplace(std::move(*opened));
  }
  std::optional<store::Db> db_;
};

// Both simulators started in-process on free loopback ports.
class SimulatorsTest : public SandboxedTest {
protected:
  void SetUp() override;
  void TearDown() override;
  std::string plex_url() const { return "http://127.0.0.1:" + std::to_string(plex_server_->port()); }
  std::string stash_url() const { return "http://127.0.0.1:" + std::to_string(stash_server_->port()); }
  uint16_t stash_port() const { return stash_server_->port(); }

  plexsim::PlexSim plex_;
  stashsim::StashSim stash_;
  std::unique_ptr<net::HttpServer> plex_server_;
  std::unique_ptr<net::HttpServer> stash_server_;
};

// A folder or file under tests/data/ (fixtures, Stash's schemas, Plex's OpenAPI description); the
// repository holds every file a test reads. data_path checks that it exists, data_file reads it;
// both throw (failing the test) with the path and the reason when it cannot be had.
std::string data_path(const std::string& relative);
std::string data_file(const std::string& relative);
// The assembled plugin binary (dist/PlexSync/plexsync) the e2e tests install and run.
std::string plexsync_bin();
std::string read_file(const std::string& path);
// A file of the test-only CA and plexsim's certificate (tests/data/tls).
std::string tls_file(const std::string& name);

} // namespace testing_support
