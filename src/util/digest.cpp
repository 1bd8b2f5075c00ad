#include "util/digest.hpp"

#include <cstdint>

#include <openssl/evp.h>

#include "util/strings.hpp"

namespace util {

std::string sha1_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha1(), nullptr);
  return hex(std::string(reinterpret_cast<const char*>(digest), len));
}

} // namespace util

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace util {

std::string hmac_sha256(const std::string& key, const std::string& message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), out, &len);
  return {reinterpret_cast<const char*>(out), len};
}

std::string random_bytes(size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    return {};
  }
  return out;
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64url(const std::string& bytes) {
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (const unsigned char c : bytes) {
    acc = (acc << 8U) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += k_alphabet[(acc >> static_cast<unsigned>(bits)) & 0x3FU];
    }
  }
  if (bits > 0) {
    out += k_alphabet[(acc << static_cast<unsigned>(6 - bits)) & 0x3FU];
  }
  return out;
}

} // namespace util
