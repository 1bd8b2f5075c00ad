// Helpers shared by the *_win.cpp files only: UTF-8 <-> UTF-16 for the W APIs, and an error code
// in words. Never included by portable code.
#pragma once

#ifndef _WIN32
#error "util/win32.hpp is for the Windows build only"
#endif

#include <windows.h>

#include <string>
#include <string_view>

namespace util::win32 {

std::wstring widen(std::string_view utf8);
std::string narrow(std::wstring_view utf16);
// FormatMessage's text for code, without the trailing period and line break.
std::string error_text(DWORD code);

} // namespace util::win32
