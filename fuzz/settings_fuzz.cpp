// Plugin settings as Stash stores them (any JSON), and path_map rules.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "config/settings.hpp"
#include "match/path_map.hpp"
#include "stash/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_discarded()) {
    // As Stash v0.25 and its v0.26 migration hand them back too: ids and keys camelCased.
    (void)stash::merge_plugin_settings(doc);
    auto loaded = config::load_settings(doc);
    for (const auto& p : loaded.problems) {
      if (p.message.empty()) {
        __builtin_trap(); // every problem says what to fix
      }
    }
    if (loaded.settings.max_tags < 1 || loaded.settings.plex_concurrency < 1) {
      __builtin_trap(); // out-of-range numbers never get through
    }
  }
  // The same bytes as a path_map setting, applied to a path built from them.
  if (auto map = match::PathMap::parse(text); map) {
    (void)map->apply("/data/" + text);
    (void)map->apply(text);
  }
  return 0;
}
