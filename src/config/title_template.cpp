#include "config/title_template.hpp"

#include <algorithm>

#include "util/strings.hpp"

namespace config {

const std::vector<std::string>& title_template_fields() {
  static const std::vector<std::string> fields = {"title",         "code",       "date",  "year",        "studio",
                                                  "parent_studio", "performers", "group", "group_index", "filename"};
  return fields;
}

util::Result<TitleTemplate> parse_title_template(std::string_view text) {
  return parse_text_template(text, 0, text.size(), title_template_fields(), "title", true);
}

util::Result<TitleTemplate> parse_text_template(std::string_view whole, size_t begin, size_t end,
                                                const std::vector<std::string>& known, const char* what,
                                                bool need_field) {
  const auto field_list = [&] { return util::join(known, ", "); };
  TitleTemplate t;
  std::string literal;
  size_t i = begin;
  while (i < end) {
    const char c = whole[i];
    if (c == '{' && i + 1 < end && whole[i + 1] == '{') {
      literal += '{';
      i += 2;
      continue;
    }
    if (c == '}' && i + 1 < end && whole[i + 1] == '}') {
      literal += '}';
      i += 2;
      continue;
    }
    if (c == '}') {
      return tl::unexpected(
          position_error(whole, i, std::string("'}' without a '{' before it; write }} for a brace in the ") + what));
    }
    if (c != '{') {
      literal += c;
      ++i;
      continue;
    }
    const size_t open = i;
    const size_t close = whole.substr(0, end).find('}', open + 1);
    const size_t nested = whole.substr(0, end).find('{', open + 1);
    if (close == std::string_view::npos || (nested != std::string_view::npos && nested < close)) {
      return tl::unexpected(
          position_error(whole, open, "'{' is never closed; close it with '}' or write {{ for a brace"));
    }
    std::vector<std::string> alternatives;
    size_t start = open + 1;
    for (size_t j = open + 1; j <= close; ++j) {
      if (j == close || whole[j] == '|') {
        const auto name = util::trim(std::string(whole.substr(start, j - start)));
        if (name.empty()) {
          return tl::unexpected(position_error(whole, start, "an empty field name; use one of: " + field_list()));
        }
        if (std::find(known.begin(), known.end(), name) == known.end()) {
          return tl::unexpected(
              position_error(whole, start, "unknown field {" + name + "}; use one of: " + field_list()));
        }
        alternatives.push_back(name);
        start = j + 1;
      }
    }
    t.literals.push_back(std::exchange(literal, {}));
    t.fields.push_back(std::move(alternatives));
    i = close + 1;
  }
  t.literals.push_back(std::move(literal));
  if (need_field && t.fields.empty()) {
    return tl::unexpected(
        position_error(whole, begin, "no field in the template; put at least one, e.g. {" + known.front() + "}"));
  }
  return t;
}

size_t char_position(std::string_view text, size_t offset) {
  size_t before = 0; // characters before `offset`: UTF-8 lead bytes
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0U) != 0x80U) {
      ++before;
    }
  }
  return before + 1;
}

util::Error position_error(std::string_view text, size_t offset, const std::string& what) {
  return util::Error{"position " + std::to_string(char_position(text, offset)) + ": " + what};
}

} // namespace config
