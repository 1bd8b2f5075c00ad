// Plugin stdin as Stash (or anything else) might write it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "stash/protocol.hpp"
#include "util/log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto input = stash::parse_plugin_input(text);
  if (input && input->server.base_url().empty()) {
    __builtin_trap(); // accepted input always names the Stash it came from
  }
  return 0;
}
