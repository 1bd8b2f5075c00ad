#include "provider/access.hpp"

#include <algorithm>
#include <optional>

#include <boost/asio/ip/address.hpp>

#include "net/http.hpp"
#include "util/strings.hpp"

namespace provider {
namespace {

// v4 addresses become v4-mapped v6, so one comparison covers both families.
std::optional<std::array<uint8_t, 16>> to_bytes(const std::string& text, bool& v4) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(text, ec);
  if (ec) {
    return std::nullopt;
  }
  v4 = address.is_v4();
  const auto v6 =
      address.is_v4() ? boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()) : address.to_v6();
  if (v6.is_v4_mapped()) {
    v4 = true;
  }
  return v6.to_bytes();
}

bool in_range(const std::array<uint8_t, 16>& addr, const std::array<uint8_t, 16>& net, int prefix) {
  for (int bit = 0; bit < prefix; ++bit) {
    const auto byte = static_cast<size_t>(bit / 8);
    const auto mask = static_cast<uint8_t>(0x80U >> static_cast<unsigned>(bit % 8));
    if ((addr.at(byte) & mask) != (net.at(byte) & mask)) {
      return false;
    }
  }
  return true;
}

const char* const k_private[] = {"127.0.0.0/8",   "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                 "100.64.0.0/10", "::1/128",    "fc00::/7",      "fe80::/10"};

} // namespace

util::Result<AllowList> AllowList::parse(const std::string& text) {
  AllowList list;
  std::string normalised = text;
  for (auto& c : normalised) {
    c = c == ',' ? ' ' : c;
  }
  std::vector<std::string> entries;
  for (auto& word : util::split(normalised, ' ')) {
    if (!util::trim(word).empty()) {
      entries.push_back(util::to_lower(util::trim(word)));
    }
  }
  if (entries.empty()) {
    entries.emplace_back("private");
  }
  std::vector<std::string> expanded;
  for (const auto& e : entries) {
    if (e == "any") {
      list.any_ = true;
    } else if (e == "private") {
      expanded.insert(expanded.end(), std::begin(k_private), std::end(k_private));
    } else {
      expanded.push_back(e);
    }
  }
  for (const auto& e : expanded) {
    const auto slash = e.find('/');
    bool v4 = false;
    const auto bytes = to_bytes(e.substr(0, slash), v4);
    int prefix = v4 ? 32 : 128;
    bool ok = bytes.has_value();
    if (ok && slash != std::string::npos) {
      const auto bits = e.substr(slash + 1);
      ok = !bits.empty() && bits.size() <= 3 && bits.find_first_not_of("0123456789") == std::string::npos &&
           std::stoi(bits) <= prefix;
      prefix = ok ? std::stoi(bits) : prefix;
    }
    if (!ok) {
      return util::fail("provider_allow: \"" + e +
                        "\" is not an IP address, a CIDR range (192.168.1.0/24), 'private' or 'any'; fix the entry");
    }
    list.ranges_.push_back(Range{*bytes, v4 ? prefix + 96 : prefix});
  }
  return list;
}

bool AllowList::allows(const std::string& peer) const {
  if (any_) {
    return true;
  }
  bool v4 = false;
  const auto bytes = to_bytes(peer, v4);
  if (!bytes) {
    return false;
  }
  for (const auto& range : ranges_) {
    if (in_range(*bytes, range.bytes, range.prefix)) {
      return true;
    }
  }
  return false;
}

bool reachable_from_internet(const std::string& url) {
  const auto parsed = net::Url::parse(url);
  if (!parsed) {
    return false;
  }
  auto host = util::to_lower(parsed->host);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  bool v4 = false;
  if (to_bytes(host, v4)) {
    static const auto k_lan = AllowList::parse("private 169.254.0.0/16 0.0.0.0/8");
    return k_lan && !k_lan->allows(host);
  }
  if (host == "localhost" || host.find('.') == std::string::npos) {
    return false;
  }
  for (const char* suffix : {".local", ".lan", ".home", ".internal", ".localdomain", ".home.arpa", ".localhost"}) {
    if (host.ends_with(suffix)) {
      return false;
    }
  }
  return true;
}

std::string RateLimiter::source_of(const std::string& peer) {
  // A v6 host picks any address of its /64 at will: that network is one source. A v4 address
  // costs a LAN client a visible claim each, so it stays one source alone.
  bool v4 = false;
  const auto bytes = to_bytes(peer, v4);
  if (!bytes || v4) {
    return peer;
  }
  auto net = *bytes;
  std::fill(net.begin() + 8, net.end(), uint8_t{0});
  return boost::asio::ip::address_v6(net).to_string() + "/64";
}

double RateLimiter::refilled(const Bucket& b, int64_t now_ms) const {
  return std::min(burst_,
                  b.tokens + static_cast<double>(std::max<int64_t>(0, now_ms - b.last_ms)) * per_second_ / 1000.0);
}

bool RateLimiter::admit(const std::string& peer, int64_t now_ms) {
  const auto source = source_of(peer);
  const std::lock_guard lock(mutex_);
  auto it = buckets_.find(source);
  Bucket* bucket = nullptr;
  if (it != buckets_.end()) {
    bucket = &it->second;
  } else {
    if (buckets_.size() >= max_sources_ && now_ms - last_prune_ms_ >= 1000) {
      // Forget only sources whose bucket is full again: they are owed nothing, so a client that
      // touches thousands of addresses never resets anyone's limit, its own included.
      last_prune_ms_ = now_ms;
      std::erase_if(buckets_, [&](const auto& entry) { return refilled(entry.second, now_ms) >= burst_; });
    }
    if (buckets_.size() < max_sources_) {
      bucket = &buckets_.try_emplace(source, Bucket{burst_, now_ms}).first->second;
    } else {
      bucket = &overflow_; // every source beyond the table shares one bucket
    }
  }
  bucket->tokens = refilled(*bucket, now_ms);
  bucket->last_ms = std::max(bucket->last_ms, now_ms); // a clock set back must not refill twice
  if (bucket->tokens < 1) {
    return false;
  }
  bucket->tokens -= 1;
  return true;
}

} // namespace provider
