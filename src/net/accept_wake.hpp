// Wakes a thread blocked in a synchronous accept() on another thread: cancel() and close() do not
// on Linux, shutdown(2) does (accept_wake_posix.cpp). On Windows closing the socket does, so
// accept_wake_win.cpp only asks the socket to stop both ways.
#pragma once

#include <cstdint>

namespace net {

void wake_blocked_accept(std::intptr_t native_socket);

} // namespace net
