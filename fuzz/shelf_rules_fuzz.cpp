// Collection rules and tag filters (issue #28) as a person may type them into Stash's settings:
// any text parses or yields an error naming a position inside it; parsed rules and filters always
// apply to a scene without a crash, and every collection name they give is valid UTF-8 once
// sanitized.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/shelf_rules.hpp"
#include "fuzz_check.hpp"
#include "sync/sanitize.hpp"
#include "sync/shelves.hpp"

using fuzz::check;

namespace {

void check_error(const std::string& text, const std::string& message) {
  check(message.rfind("position ", 0) == 0);
  const auto pos = std::stoul(message.substr(9));
  check(pos >= 1 && pos <= text.size() + 1);
}

stash::Scene scene(const std::string& text) {
  stash::Scene s;
  s.studio = text.substr(0, 20);
  s.parent_studio = "North Group";
  s.organized = true;
  s.performers = {{"1", "Léa Dubois", "http://s/p/1/image", true}};
  s.tags = {"Series/Coastline", text.substr(0, 12), "4K"};
  s.tag_links["4K"] = {{"Technical"}, ""};
  s.groups = {"Summer Series"};
  s.group_fronts = {""};
  return s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto s = scene(text);
  if (const auto rules = config::parse_collection_rules(text); !rules) {
    check_error(text, rules.error().message);
  } else {
    config::Settings settings;
    settings.collections = text;
    for (const auto& c : fieldsync::collections_for(s, settings)) {
      check(fieldsync::is_valid_utf8(fieldsync::sanitize_line(c.name, fieldsync::TextLimit{255, 1020})));
    }
  }
  if (const auto filter = config::parse_tag_filter(text); !filter) {
    check_error(text, filter.error().message);
  } else {
    config::Settings settings;
    settings.genre_exclude = text;
    settings.genre_include = text;
    (void)fieldsync::genres_for(s, settings);
  }
  return 0;
}
