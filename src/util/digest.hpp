// Content hashes: a poster is uploaded again only when its SHA-1 changed (Plex names uploads by it).
#pragma once

#include <cstddef>
#include <string>

namespace util {

std::string sha1_hex(const std::string& bytes);

} // namespace util

namespace util {

// HMAC-SHA256 of message under key (raw bytes in and out).
std::string hmac_sha256(const std::string& key, const std::string& message);
// Cryptographically random bytes from OpenSSL's generator; empty if it fails.
std::string random_bytes(size_t count);
// Compares without an early exit, so timing does not reveal how much of a secret matched.
bool constant_time_equal(const std::string& a, const std::string& b);
// RFC 4648 base64url without padding.
std::string base64url(const std::string& bytes);

} // namespace util
