#include "util/datadirlock.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace util {

DataDirLock::DataDirLock(std::string dir) : path_(std::move(dir) + "/worker.lock") {}

DataDirLock::~DataDirLock() {
  release();
}

void DataDirLock::release() {
  if (fd_ >= 0) {
    ::close(fd_); // closing releases the flock
    fd_ = -1;
  }
}

bool DataDirLock::try_acquire() {
  if (fd_ >= 0) {
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
  fd_ = fd;
  return true;
}

bool DataDirLock::held_by_someone(const std::string& dir) {
  DataDirLock probe(dir);
  return !probe.try_acquire() && probe.error() == "held by another process";
}

} // namespace util
