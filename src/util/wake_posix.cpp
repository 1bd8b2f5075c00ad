#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/wake.hpp"

namespace util {
namespace {

std::string fifo_path(const std::string& data_dir) {
  return data_dir + "/plexsync.wake";
}

} // namespace

WakeListener::WakeListener(const std::string& data_dir) : data_dir_(data_dir) {
  const auto path = fifo_path(data_dir);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISFIFO(st.st_mode)) {
    ::unlink(path.c_str()); // not ours to keep: something else took the name
  }
  if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) {
    return; // a file system without FIFOs (some network shares): the worker polls
  }
  const int r = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (r < 0) {
    return;
  }
  // Our own writer keeps poll() from reporting a hang-up each time a hook closes its end.
  const int w = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (w < 0 || ::fstat(r, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    ::close(r);
    if (w >= 0) {
      ::close(w);
    }
    return;
  }
  read_end_ = r;
  write_end_ = w;
  ready_ = true;
}

WakeListener::~WakeListener() {
  if (read_end_ >= 0) {
    ::close(static_cast<int>(read_end_));
  }
  if (write_end_ >= 0) {
    ::close(static_cast<int>(write_end_));
  }
}

bool WakeListener::wait(int64_t timeout_ms) {
  if (!ready_) {
    return false;
  }
  pollfd p{static_cast<int>(read_end_), POLLIN, 0};
  const int n = ::poll(&p, 1, static_cast<int>(timeout_ms < 0 ? 0 : timeout_ms));
  if (n <= 0) {
    return false;
  }
  char buf[64];
  while (::read(static_cast<int>(read_end_), buf, sizeof buf) > 0) {
    // drained: every wake-up sent so far is answered by this one
  }
  return true;
}

void wake_worker(const std::string& data_dir) {
  // O_NONBLOCK: ENXIO at once when no worker has the FIFO open, and a full pipe is already a
  // pending wake-up.
  const int fd = ::open(fifo_path(data_dir).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
    const char byte = 1;
    (void)!::write(fd, &byte, 1);
  }
  ::close(fd);
}

} // namespace util
