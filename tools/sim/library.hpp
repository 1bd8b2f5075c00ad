// The generated sample library both simulators share: item i of plexsim and scene i+1 of
// stashsim describe the same file (path, size, duration), so every scene has its Plex item.
#pragma once

#include <cstdint>
#include <string>

namespace sim {

struct GeneratedFile {
  std::string studio;
  std::string path;
  int name_no = 0; // the "Scene N" in the file name (every 7th repeats the one before)
  int64_t size = 0;
  int64_t duration_ms = 0;
};

// root: where most files live; every 5th is under "/mnt/nas2/Adult Archive" instead.
GeneratedFile generated_file(int i, const std::string& root = "/media/adult");

} // namespace sim
