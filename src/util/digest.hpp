// Content hashes: a poster is uploaded again only when its SHA-1 changed (Plex names uploads by it).
#pragma once

#include <string>

namespace util {

std::string sha1_hex(const std::string& bytes);

} // namespace util
