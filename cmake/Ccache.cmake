# ccache for every preset's C++ compiler when it is installed (scripts/setup.sh installs it): a
# warm rebuild of an unchanged file is a cache hit, also from a fresh clone in another folder
# (paths under the source tree are hashed relative to it; the build folder is not hashed). The
# sloppiness lets GCC's precompiled headers be cached. PLEXSYNC_CCACHE=OFF turns it off.
option(PLEXSYNC_CCACHE "Compile through ccache when it is installed" ON)
find_program(CCACHE_PROGRAM ccache)
if(PLEXSYNC_CCACHE AND CCACHE_PROGRAM AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} CCACHE_NOHASHDIR=1
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime ${CCACHE_PROGRAM})
endif()
