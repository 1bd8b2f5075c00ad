// The certificates a TLS client trusts when no CA file is configured (plex_ca_file). POSIX
// (trust_store_posix.cpp): $SSL_CERT_FILE, else the distribution's bundle file. Windows
// (trust_store_win.cpp): $SSL_CERT_FILE, else the Windows certificate store (ROOT and CA),
// imported into OpenSSL: there is no bundle file on Windows and a static OpenSSL's built-in
// directory is the build machine's.
#pragma once

#include <string>

using SSL_CTX = struct ssl_ctx_st;

namespace net {

struct TrustLoad {
  std::string source; // what was trusted, for messages: a file, or "the Windows certificate store"
  std::string error;  // empty when loaded
};

TrustLoad load_default_trust(SSL_CTX* ctx);

// What load_default_trust would use, for Health check and doctor; empty when nothing is found.
std::string default_trust_source();

// What a person should set when the default trust is missing or wrong, in this OS's words.
std::string default_trust_hint();

} // namespace net
