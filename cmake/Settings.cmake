# Language level and build-type switches shared by every first-party target.
add_library(plexsync_settings INTERFACE)
target_compile_features(plexsync_settings INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)
target_compile_definitions(plexsync_settings INTERFACE
  PLEXSYNC_VERSION="${PROJECT_VERSION}"
  $<$<CONFIG:Debug>:_GLIBCXX_ASSERTIONS>
  BOOST_BEAST_USE_STD_STRING_VIEW)
if(ENABLE_SANITIZERS)
  target_compile_options(plexsync_settings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                         -fno-sanitize-recover=undefined)
  target_link_options(plexsync_settings INTERFACE -fsanitize=address,undefined)
endif()
if(ENABLE_FUZZING)
  # Coverage instrumentation for everything the fuzz targets reach; the targets add the main.
  target_compile_options(plexsync_settings INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(plexsync_settings INTERFACE -fsanitize=address,undefined)
endif()
if(WIN32)
  # <windows.h> without winsock 1 (Asio includes winsock2) and without min/max macros; Windows 10
  # APIs; utf8proc linked statically.
  target_compile_definitions(plexsync_settings INTERFACE WIN32_LEAN_AND_MEAN NOMINMAX _WIN32_WINNT=0x0A00
                                                         UTF8PROC_STATIC)
endif()
