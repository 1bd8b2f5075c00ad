// One worker per data directory: an exclusive lock on <dir>/worker.lock that the OS releases
// when the process dies (flock on POSIX, LockFileEx on Windows), so a crashed worker never blocks
// its successor. datadirlock_posix.cpp and datadirlock_win.cpp hold the OS calls.
#pragma once

#include <cstdint>
#include <string>

namespace util {

class DataDirLock {
public:
  explicit DataDirLock(std::string dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

  // Tries once, without waiting. False means another live process holds it (or the lock file
  // cannot be opened, which error() then explains).
  bool try_acquire();
  void release();
  [[nodiscard]] bool is_held() const { return handle_ != k_none; }
  [[nodiscard]] const std::string& error() const { return error_; }
  // True when some process currently holds the lock of dir (probe without keeping it).
  static bool held_by_someone(const std::string& dir);
  // Pid of the live holder, 0 when nobody holds it.
  static int holder_pid(const std::string& dir);

private:
  static constexpr std::intptr_t k_none = -1;
  std::string path_;
  std::intptr_t handle_ = k_none; // a descriptor on POSIX, a HANDLE on Windows
  std::string error_;
};

} // namespace util
