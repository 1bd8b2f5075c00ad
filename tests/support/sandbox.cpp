#include "support/sandbox.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace testing_support {

void SandboxedTest::SetUp() {
  std::string templ = (std::filesystem::temp_directory_path() / "plexsync-test-XXXXXX").string();
  dir_ = mkdtemp(templ.data());
}

void SandboxedTest::TearDown() {
  if (!HasFailure()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  } else {
    std::fprintf(stderr, "sandbox kept for inspection: %s\n", dir_.c_str());
  }
}

void SimulatorsTest::SetUp() {
  SandboxedTest::SetUp();
  plex_server_ = net::start_server("127.0.0.1", 0, [this](const net::ServerRequest& r) { return plex_.handle(r); });
  stash_server_ = net::start_server("127.0.0.1", 0, [this](const net::ServerRequest& r) { return stash_.handle(r); });
}

void SimulatorsTest::TearDown() {
  plex_server_->stop();
  stash_server_->stop();
  SandboxedTest::TearDown();
}

std::string shared_dir() {
  const char* env = std::getenv("PLEXSYNC_SHARED");
  return env != nullptr ? env : PLEXSYNC_DEFAULT_SHARED;
}

std::string plexsync_bin() {
  const char* env = std::getenv("PLEXSYNC_BIN");
  return env != nullptr && *env != '\0' ? env : PLEXSYNC_DEFAULT_BIN;
}

std::string tls_file(const std::string& name) {
  return std::string(PLEXSYNC_SOURCE_DIR) + "/tests/data/tls/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace testing_support
