// What every fuzz target asserts with: a property that does not hold stops libFuzzer on that input
// (kept in build/fuzz/crashes/), in any build type.
#pragma once

namespace fuzz {

inline void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

} // namespace fuzz
