// One worker per data directory: an exclusive lock on <dir>/worker.lock that the OS releases
// when the process dies (flock), so a crashed worker never blocks its successor.
#pragma once

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
  [[nodiscard]] bool is_held() const { return fd_ >= 0; }
  [[nodiscard]] const std::string& error() const { return error_; }
  // True when some process currently holds the lock of dir (probe without keeping it).
  static bool held_by_someone(const std::string& dir);
  // Pid of the live holder, 0 when nobody holds it.
  static int holder_pid(const std::string& dir);

private:
  std::string path_;
  int fd_ = -1;
  std::string error_;
};

} // namespace util
