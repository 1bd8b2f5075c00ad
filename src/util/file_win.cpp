#include "util/file.hpp"
#include "util/win32.hpp"

namespace util {
namespace {

bool disk_full(DWORD code) {
  return code == ERROR_DISK_FULL || code == ERROR_HANDLE_DISK_FULL;
}

// A scanner that opened a new file without FILE_SHARE_DELETE blocks a rename for a moment.
bool move_with_retries(const std::wstring& from, const std::wstring& to, DWORD* code) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (MoveFileExW(from.c_str(), to.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) != 0) {
      return true;
    }
    *code = GetLastError();
    if (*code != ERROR_SHARING_VIOLATION && *code != ERROR_ACCESS_DENIED && *code != ERROR_LOCK_VIOLATION) {
      return false;
    }
    Sleep(50);
  }
  return false;
}

} // namespace

Result<void> write_file_durably(const std::string& tmp_path, const std::string& final_path,
                                const std::string& content) {
  const auto tmp = win32::widen(tmp_path);
  const HANDLE h = CreateFileW(tmp.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    return fail("cannot write " + tmp_path + ": " + win32::error_text(GetLastError()));
  }
  DWORD written = 0;
  // FlushFileBuffers reaches the disk; NTFS journals the rename, so there is no directory to sync.
  const bool ok = WriteFile(h, content.data(), static_cast<DWORD>(content.size()), &written, nullptr) != 0 &&
                  written == content.size() && FlushFileBuffers(h) != 0;
  const DWORD code = ok ? ERROR_SUCCESS : GetLastError();
  CloseHandle(h);
  if (!ok) {
    (void)DeleteFileW(tmp.c_str());
    return fail("cannot write " + tmp_path + ": " + win32::error_text(code) +
                (disk_full(code) ? " (the disk holding the data directory is full: free some space)" : ""));
  }
  DWORD move_code = ERROR_SUCCESS;
  if (!move_with_retries(tmp, win32::widen(final_path), &move_code)) {
    (void)DeleteFileW(tmp.c_str());
    return fail("cannot write " + final_path + ": " + win32::error_text(move_code));
  }
  return {};
}

std::FILE* open_file(const std::string& path, const char* mode) {
  return _wfopen(win32::widen(path).c_str(), win32::widen(mode).c_str());
}

bool rename_file(const std::string& from, const std::string& to) {
  DWORD code = ERROR_SUCCESS;
  return move_with_retries(win32::widen(from), win32::widen(to), &code);
}

bool can_create_files_in(const std::string& dir) {
  const auto probe = win32::widen(dir + "/.plexsync-write-probe-" + std::to_string(GetCurrentProcessId()));
  const HANDLE h = CreateFileW(probe.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW,
                               FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    return false;
  }
  CloseHandle(h);
  return true;
}

void restrict_new_files() {}

void keep_private(const std::string& /*path*/) {}

} // namespace util
