#include "util/digest.hpp"
#include "util/wake.hpp"
#include "util/win32.hpp"

namespace util {
namespace {

// Session-local ("Local\"): Stash, its hooks and the worker they start share one logon session.
// The data dir is hashed because event names cannot hold backslashes.
std::wstring event_name(const std::string& data_dir) {
  return win32::widen("Local\\PlexSync-wake-" + sha1_hex(data_dir));
}

} // namespace

WakeListener::WakeListener(const std::string& data_dir) : data_dir_(data_dir) {
  const HANDLE h = CreateEventW(nullptr, FALSE, FALSE, event_name(data_dir).c_str());
  if (h == nullptr) {
    return;
  }
  read_end_ = reinterpret_cast<std::intptr_t>(h);
  ready_ = true;
}

WakeListener::~WakeListener() {
  if (ready_) {
    CloseHandle(reinterpret_cast<HANDLE>(read_end_));
  }
}

bool WakeListener::wait(int64_t timeout_ms) {
  if (!ready_) {
    return false;
  }
  return WaitForSingleObject(reinterpret_cast<HANDLE>(read_end_),
                             static_cast<DWORD>(timeout_ms < 0 ? 0 : timeout_ms)) == WAIT_OBJECT_0;
}

void wake_worker(const std::string& data_dir) {
  const HANDLE h = OpenEventW(EVENT_MODIFY_STATE, FALSE, event_name(data_dir).c_str());
  if (h == nullptr) {
    return; // no worker listens
  }
  SetEvent(h);
  CloseHandle(h);
}

} // namespace util
