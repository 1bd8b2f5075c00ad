#include "sim/library.hpp"

#include <array>

namespace sim {

GeneratedFile generated_file(int i, const std::string& root) {
  static constexpr std::array<const char*, 4> k_studios = {"Harbor Light Studio", "Studio Ünïcode", "Ōkami Pictures",
                                                           "Nordlicht Studios"};
  static constexpr std::array<const char*, 5> k_folders = {"A-M", "N-Z", "日本語 フォルダ", "Été & more", "#1 picks"};
  const auto n = static_cast<size_t>(i);
  GeneratedFile f;
  f.studio = k_studios[n % k_studios.size()];
  // Every 7th basename repeats in another folder, as real libraries do.
  f.name_no = (i % 7 == 6) ? i - 1 : i;
  f.path = (i % 5 == 4) ? std::string("/mnt/nas2/Adult Archive") : root;
  f.path += '/';
  f.path += f.studio;
  f.path += '/';
  f.path += k_folders[n % k_folders.size()];
  f.path += "/Scene ";
  f.path += std::to_string(f.name_no);
  f.path += " [1080p].mp4";
  f.size = 100000000 + int64_t{i};
  f.duration_ms = 1800000 + int64_t{i};
  return f;
}

} // namespace sim
