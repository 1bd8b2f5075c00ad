// The sanitizer and the metadata schema: whatever the text, the output is valid UTF-8 within
// its limits, sanitizing is stable, and prepared metadata always passes validation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "sync/metadata.hpp"
#include "sync/sanitize.hpp"

using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const fieldsync::TextLimit limit{size % 97, (size * 7) % 301};
  const auto line = fieldsync::sanitize_line(text, limit);
  const auto block = fieldsync::sanitize_block(text, limit);
  for (const auto* out : {&line, &block}) {
    check(fieldsync::is_valid_utf8(*out));
    check(out->size() <= limit.max_bytes);
    check(fieldsync::truncate_graphemes(*out, limit) == *out);
  }
  check(fieldsync::sanitize_line(line, limit) == line);
  check(fieldsync::sanitize_block(block, limit) == block);

  stash::Scene scene;
  scene.id = "1";
  const auto third = size / 3;
  scene.title = text.substr(0, third);
  scene.details = text;
  scene.studio = text.substr(third, third);
  scene.date = text.substr(0, 10);
  scene.code = text.substr(third);
  scene.tags = {scene.title, scene.studio, text};
  scene.performers = {{"1", scene.studio, ""}};
  scene.files = {{"/m/" + scene.title, scene.title, 1, 1}};
  config::Settings settings;
  settings.tagline_source = "code";
  settings.max_tags = 2;
  const auto prepared = fieldsync::prepare(scene, settings);
  check(fieldsync::validate(prepared.desired, settings.max_tags).empty());
  return 0;
}
