// The static binary in a root file system with nothing else: no shared libraries, no /proc, no
// /dev, no /usr; only the plugin folder, /etc/hosts, /etc/resolv.conf and Alpine's CA bundle
// path. Names resolve through /etc/hosts, TLS trusts the bundle, the hook starts the worker and
// the worker syncs a scene over HTTPS. Needs root for chroot(2); CI runs as root.
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>

#include "plugin_folder_fixture.hpp"

namespace {

using testing_support::tls_file;

namespace fs = std::filesystem;

// True when the ELF file asks for no program interpreter (no dynamic loader, no shared libraries).
bool is_static_executable(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char ident[64] = {};
  in.read(reinterpret_cast<char*>(ident), sizeof ident);
  if (!in || ident[0] != 0x7f || ident[1] != 'E' || ident[4] != 2 /* ELFCLASS64 */) {
    return false;
  }
  const auto u64 = [&](int at) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) {
      v = (v << 8) | ident[at + i];
    }
    return v;
  };
  const uint64_t phoff = u64(32);
  const unsigned phentsize = ident[54] | (ident[55] << 8);
  const unsigned phnum = ident[56] | (ident[57] << 8);
  for (unsigned i = 0; i < phnum; ++i) {
    in.seekg(static_cast<std::streamoff>(phoff + uint64_t{i} * phentsize));
    unsigned char type[4] = {};
    in.read(reinterpret_cast<char*>(type), 4);
    if (type[0] == 3 && type[1] == 0 && type[2] == 0 && type[3] == 0) { // PT_INTERP
      return false;
    }
  }
  return true;
}

class EmptyChroot : public testing_support::PluginFolderTest {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    if (::geteuid() != 0) {
      GTEST_SKIP() << "chroot(2) needs root; CI runs as root";
    }
    if (!is_static_executable(bin_)) {
      GTEST_SKIP() << bin_ << " is dynamically linked (sanitizer build); the release suite runs this test";
    }
    // dir_ becomes the root: it holds plugins/PlexSync (the installed plugin) and nothing else.
    fs::create_directories(dir_ + "/etc/ssl");
    std::ofstream(dir_ + "/etc/hosts") << "127.0.0.1 localhost\n::1 localhost\n";
    std::ofstream(dir_ + "/etc/resolv.conf") << "nameserver 127.0.0.1\n";
    fs::copy_file(tls_file("test-ca.pem"), dir_ + "/etc/ssl/cert.pem"); // Alpine's bundle path
    serve_plex_over_https();
    plex_.generate(5);
    stash_.generate(5);
    stash_.set_plugin_settings("PlexSync",
                               settings({{"plex_url", "https://localhost:" + std::to_string(plex_server_->port())},
                                         {"worker_idle_seconds", 1},
                                         {"plex_requests_per_second", 1000}}));
  }

  // The plugin as Stash would run it inside that root, with an empty environment.
  testing_support::ProcessResult run_inside(const std::string& args_json) {
    const auto input = R"({"server_connection":{"Scheme":"http","Host":"localhost","Port":)" +
                       std::to_string(stash_port()) + R"(,"SessionCookie":{"Name":"session","Value":")" + cookie_ +
                       R"("},"PluginDir":"/plugins/PlexSync"},"args":)" + args_json + "}";
    return testing_support::run_process({"/usr/sbin/chroot", dir_, "/plugins/PlexSync/plexsync", "plugin"}, input, {},
                                        std::chrono::seconds(60), false);
  }
};

TEST_F(EmptyChroot, TheRootHoldsNoLibrariesAtAll) {
  for (const auto* dir : {"/lib", "/lib64", "/usr", "/proc", "/dev", "/bin"}) {
    EXPECT_FALSE(fs::exists(dir_ + dir)) << dir;
  }
  const auto version = testing_support::run_process(
      {"/usr/sbin/chroot", dir_, "/plugins/PlexSync/plexsync", "--version"}, "", {}, std::chrono::seconds(20), false);
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("plexsync ", 0), 0U) << version.out;
}

TEST_F(EmptyChroot, AHookSyncsASceneOverHttpsWithNamesFromEtcHosts) {
  const auto health = run_inside(R"({"mode":"health_check"})");
  EXPECT_EQ(health.exit_code, 0) << health.out << health.err;
  const auto hooked = run_inside(
      R"({"hookContext":{"id":3,"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"})");
  ASSERT_EQ(hooked.exit_code, 0) << hooked.out << hooked.err;
  EXPECT_NE(hooked.out.find("\"queued\":true"), std::string::npos) << hooked.out;
  const auto title = stash_.scene("3")->at("title").get<std::string>();
  EXPECT_TRUE(testing_support::wait_for([&] { return plex_.item_json("10002").value("title", "") == title; },
                                        std::chrono::seconds(30)))
      << testing_support::read_file(data_ + "/plexsync.log");
}

} // namespace
