// Files as the spool and the log need them, one function per OS difference (file_posix.cpp,
// file_win.cpp). Paths are UTF-8.
#pragma once

#include <cstdio>
#include <string>

#include "util/expected.hpp"

namespace util {

// Writes content to tmp_path (which must not exist), flushes it to the disk, and renames it to
// final_path: after a crash or a power cut there is either no final_path or all of it. On
// failure tmp_path is removed and the error says why (a full disk says so).
Result<void> write_file_durably(const std::string& tmp_path, const std::string& final_path, const std::string& content);

// fopen with a UTF-8 path (on Windows through the UTF-16 API).
std::FILE* open_file(const std::string& path, const char* mode);

// Renames a file, replacing the target. On Windows a virus scanner or an indexer that has the
// file open makes a rename fail for a moment: it is retried briefly there.
bool rename_file(const std::string& from, const std::string& to);

// Files that hold secrets (the database keeps the Stash session cookie and API key, the log may
// name paths): readable by this user only. restrict_new_files() makes every file the process
// creates from then on 0600 (directories 0700) on POSIX; keep_private() narrows a file made
// earlier (by an older release). On Windows both do nothing: the plugin folder sits in the
// user's profile, whose inherited ACL already admits only that user and administrators.
void restrict_new_files();
void keep_private(const std::string& path);

// True when this user can create files in dir (checked by creating and removing one).
bool can_create_files_in(const std::string& dir);

} // namespace util
