// A hook that queued a job wakes the running worker at once, instead of leaving the job to the
// worker's next look at the queue. Best effort on both sides: a lost wake-up costs one poll
// interval, never a job (the job is committed before the signal is sent).
// POSIX (wake_posix.cpp): a FIFO, <data_dir>/plexsync.wake, that the worker reads. Windows
// (wake_win.cpp): a named auto-reset event in the session's namespace, named after the data dir.
#pragma once

#include <cstdint>
#include <string>

namespace util {

class WakeListener {
public:
  explicit WakeListener(const std::string& data_dir);
  ~WakeListener();
  WakeListener(const WakeListener&) = delete;
  WakeListener& operator=(const WakeListener&) = delete;

  // False when the platform or the file system cannot offer the signal (the worker then polls).
  [[nodiscard]] bool ready() const { return ready_; }
  // Waits up to timeout_ms for a wake-up; true when one came (several coalesce into one).
  bool wait(int64_t timeout_ms);

private:
  std::string data_dir_;
  bool ready_ = false;
  std::intptr_t read_end_ = -1;  // POSIX: the FIFO, non-blocking; Windows: the event HANDLE
  std::intptr_t write_end_ = -1; // POSIX: held open so the FIFO never reports hang-up
};

// Wakes the listener of data_dir if one exists; never blocks, never fails loudly.
void wake_worker(const std::string& data_dir);

} // namespace util
