// Titles built from several scene fields (issue #28): `title_template` and
// `sort_title_template`, e.g. "{date} {studio} - {title|filename}". A placeholder names one field
// or alternatives separated by '|' (the first non-empty one is used); "{{" and "}}" are literal
// braces. Parsed when the settings load, so an error is a settings problem naming the position
// (1-based, in characters) and the fix, and a template that does not parse is never applied.
// Filling one from a scene is sync/title_template.hpp's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/expected.hpp"

namespace config {

struct TitleTemplate {
  std::vector<std::string> literals;            // literals[i] comes before placeholder i; one more at the end
  std::vector<std::vector<std::string>> fields; // each placeholder's alternatives
};

// The field names a placeholder may use, in the order the settings page lists them.
const std::vector<std::string>& title_template_fields();

util::Result<TitleTemplate> parse_title_template(std::string_view text);

// The same language over whole[begin, end) with another set of fields (collection names use
// {name}); errors count positions in `whole`, what a person sees in the settings box. `what` names
// the text in messages ("title"); need_field: a template without a placeholder is an error.
util::Result<TitleTemplate> parse_text_template(std::string_view whole, size_t begin, size_t end,
                                                const std::vector<std::string>& known, const char* what,
                                                bool need_field);

// A byte offset of text as a 1-based character position, and an error "position N: what".
size_t char_position(std::string_view text, size_t offset);
util::Error position_error(std::string_view text, size_t offset, const std::string& what);

} // namespace config
