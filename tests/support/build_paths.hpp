// Folders of this checkout and build, as CMake knew them (tests/support/build_paths.cpp).
#pragma once

#include <string>

namespace testing_support {

// The repository's root (tests/data/, docs/ are under it).
std::string source_dir();
// The plugin binary the build assembled (dist/PlexSync/plexsync in the build folder).
std::string default_plexsync_bin();
// Where the build packages PlexSync.zip and index.yml (the e2e package test reads them).
std::string package_dir();

} // namespace testing_support
