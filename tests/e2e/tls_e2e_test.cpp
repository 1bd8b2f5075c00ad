// Plex behind HTTPS, with the plugin started as `env -i` would start it (no SSL_CERT_FILE, no
// HOME, no PATH): the binary must find the system CA bundle itself, refuse a certificate that
// bundle does not vouch for, and work with plex_ca_file or SSL_CERT_FILE.
#include <gtest/gtest.h>

#include "plugin_folder_fixture.hpp"

namespace {

using testing_support::tls_file;

class TlsE2E : public testing_support::PluginFolderTest {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    serve_plex_over_https();
    plex_.generate(5);
    stash_.generate(5);
  }

  nlohmann::json https_settings(const nlohmann::json& extra = nlohmann::json::object()) const {
    auto s = settings({{"plex_url", "https://127.0.0.1:" + std::to_string(plex_server_->port())},
                       {"worker_idle_seconds", 1},
                       {"plex_requests_per_second", 1000}});
    s.update(extra);
    return s;
  }

  nlohmann::json health(const std::map<std::string, std::string>& env, int expected_exit) {
    const auto r = run(R"({"mode":"health_check"})", env, false);
    EXPECT_EQ(r.exit_code, expected_exit) << r.err;
    return nlohmann::json::parse(r.out);
  }
};

TEST_F(TlsE2E, AnEmptyEnvironmentStillVerifiesAgainstTheSystemBundle) {
  stash_.set_plugin_settings("PlexSync", https_settings());
  const auto answer = health({}, 1);
  ASSERT_TRUE(answer.at("error").is_string()) << answer.dump();
  const auto error = answer.at("error").get<std::string>();
  EXPECT_NE(error.find("is not trusted (unable to get local issuer certificate, checked against " +
                       net::discover_ca_bundle()),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("set plex_ca_file"), std::string::npos) << error;
  EXPECT_EQ(error.find("that Plex is running"), std::string::npos) << "Plex is running; trust is the problem";
}

TEST_F(TlsE2E, SslCertFileIsHonouredUnderAnEmptyEnvironment) {
  stash_.set_plugin_settings("PlexSync", https_settings());
  const auto answer = health({{"SSL_CERT_FILE", tls_file("test-ca.pem")}}, 0);
  EXPECT_TRUE(answer.at("error").is_null()) << answer.dump();
  EXPECT_EQ(answer.at("output").at("plex").at("token_accepted"), true);
}

TEST_F(TlsE2E, PlexCaFileLetsTheDetachedWorkerSyncOverHttps) {
  stash_.set_plugin_settings("PlexSync", https_settings({{"plex_ca_file", tls_file("test-ca.pem")}}));
  const auto hooked =
      run(R"({"hookContext":{"id":2,"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"})",
          {}, false);
  ASSERT_EQ(hooked.exit_code, 0) << hooked.err;
  const auto title = stash_.scene("2")->at("title").get<std::string>();
  EXPECT_TRUE(testing_support::wait_for([&] { return plex_.item_json("10001").value("title", "") == title; },
                                        std::chrono::seconds(30)))
      << testing_support::read_file(data_ + "/plexsync.log");
}

TEST_F(TlsE2E, AWrongCaPausesTheQueueAndLosesNothing) {
  stash_.set_plugin_settings("PlexSync", https_settings({{"plex_ca_file", tls_file("other-ca.pem")}}));
  ASSERT_EQ(
      run(R"({"hookContext":{"id":3,"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"})",
          {}, false)
          .exit_code,
      0);
  const auto log_path = data_ + "/plexsync.log";
  ASSERT_TRUE(testing_support::wait_for(
      [&] { return testing_support::read_file(log_path).find("pausing the queue") != std::string::npos; },
      std::chrono::seconds(30)));
  EXPECT_NE(testing_support::read_file(log_path).find("is not trusted"), std::string::npos);
  const auto status = nlohmann::json::parse(run(R"({"mode":"queue_status"})", {}, false).out);
  EXPECT_EQ(status.at("output").at("dead"), 0) << status.dump();
  EXPECT_EQ(status.at("output").at("pending"), 1) << status.dump();
}

} // namespace
