// File names cross into std::filesystem here and nowhere else. PlexSync keeps every path as UTF-8
// in a std::string; a std::filesystem::path made from a plain std::string is read in the C
// locale's code page on Windows (libstdc++ on mingw turns "ü" into "Ã¼"), so each conversion
// goes through char8_t. On Linux and macOS both functions are byte-for-byte copies.
#pragma once

#include <filesystem>
#include <string>

namespace util {

std::filesystem::path fs_path(const std::string& utf8);
std::string utf8_path(const std::filesystem::path& path);
// The folder that holds path (UTF-8 in, UTF-8 out).
std::string parent_dir(const std::string& utf8);

} // namespace util
