#include "util/path.hpp"

namespace util {

std::filesystem::path fs_path(const std::string& utf8) {
  return {std::u8string(utf8.begin(), utf8.end())};
}

std::string utf8_path(const std::filesystem::path& path) {
  const auto text = path.u8string();
  return {text.begin(), text.end()};
}

std::string parent_dir(const std::string& utf8) {
  return utf8_path(fs_path(utf8).parent_path());
}

} // namespace util
