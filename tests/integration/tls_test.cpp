// Plex over HTTPS: plexsim serves a certificate from a test CA (tests/data/tls). Verification is
// on unless switched off; a CA that did not sign the certificate, a host name the certificate
// does not name, or an unreadable CA file each fail with an error that says what to change.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include <gtest/gtest.h>

#include "plex/client.hpp"
#include "support/sandbox.hpp"

namespace {

using testing_support::tls_file;

// Sets (or unsets) one environment variable for the scope, then restores it.
class ScopedEnv {
public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name); old != nullptr) {
      old_ = old;
    }
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
  const char* name_;
  std::optional<std::string> old_;
};

class PlexOverTls : public testing_support::SandboxedTest {
protected:
  void SetUp() override {
    SandboxedTest::SetUp();
    plex_.generate(5);
    server_ = start_on("127.0.0.1");
  }
  void TearDown() override {
    server_->stop();
    SandboxedTest::TearDown();
  }

  std::unique_ptr<net::HttpServer> start_on(const std::string& host, const std::string& cert = "server") {
    return net::start_server(
        host, 0, [this](const net::ServerRequest& r) { return plex_.handle(r); },
        net::ServerTls{tls_file(cert + ".pem"), tls_file(cert + ".key")});
  }

  plex::Result<std::vector<plex::Section>> sections(const std::string& ca_file, bool verify = true,
                                                    const std::string& host = "127.0.0.1", uint16_t port = 0) {
    net::ClientOptions opts;
    opts.base = *net::Url::parse("https://" + host + ":" + std::to_string(port == 0 ? server_->port() : port));
    opts.connect_timeout_ms = 5000;
    opts.read_timeout_ms = 5000;
    opts.verify_tls = verify;
    opts.ca_file = ca_file;
    plex::PlexClient client(net::make_http_client(opts), "plexsim-token", {"test", "0"});
    return client.sections();
  }

  plexsim::PlexSim plex_;
  std::unique_ptr<net::HttpServer> server_;
};

TEST_F(PlexOverTls, TheCaThatSignedTheCertificateIsTrusted) {
  const auto s = sections(tls_file("test-ca.pem"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->empty());
}

TEST_F(PlexOverTls, VerificationIsOnByDefaultAgainstTheSystemBundle) {
  const ScopedEnv no_override("SSL_CERT_FILE", std::nullopt);
  const auto s = sections("");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, plex::Failure::auth) << "trust is configuration: the queue waits, nothing is dropped";
  EXPECT_NE(s.error().message.find("is not trusted (unable to get local issuer certificate, checked against " +
                                   net::discover_ca_bundle()),
            std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("set plex_ca_file to the CA certificate that signed it"), std::string::npos);
}

TEST_F(PlexOverTls, AnotherCaIsRejectedWithTheFix) {
  const auto s = sections(tls_file("other-ca.pem"));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("is not trusted"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("other-ca.pem"), std::string::npos) << s.error().message;
}

TEST_F(PlexOverTls, SslCertFileIsHonoured) {
  const ScopedEnv env("SSL_CERT_FILE", tls_file("test-ca.pem"));
  const auto s = sections("");
  ASSERT_TRUE(s) << s.error().message;
}

TEST_F(PlexOverTls, SwitchingVerificationOffAcceptsAnyCertificate) {
  const auto s = sections(tls_file("other-ca.pem"), false);
  ASSERT_TRUE(s) << s.error().message;
}

TEST_F(PlexOverTls, AHostNameTheCertificateDoesNotNameIsRejected) {
  // 127.0.0.2 is loopback too, but the certificate names only 127.0.0.1, localhost, plexsim.test.
  auto other = start_on("127.0.0.2");
  const auto s = sections(tls_file("test-ca.pem"), true, "127.0.0.2", other->port());
  other->stop();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("is issued neither for the address 127.0.0.2"), std::string::npos)
      << s.error().message;
  EXPECT_EQ(s.error().kind, plex::Failure::auth);
}

// Plex Media Server's own certificate names only *.<hash>.plex.direct. Plex's apps reach a server
// at 192.168.1.20 as 192-168-1-20.<hash>.plex.direct; PlexSync checks that name against the
// certificate without asking DNS for it (fidelity findings row 8).
TEST_F(PlexOverTls, PlexsOwnPlexDirectCertificateIsAcceptedForItsIpAddress) {
  auto plex_direct = start_on("127.0.0.1", "plexdirect");
  const auto s = sections(tls_file("test-ca.pem"), true, "127.0.0.1", plex_direct->port());
  EXPECT_TRUE(s) << s.error().message;
  // The same certificate from a CA nobody trusts is still refused...
  const auto untrusted = sections(tls_file("other-ca.pem"), true, "127.0.0.1", plex_direct->port());
  ASSERT_FALSE(untrusted);
  EXPECT_NE(untrusted.error().message.find("is not trusted"), std::string::npos) << untrusted.error().message;
  // ...and by a host name it does not carry, the name check is OpenSSL's usual one.
  const auto by_name = sections(tls_file("test-ca.pem"), true, "localhost", plex_direct->port());
  ASSERT_FALSE(by_name);
  EXPECT_NE(by_name.error().message.find("is not valid for the host name 'localhost'"), std::string::npos)
      << by_name.error().message;
  plex_direct->stop();
}

TEST_F(PlexOverTls, AnUnreadableCaFileSaysSo) {
  const auto s = sections(dir_ + "/missing.pem");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("cannot load the CA certificates in " + dir_ + "/missing.pem"), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("point plex_ca_file or SSL_CERT_FILE at a readable PEM file"), std::string::npos);
}

TEST_F(PlexOverTls, PlainHttpToAnHttpsPortFailsCleanly) {
  net::ClientOptions opts;
  opts.base = *net::Url::parse("http://127.0.0.1:" + std::to_string(server_->port()));
  opts.read_timeout_ms = 2000;
  opts.total_timeout_ms = 5000;
  plex::PlexClient client(net::make_http_client(opts), "plexsim-token", {"test", "0"});
  const auto s = client.sections();
  ASSERT_FALSE(s);
}

class CaBundleDiscovery : public testing_support::SandboxedTest {
protected:
  void put(const std::string& path) {
    std::filesystem::create_directories(std::filesystem::path(dir_ + path).parent_path());
    std::ofstream(dir_ + path) << "-----BEGIN CERTIFICATE-----\n";
  }
};

TEST_F(CaBundleDiscovery, FindsTheDebianAndAlpineBundlesAndHonoursSslCertFile) {
  const ScopedEnv no_override("SSL_CERT_FILE", std::nullopt);
  EXPECT_EQ(net::discover_ca_bundle(dir_), "") << "an empty root file system has no bundle";
  put("/etc/ssl/cert.pem"); // Alpine (ca-certificates-bundle)
  EXPECT_EQ(net::discover_ca_bundle(dir_), dir_ + "/etc/ssl/cert.pem");
  put("/etc/ssl/certs/ca-certificates.crt"); // Debian and Ubuntu; Alpine with ca-certificates too
  EXPECT_EQ(net::discover_ca_bundle(dir_), dir_ + "/etc/ssl/certs/ca-certificates.crt");
  const ScopedEnv env("SSL_CERT_FILE", "/somewhere/else.pem");
  EXPECT_EQ(net::discover_ca_bundle(dir_), "/somewhere/else.pem");
}

TEST_F(CaBundleDiscovery, EmptySslCertFileIsIgnored) {
  const ScopedEnv env("SSL_CERT_FILE", "");
  put("/etc/ssl/cert.pem");
  EXPECT_EQ(net::discover_ca_bundle(dir_), dir_ + "/etc/ssl/cert.pem");
}

} // namespace
