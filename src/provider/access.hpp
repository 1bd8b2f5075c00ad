// Which source addresses may call the provider (provider_allow, spec section 6): PMS sends no
// credential, so the TCP peer address is checked before anything of a request is read.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "util/expected.hpp"

namespace provider {

class AllowList {
public:
  // "private" (loopback and private ranges), "any", or IPs and CIDRs separated by ',' or ' ';
  // "" is "private". An entry that is not one of these is an error naming it.
  static util::Result<AllowList> parse(const std::string& text);
  // peer as the server reports it ("192.168.1.5", "::1"; a v4-mapped v6 address counts as v4).
  [[nodiscard]] bool allows(const std::string& peer) const;

private:
  struct Range {
    std::array<uint8_t, 16> bytes{}; // v4 in the v4-mapped v6 form
    int prefix = 0;                  // bits, on the 128-bit form
  };
  bool any_ = false;
  std::vector<Range> ranges_;
};

} // namespace provider
