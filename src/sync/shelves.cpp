#include "sync/shelves.hpp"

#include "config/shelf_rules.hpp"
#include "match/fold.hpp"
#include "util/strings.hpp"
#include "util/utf8.hpp"

namespace fieldsync {
namespace {

// Without "=> NAME" a rule's name is {name}; a name template has no other field.
std::string render_name(const config::TitleTemplate& t, const std::string& name) {
  std::string out;
  for (size_t i = 0; i < t.literals.size(); ++i) {
    out += t.literals[i];
    if (i < t.fields.size()) {
      out += name;
    }
  }
  return out;
}

bool same_name(const std::string& a, const std::string& b) {
  return match::fold_text(a) == match::fold_text(b);
}

// The rules the booleans stand for when `collections` is empty (PlexSync 0.1's behaviour).
std::vector<config::CollectionRule> rules_from_booleans(const config::Settings& s) {
  const auto rule = [](config::CollectionSource source) {
    config::CollectionRule r; // named {name}, as every rule without "=> NAME"
    r.source = source;
    return r;
  };
  std::vector<config::CollectionRule> rules{rule(config::CollectionSource::studio)};
  if (s.collection_parent_studio) {
    rules.push_back(rule(config::CollectionSource::parent_studio));
  }
  if (s.collection_groups) {
    rules.push_back(rule(config::CollectionSource::group));
  }
  return rules;
}

// (name, image) pairs one rule yields for a scene.
std::vector<std::pair<std::string, std::string>> sources_of(const config::CollectionRule& rule,
                                                            const stash::Scene& scene) {
  std::vector<std::pair<std::string, std::string>> out;
  switch (rule.source) {
  case config::CollectionSource::studio:
    out.emplace_back(scene.studio, scene.studio_image);
    break;
  case config::CollectionSource::parent_studio:
    out.emplace_back(scene.parent_studio, scene.parent_studio_image);
    break;
  case config::CollectionSource::group:
    for (size_t i = 0; i < scene.groups.size(); ++i) {
      out.emplace_back(scene.groups[i], i < scene.group_fronts.size() ? scene.group_fronts[i] : std::string());
    }
    break;
  case config::CollectionSource::tag:
  case config::CollectionSource::tag_parent:
    for (const auto& tag : scene.tags) {
      const auto links = scene.tag_links.find(tag);
      bool hit = false;
      if (rule.source == config::CollectionSource::tag) {
        hit = glob_match(rule.arg, tag);
      } else if (links != scene.tag_links.end()) {
        for (const auto& parent : links->second.parents) {
          hit = hit || same_name(parent, rule.arg);
        }
      }
      if (hit) {
        out.emplace_back(tag, links == scene.tag_links.end() ? std::string() : links->second.image_path);
      }
    }
    break;
  case config::CollectionSource::performer:
    for (const auto& p : scene.performers) {
      if (rule.arg == "all" || p.favorite) {
        out.emplace_back(p.name, p.image_path);
      }
    }
    break;
  case config::CollectionSource::organized:
    if (scene.organized) {
      out.emplace_back(rule.arg, std::string());
    }
    break;
  }
  return out;
}

bool passes(const std::vector<config::TagPattern>& patterns, const stash::Scene& scene, const std::string& tag) {
  const auto links = scene.tag_links.find(tag);
  for (const auto& p : patterns) {
    if (!p.parent && glob_match(p.text, tag)) {
      return true;
    }
    if (p.parent && same_name(p.text, tag)) {
      return true; // the family's own head
    }
    if (p.parent && links != scene.tag_links.end()) {
      for (const auto& parent : links->second.parents) {
        if (same_name(parent, p.text)) {
          return true;
        }
      }
    }
  }
  return false;
}

} // namespace

std::vector<CollectionName> collections_for(const stash::Scene& scene, const config::Settings& settings) {
  std::vector<config::CollectionRule> rules;
  if (settings.collections.empty()) {
    rules = rules_from_booleans(settings);
  } else if (auto parsed = config::parse_collection_rules(settings.collections)) {
    rules = std::move(*parsed);
  } else {
    return {};
  }
  std::vector<CollectionName> out;
  for (const auto& rule : rules) {
    for (const auto& [name, image] : sources_of(rule, scene)) {
      if (!util::trim(name).empty()) {
        out.push_back({settings.collection_prefix + render_name(rule.name, name), image});
      }
    }
  }
  return out;
}

std::vector<std::string> genres_for(const stash::Scene& scene, const config::Settings& settings) {
  const auto include = config::parse_tag_filter(settings.genre_include);
  const auto exclude = config::parse_tag_filter(settings.genre_exclude);
  std::vector<std::string> out;
  for (const auto& tag : scene.tags) {
    const bool included = !include || include->empty() || passes(*include, scene, tag);
    const bool excluded = exclude && passes(*exclude, scene, tag);
    if (included && !excluded) {
      out.push_back(tag);
    }
  }
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  const auto p = util::utf8::decode(match::fold_text(std::string(pattern)));
  const auto t = util::utf8::decode(match::fold_text(std::string(text)));
  // The classic greedy walk: on a mismatch, let the last '*' swallow one more character.
  size_t pi = 0;
  size_t ti = 0;
  size_t star = std::string::npos;
  size_t star_t = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti]))) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      star_t = ti;
    } else if (star != std::string::npos) {
      pi = star + 1;
      ti = ++star_t;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') {
    ++pi;
  }
  return pi == p.size();
}

} // namespace fieldsync
