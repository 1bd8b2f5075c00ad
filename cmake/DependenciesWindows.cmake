# The Windows build's libraries, as scripts/windows-deps.sh stages them in PLEXSYNC_WIN64_DEPS:
# static OpenSSL, SQLite and utf8proc built from Debian's source packages, and Debian's
# header-only libraries behind a staging include directory. Imported targets are made here rather
# than found: the Debian CMake configs of the header-only libraries would add /usr/include, and
# with it glibc's headers, to a Windows build.
set(PLEXSYNC_WIN64_DEPS ${CMAKE_SOURCE_DIR}/build/win64-deps CACHE PATH "scripts/windows-deps.sh output")
set(deps ${PLEXSYNC_WIN64_DEPS})
foreach(file lib/libssl.a lib/libcrypto.a lib/libsqlite3.a lib/libutf8proc.a include/openssl include/boost
    include/stb)
  if(NOT EXISTS ${deps}/${file})
    message(FATAL_ERROR "${deps}/${file} is missing: run scripts/windows-deps.sh (scripts/windows.sh does)")
  endif()
endforeach()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

add_library(OpenSSL::Crypto STATIC IMPORTED)
set_target_properties(OpenSSL::Crypto PROPERTIES IMPORTED_LOCATION ${deps}/lib/libcrypto.a
  INTERFACE_INCLUDE_DIRECTORIES ${deps}/include INTERFACE_LINK_LIBRARIES "ws2_32;crypt32;advapi32;user32")
add_library(OpenSSL::SSL STATIC IMPORTED)
set_target_properties(OpenSSL::SSL PROPERTIES IMPORTED_LOCATION ${deps}/lib/libssl.a
  INTERFACE_INCLUDE_DIRECTORIES ${deps}/include INTERFACE_LINK_LIBRARIES OpenSSL::Crypto)

foreach(target Boost::headers nlohmann_json::nlohmann_json tl::expected CLI11::CLI11)
  add_library(${target} INTERFACE IMPORTED)
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${deps}/include)
endforeach()
# Asio's Windows sockets; shell32 for CommandLineToArgvW (util/process_win.cpp).
set_target_properties(Boost::headers PROPERTIES INTERFACE_LINK_LIBRARIES "ws2_32;mswsock;shell32")

set(SQLITE3_INCLUDE ${deps}/include)
set(UTF8PROC_INCLUDE ${deps}/include)
set(STB_INCLUDE ${deps}/include/stb)
set(SQLITE3_LIB ${deps}/lib/libsqlite3.a)
set(UTF8PROC_LIB ${deps}/lib/libutf8proc.a)
