#include <cstdlib>

#include "util/datadirlock.hpp"
#include "util/win32.hpp"

namespace util {
namespace {

// Windows byte-range locks are mandatory: locking byte 0 would make the pid written there
// unreadable to holder_pid. One byte far beyond any content is locked instead.
OVERLAPPED lock_range() {
  OVERLAPPED at{};
  at.Offset = 0;
  at.OffsetHigh = 0x7FFFFFFF;
  return at;
}

HANDLE open_lock_file(const std::string& path, DWORD access) {
  // Shared for reading, writing and deleting: the lock decides, never a sharing violation. Not
  // inheritable (the default), so a child never keeps it.
  return CreateFileW(win32::widen(path).c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                     nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
}

} // namespace

void DataDirLock::release() {
  if (handle_ != k_none) {
    CloseHandle(reinterpret_cast<HANDLE>(handle_)); // closing releases the lock
    handle_ = k_none;
  }
}

bool DataDirLock::try_acquire() {
  if (handle_ != k_none) {
    return true;
  }
  const HANDLE h = open_lock_file(path_, GENERIC_READ | GENERIC_WRITE);
  if (h == INVALID_HANDLE_VALUE) {
    error_ = "cannot open " + path_ + ": " + win32::error_text(GetLastError());
    return false;
  }
  auto range = lock_range();
  if (LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &range) == 0) {
    const DWORD code = GetLastError();
    CloseHandle(h);
    error_ = code == ERROR_LOCK_VIOLATION || code == ERROR_IO_PENDING
                 ? "held by another process"
                 : "cannot lock " + path_ + ": " + win32::error_text(code);
    return false;
  }
  handle_ = reinterpret_cast<std::intptr_t>(h);
  // The holder's pid, for operators and tests (stale content is harmless: the lock decides).
  const std::string pid = std::to_string(GetCurrentProcessId()) + "\n";
  DWORD written = 0;
  if (SetFilePointer(h, 0, nullptr, FILE_BEGIN) == 0 && SetEndOfFile(h) != 0) {
    (void)WriteFile(h, pid.data(), static_cast<DWORD>(pid.size()), &written, nullptr);
  }
  return true;
}

int DataDirLock::holder_pid(const std::string& dir) {
  if (!held_by_someone(dir)) {
    return 0;
  }
  const HANDLE h = open_lock_file(dir + "/worker.lock", GENERIC_READ);
  if (h == INVALID_HANDLE_VALUE) {
    return 0;
  }
  char buf[32] = {};
  DWORD n = 0;
  const BOOL ok = ReadFile(h, buf, sizeof buf - 1, &n, nullptr);
  CloseHandle(h);
  return ok != 0 && n > 0 ? std::atoi(buf) : 0;
}

} // namespace util
