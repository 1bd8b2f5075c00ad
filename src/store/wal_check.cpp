#include "store/wal_check.hpp"

#include <array>
#include <cstdint>
#include <fstream>
#include <vector>

#include "util/path.hpp"

namespace store {
namespace {

constexpr size_t k_header_size = 32;
constexpr size_t k_frame_header_size = 24;
constexpr uint32_t k_magic_le = 0x377f0682; // checksums over little-endian words
constexpr uint32_t k_magic_be = 0x377f0683; // checksums over big-endian words
constexpr uint32_t k_version = 3007000;
// SQLite adds one to salt-1 each time the log restarts: frames left from earlier generations
// carry a salt-1 a little below the header's. Garbage carries any value.
constexpr uint32_t k_max_generations = 1U << 20;

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

uint32_t le32(const unsigned char* p) {
  return (uint32_t{p[3]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[0]};
}

struct Checksum {
  uint32_t s0 = 0;
  uint32_t s1 = 0;
  bool big_endian = false;
  // Over pairs of 32-bit words, as the format specifies (n is a multiple of 8).
  void add(const unsigned char* p, size_t n) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
      s0 += (big_endian ? be32(p + i) : le32(p + i)) + s1;
      s1 += (big_endian ? be32(p + i + 4) : le32(p + i + 4)) + s0;
    }
  }
};

enum class FrameKind { valid, torn, stale, garbage };

} // namespace

std::optional<std::string> wal_damage(const std::string& wal_path) {
  std::ifstream in(util::fs_path(wal_path), std::ios::binary);
  if (!in) {
    return std::nullopt; // no log: nothing to lose
  }
  const std::string name = wal_path.substr(wal_path.find_last_of("/\\") + 1);
  std::array<unsigned char, k_header_size> header{};
  in.read(reinterpret_cast<char*>(header.data()), k_header_size);
  const auto got = static_cast<size_t>(in.gcount());
  if (got == 0) {
    return std::nullopt;
  }
  if (got < k_header_size) {
    return name + " is shorter than its header (" + std::to_string(got) + " bytes)";
  }
  const uint32_t magic = be32(header.data());
  const uint32_t raw_page = be32(header.data() + 8);
  const size_t page_size = raw_page == 1 ? 65536 : raw_page;
  Checksum sum;
  sum.big_endian = magic == k_magic_be;
  sum.add(header.data(), 24);
  if ((magic != k_magic_le && magic != k_magic_be) || be32(header.data() + 4) != k_version || page_size < 512 ||
      page_size > 65536 || (page_size & (page_size - 1)) != 0 || sum.s0 != be32(header.data() + 24) ||
      sum.s1 != be32(header.data() + 28)) {
    return name + " has a damaged header";
  }
  const uint32_t salt1 = be32(header.data() + 16);
  const uint32_t salt2 = be32(header.data() + 20);
  std::vector<unsigned char> frame(k_frame_header_size + page_size);
  int64_t index = 0;
  std::optional<int64_t> torn;  // the first frame of this generation that failed its checksum
  bool past_generation = false; // frames of earlier generations only follow the current one
  while (true) {
    in.read(reinterpret_cast<char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
    const auto n = static_cast<size_t>(in.gcount());
    if (n == 0) {
      return std::nullopt;
    }
    ++index;
    if (n < frame.size()) {
      // A frame being appended (by another connection, or cut short by a crash) is the torn one.
      return torn ? std::optional<std::string>(name + " frame " + std::to_string(*torn) +
                                               " fails its checksum with later frames after it")
                  : std::nullopt;
    }
    const uint32_t f_salt1 = be32(frame.data() + 8);
    const uint32_t f_salt2 = be32(frame.data() + 12);
    FrameKind kind = FrameKind::garbage;
    if (f_salt1 == salt1 && f_salt2 == salt2) {
      Checksum next = sum;
      next.add(frame.data(), 8);
      next.add(frame.data() + k_frame_header_size, page_size);
      const bool ok = next.s0 == be32(frame.data() + 16) && next.s1 == be32(frame.data() + 20);
      kind = ok && !torn ? FrameKind::valid : FrameKind::torn;
      if (kind == FrameKind::valid) {
        sum = next;
      }
    } else if (const uint32_t behind = salt1 - f_salt1; behind >= 1 && behind <= k_max_generations) {
      kind = FrameKind::stale;
    }
    // A crash can leave one half-written frame at the end of the current generation; anything of
    // this generation after it, or anything that belongs to no generation, is damage.
    if (kind == FrameKind::stale) {
      past_generation = true;
    } else if (past_generation) {
      kind = FrameKind::garbage;
    }
    if (kind == FrameKind::garbage) {
      return name + " frame " + std::to_string(index) + " belongs to no log generation: the file was overwritten";
    }
    if (kind == FrameKind::torn) {
      if (torn) {
        return name + " frame " + std::to_string(*torn) + " fails its checksum with later frames after it";
      }
      torn = index;
    }
  }
}

} // namespace store
