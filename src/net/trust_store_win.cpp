#include <windows.h>

#include <wincrypt.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/http.hpp"
#include "net/trust_store.hpp"
#include "util/process.hpp"

namespace net {
namespace {

constexpr const char* k_store_name = "the Windows certificate store";

// Every certificate of one system store (ROOT: trusted roots; CA: intermediates) into OpenSSL's.
int import_store(const wchar_t* name, X509_STORE* into) {
  const HCERTSTORE store = CertOpenSystemStoreW(0, name);
  if (store == nullptr) {
    return 0;
  }
  int imported = 0;
  const CERT_CONTEXT* cert = nullptr;
  while ((cert = CertEnumCertificatesInStore(store, cert)) != nullptr) {
    const unsigned char* der = cert->pbCertEncoded;
    X509* x509 = d2i_X509(nullptr, &der, static_cast<long>(cert->cbCertEncoded));
    if (x509 != nullptr) {
      imported += X509_STORE_add_cert(into, x509) == 1 ? 1 : 0; // a duplicate is not an error
      X509_free(x509);
    }
  }
  CertCloseStore(store, 0);
  return imported;
}

} // namespace

// Windows has no bundle file: only SSL_CERT_FILE names one.
std::string discover_ca_bundle(const std::string& /*root*/) {
  auto env = util::environment_variable("SSL_CERT_FILE");
  return env ? *env : std::string();
}

TrustLoad load_default_trust(SSL_CTX* ctx) {
  if (const auto bundle = discover_ca_bundle(); !bundle.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, bundle.c_str(), nullptr) != 1) {
      return {bundle, "cannot load the CA certificates in " + bundle +
                          ": point plex_ca_file or SSL_CERT_FILE at a readable PEM file"};
    }
    return {bundle, ""};
  }
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  const int roots = import_store(L"ROOT", store);
  (void)import_store(L"CA", store);
  if (roots == 0) {
    return {k_store_name, "cannot read any trusted root from " + std::string(k_store_name) +
                              ": set plex_ca_file to the CA certificate that signed Plex's certificate"};
  }
  return {k_store_name, ""};
}

std::string default_trust_source() {
  const auto bundle = discover_ca_bundle();
  return bundle.empty() ? k_store_name : bundle;
}

std::string default_trust_hint() {
  return "set plex_ca_file to the CA certificate that signed Plex's certificate, or add that CA to the Windows "
         "certificate store (Trusted Root Certification Authorities)";
}

} // namespace net
