#include <filesystem>

#include <openssl/ssl.h>

#include "net/http.hpp"
#include "net/trust_store.hpp"
#include "util/path.hpp"
#include "util/process.hpp"

namespace net {

std::string discover_ca_bundle(const std::string& root) {
  if (auto env = util::environment_variable("SSL_CERT_FILE"); env && !env->empty()) {
    return *env;
  }
  for (const char* candidate :
       {"/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem", "/etc/pki/tls/certs/ca-bundle.crt"}) {
    std::error_code ec;
    if (auto path = root + candidate; std::filesystem::is_regular_file(util::fs_path(path), ec)) {
      return path;
    }
  }
  return {};
}

TrustLoad load_default_trust(SSL_CTX* ctx) {
  const auto bundle = discover_ca_bundle();
  if (bundle.empty()) {
    // A static binary's built-in OpenSSL directory rarely exists on the host; say so if empty.
    (void)SSL_CTX_set_default_verify_paths(ctx);
    return {"OpenSSL's default paths (no CA bundle found at /etc/ssl/certs/ca-certificates.crt or /etc/ssl/cert.pem)",
            ""};
  }
  if (SSL_CTX_load_verify_locations(ctx, bundle.c_str(), nullptr) != 1) {
    return {bundle, "cannot load the CA certificates in " + bundle +
                        ": point plex_ca_file or SSL_CERT_FILE at a readable PEM file"};
  }
  return {bundle, ""};
}

std::string default_trust_source() {
  return discover_ca_bundle();
}

std::string default_trust_hint() {
  return "no CA bundle found (/etc/ssl/certs/ca-certificates.crt, /etc/ssl/cert.pem): set plex_ca_file or "
         "SSL_CERT_FILE";
}

} // namespace net
