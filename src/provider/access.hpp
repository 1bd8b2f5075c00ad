// Which source addresses may call the provider (provider_allow, spec section 6): PMS sends no
// credential, so the TCP peer address is checked before anything of a request is read.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
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

// Whether Plex's cloud image proxy could fetch from this URL's host: not an IP literal in a
// private, loopback, link-local or shared range, and not a name that only a LAN resolves
// (localhost, a name without a dot, .local, .lan, .home, .internal, .localdomain, .home.arpa).
// false for anything that is not an absolute http(s) URL.
bool reachable_from_internet(const std::string& url);

// A token bucket per source (spec 6: 200 requests a second, bursts of 1000), so one client cannot
// flood the worker; a PMS scan stays far below it. A source is a v4 address or a v6 /64. The table
// holds max_sources sources; past that, only sources whose bucket has refilled are forgotten and
// new ones share one overflow bucket, so spraying addresses resets no limit.
class RateLimiter {
public:
  RateLimiter(double per_second = 200, double burst = 1000, size_t max_sources = 4096)
      : per_second_(per_second), burst_(burst), max_sources_(max_sources), overflow_{burst, 0} {}
  bool admit(const std::string& peer, int64_t now_ms);
  // For benchmarks and fuzzing, which measure answers rather than the flood limit.
  void set(double per_second, double burst) {
    const std::lock_guard lock(mutex_);
    per_second_ = per_second;
    burst_ = burst;
    buckets_.clear();
    overflow_ = Bucket{burst, 0};
  }
  static std::string source_of(const std::string& peer);

private:
  struct Bucket {
    double tokens = 0;
    int64_t last_ms = 0;
  };
  [[nodiscard]] double refilled(const Bucket& b, int64_t now_ms) const;
  double per_second_;
  double burst_;
  size_t max_sources_;
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;
  Bucket overflow_;
  int64_t last_prune_ms_ = 0;
};

} // namespace provider
