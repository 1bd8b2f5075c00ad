#include <sys/socket.h>

#include "net/accept_wake.hpp"

namespace net {

void wake_blocked_accept(std::intptr_t native_socket) {
  (void)::shutdown(static_cast<int>(native_socket), SHUT_RDWR);
}

} // namespace net
