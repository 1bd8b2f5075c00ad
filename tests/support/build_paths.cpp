// The checkout's and the build's folders, compiled into this one small file only (outside the
// unity units, tests/CMakeLists.txt): a path in a compile definition shared by every test file
// would make each of them a ccache miss in a clone at another path.
#include "support/build_paths.hpp"

namespace testing_support {

std::string source_dir() {
  return PLEXSYNC_SOURCE_DIR;
}

std::string default_plexsync_bin() {
  return PLEXSYNC_DEFAULT_BIN;
}

std::string package_dir() {
  return PLEXSYNC_PACKAGE_DIR;
}

} // namespace testing_support
