#include <winsock2.h>

#include "net/accept_wake.hpp"

namespace net {

void wake_blocked_accept(std::intptr_t native_socket) {
  (void)::shutdown(static_cast<SOCKET>(native_socket), SD_BOTH);
}

} // namespace net
