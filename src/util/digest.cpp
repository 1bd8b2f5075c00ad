#include "util/digest.hpp"

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
