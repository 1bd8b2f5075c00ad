// Title templates (issue #28) as a person may type them into Stash's settings: any text parses or
// yields an error naming a position inside it; a parsed template always fills without a crash and
// yields valid UTF-8 once sanitized as titles are.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/title_template.hpp"
#include "fuzz_check.hpp"
#include "sync/sanitize.hpp"
#include "sync/title_template.hpp"

using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto parsed = config::parse_title_template(text);
  if (!parsed) {
    const auto& m = parsed.error().message;
    check(m.rfind("position ", 0) == 0);
    const auto pos = std::stoul(m.substr(9));
    check(pos >= 1 && pos <= text.size() + 1);
    return 0;
  }
  check(parsed->literals.size() == parsed->fields.size() + 1);
  stash::Scene scene;
  scene.title = text.substr(0, 40);
  scene.date = "2024-06-01";
  scene.studio = "Studio North";
  scene.performers = {{"1", "Léa Dubois", ""}};
  scene.groups = {"Summer Series"};
  scene.group_index = 3;
  scene.files = {{"/m/a.b.mp4", "a.b.mp4", 1, 1}};
  const auto title = fieldsync::sanitize_line(fieldsync::render_title(*parsed, scene), fieldsync::TextLimit{255, 1020});
  check(fieldsync::is_valid_utf8(title));
  return 0;
}
