#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.hpp"
#include "util/path.hpp"

namespace util {
namespace {

// write(2) until done; a short write (disk full) is an error, not a truncated file.
bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

} // namespace

Result<void> write_file_durably(const std::string& tmp_path, const std::string& final_path,
                                const std::string& content) {
  const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail("cannot write " + tmp_path + ": " + std::strerror(errno));
  }
  // macOS: fsync does not reach the drive's cache there; a port uses fcntl(F_FULLFSYNC).
  const bool written = write_all(fd, content) && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!written) {
    (void)::unlink(tmp_path.c_str());
    return fail("cannot write " + tmp_path + ": " + std::strerror(saved_errno) +
                (saved_errno == ENOSPC ? " (the disk holding the data directory is full: free some space)" : ""));
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    const int rename_errno = errno;
    (void)::unlink(tmp_path.c_str());
    return fail("cannot write " + final_path + ": " + std::strerror(rename_errno));
  }
  // The rename itself survives a power cut only once the directory is synced too.
  if (const int dfd = ::open(parent_dir(final_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

std::FILE* open_file(const std::string& path, const char* mode) {
  return std::fopen(path.c_str(), mode);
}

bool rename_file(const std::string& from, const std::string& to) {
  return ::rename(from.c_str(), to.c_str()) == 0;
}

bool can_create_files_in(const std::string& dir) {
  const std::string probe = dir + "/.plexsync-write-probe-" + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return false;
  }
  ::close(fd);
  return ::unlink(probe.c_str()) == 0;
}

void restrict_new_files() {
  (void)::umask(077);
}

void keep_private(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
    (void)::chmod(path.c_str(), st.st_mode & 0700);
  }
}

} // namespace util
