# Strict for developers, -Werror only in CI (CI=true), never applied to third-party code.
add_library(plexsync_warnings INTERFACE)
target_compile_options(plexsync_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(DEFINED ENV{CI} OR PLEXSYNC_WERROR)
  target_compile_options(plexsync_warnings INTERFACE -Werror)
endif()
