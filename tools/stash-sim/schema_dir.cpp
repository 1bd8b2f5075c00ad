// The schema folder compiled in (tools/CMakeLists.txt), unless $STASHSIM_SCHEMA_DIR names another.
#include <cstdlib>

#include "stashsim.hpp"

namespace stashsim {

std::string default_schema_dir() {
  if (const char* env = std::getenv("STASHSIM_SCHEMA_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return STASHSIM_SCHEMA_DIR;
}

} // namespace stashsim
