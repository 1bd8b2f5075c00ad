#include "support/sandbox.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/build_paths.hpp"

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

std::string data_path(const std::string& relative) {
  std::string path = source_dir();
  path += "/tests/data/" + relative;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw std::runtime_error("test data missing: " + path + " (" + (ec ? ec.message() : "no such file or folder") +
                             "); every file a test reads lives in tests/data/ (see its README)");
  }
  return path;
}

std::string data_file(const std::string& relative) {
  const std::string path = data_path(relative);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("test data unreadable: " + path + " (" + std::strerror(errno) + ")");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string plexsync_bin() {
  const char* env = std::getenv("PLEXSYNC_BIN");
  return env != nullptr && *env != '\0' ? env : default_plexsync_bin();
}

std::string tls_file(const std::string& name) {
  return data_path("tls/" + name);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace testing_support
