#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/datadirlock.hpp"

namespace util {

void DataDirLock::release() {
  if (handle_ != k_none) {
    ::close(static_cast<int>(handle_)); // closing releases the flock
    handle_ = k_none;
  }
}

bool DataDirLock::try_acquire() {
  if (handle_ != k_none) {
    return true;
  }
  const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error_ = "cannot open " + path_ + ": " + std::strerror(errno);
    return false;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    error_ = "held by another process";
    ::close(fd);
    return false;
  }
  handle_ = fd;
  // The holder's pid, for operators and tests (stale content is harmless: the flock decides).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  }
  return true;
}

int DataDirLock::holder_pid(const std::string& dir) {
  if (!held_by_someone(dir)) {
    return 0;
  }
  const int fd = ::open((dir + "/worker.lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  char buf[32] = {};
  const auto n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::atoi(buf) : 0;
}

} // namespace util
