#include "config/shelf_rules.hpp"

#include <array>
#include <utility>

#include "util/strings.hpp"

namespace config {
namespace {

struct Span {
  size_t begin = 0;
  size_t end = 0;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

Span trimmed(std::string_view text, Span s) {
  while (s.begin < s.end && is_space(text[s.begin])) {
    ++s.begin;
  }
  while (s.end > s.begin && is_space(text[s.end - 1])) {
    --s.end;
  }
  return s;
}

// The parts between ';', each trimmed; blank parts (a trailing ';') are left out.
std::vector<Span> parts_of(std::string_view text) {
  std::vector<Span> out;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ';') {
      if (const auto part = trimmed(text, {start, i}); part.begin < part.end) {
        out.push_back(part);
      }
      start = i + 1;
    }
  }
  return out;
}

const std::array<std::pair<const char*, CollectionSource>, 7> k_sources{{
    {"studio", CollectionSource::studio},
    {"parent_studio", CollectionSource::parent_studio},
    {"group", CollectionSource::group},
    {"tag", CollectionSource::tag},
    {"tag_parent", CollectionSource::tag_parent},
    {"performer", CollectionSource::performer},
    {"organized", CollectionSource::organized},
}};

std::string source_list() {
  return util::join(collection_sources(), ", ");
}

// What an argument means for each source that needs one, for the "needs" message.
const char* argument_hint(CollectionSource s) {
  switch (s) {
  case CollectionSource::tag:
    return "a tag name or glob after ':', e.g. tag:Series/*";
  case CollectionSource::tag_parent:
    return "the parent tag's name after ':', e.g. tag_parent:Series";
  case CollectionSource::performer:
    return "performer:all or performer:favorite";
  case CollectionSource::organized:
    return "the collection's name after ':', e.g. organized:Organized";
  default:
    return "";
  }
}

util::Result<CollectionRule> parse_rule(std::string_view whole, Span rule) {
  const auto body = whole.substr(rule.begin, rule.end - rule.begin);
  const auto arrow = body.find("=>");
  const Span head = trimmed(whole, {rule.begin, arrow == std::string_view::npos ? rule.end : rule.begin + arrow});
  const auto head_text = whole.substr(head.begin, head.end - head.begin);
  if (head_text.empty()) {
    return tl::unexpected(
        position_error(whole, rule.begin, "a rule needs a source before '=>'; use one of: " + source_list()));
  }
  const auto colon = head_text.find(':');
  const Span source_span =
      trimmed(whole, {head.begin, colon == std::string_view::npos ? head.end : head.begin + colon});
  const auto source_name = util::to_lower(whole.substr(source_span.begin, source_span.end - source_span.begin));
  CollectionRule out;
  bool known = false;
  for (const auto& [name, source] : k_sources) {
    if (source_name == name) {
      out.source = source;
      known = true;
    }
  }
  if (!known) {
    return tl::unexpected(position_error(whole, source_span.begin,
                                         "unknown source '" + source_name + "'; use one of: " + source_list() +
                                             " (rules are separated by ';')"));
  }
  Span arg{head.end, head.end};
  if (colon != std::string_view::npos) {
    arg = trimmed(whole, {head.begin + colon + 1, head.end});
  }
  out.arg = std::string(whole.substr(arg.begin, arg.end - arg.begin));
  const bool takes_arg = out.source == CollectionSource::tag || out.source == CollectionSource::tag_parent ||
                         out.source == CollectionSource::performer || out.source == CollectionSource::organized;
  if (!takes_arg && colon != std::string_view::npos) {
    return tl::unexpected(position_error(whole, head.begin + colon,
                                         "'" + source_name + "' takes nothing after ':'; write just " + source_name));
  }
  if (takes_arg && out.arg.empty()) {
    return tl::unexpected(position_error(whole, colon == std::string_view::npos ? source_span.end : head.begin + colon,
                                         "'" + source_name + "' needs " + argument_hint(out.source)));
  }
  if (out.source == CollectionSource::performer) {
    out.arg = util::to_lower(out.arg);
    if (out.arg != "all" && out.arg != "favorite") {
      return tl::unexpected(position_error(whole, arg.begin,
                                           "'performer:" + std::string(whole.substr(arg.begin, arg.end - arg.begin)) +
                                               "': write performer:all or performer:favorite"));
    }
  }
  static const std::vector<std::string> name_fields{"name"};
  if (arrow == std::string_view::npos) {
    return out;
  }
  const Span name = trimmed(whole, {rule.begin + arrow + 2, rule.end});
  if (name.begin == name.end) {
    return tl::unexpected(position_error(whole, rule.begin + arrow,
                                         "nothing after '=>'; write the collection's name, e.g. => Studio: {name}"));
  }
  auto parsed = parse_text_template(whole, name.begin, name.end, name_fields, "collection name", false);
  if (!parsed) {
    return tl::unexpected(parsed.error());
  }
  out.name = std::move(*parsed);
  return out;
}

} // namespace

const std::vector<std::string>& collection_sources() {
  static const std::vector<std::string> names = {
      "studio",        "parent_studio",      "group",         "tag:GLOB", "tag_parent:NAME",
      "performer:all", "performer:favorite", "organized:NAME"};
  return names;
}

util::Result<std::vector<CollectionRule>> parse_collection_rules(std::string_view text) {
  std::vector<CollectionRule> rules;
  for (const auto& part : parts_of(text)) {
    auto rule = parse_rule(text, part);
    if (!rule) {
      return tl::unexpected(rule.error());
    }
    rules.push_back(std::move(*rule));
  }
  return rules;
}

util::Result<std::vector<TagPattern>> parse_tag_filter(std::string_view text) {
  std::vector<TagPattern> out;
  for (const auto& part : parts_of(text)) {
    const auto item = text.substr(part.begin, part.end - part.begin);
    if (util::to_lower(item.substr(0, 7)) == "parent:") {
      const Span name = trimmed(text, {part.begin + 7, part.end});
      if (name.begin == name.end) {
        return tl::unexpected(
            position_error(text, part.begin, "'parent:' needs the parent tag's name, e.g. parent:Positions"));
      }
      out.push_back({true, std::string(text.substr(name.begin, name.end - name.begin))});
      continue;
    }
    if (item.find_first_not_of("*?") == std::string_view::npos) {
      // "*" alone means every tag: an include of everything is an empty include, an exclude of
      // everything is better said by skip_genres.
      return tl::unexpected(position_error(text, part.begin,
                                           "'" + std::string(item) +
                                               "' matches every tag; leave genre_include empty for all tags, or check "
                                               "skip_genres for none"));
    }
    out.push_back({false, std::string(item)});
  }
  return out;
}

} // namespace config
