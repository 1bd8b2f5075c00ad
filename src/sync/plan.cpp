#include "sync/plan.hpp"

#include <algorithm>
#include <cstdlib>

#include <utf8proc.h>

#include "util/strings.hpp"

namespace fieldsync {

std::string sanitize(const std::string& text, bool allow_newline) {
  utf8proc_uint8_t* normalized = nullptr;
  const auto len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &normalized, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  std::string nfc;
  if (len < 0) {
    // Invalid UTF-8: keep only the ASCII bytes rather than send garbage to Plex.
    for (const char c : text) {
      if (static_cast<unsigned char>(c) < 0x80) {
        nfc.push_back(c);
      }
    }
  } else {
    nfc.assign(reinterpret_cast<const char*>(normalized), static_cast<size_t>(len));
  }
  std::free(normalized);
  std::string out;
  out.reserve(nfc.size());
  for (size_t i = 0; i < nfc.size(); ++i) {
    const auto c = static_cast<unsigned char>(nfc[i]);
    if (c == '\n' && allow_newline) {
      out.push_back('\n');
    } else if (c == '\t' || c == '\n' || c == '\r') {
      out.push_back(' ');
    } else if (c < 0x20 || c == 0x7f) {
      continue;
    } else if (c == 0xC2 && i + 1 < nfc.size() && static_cast<unsigned char>(nfc[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(nfc[i + 1]) <= 0x9F) {
      ++i; // C1 control (U+0080..U+009F)
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return util::trim(out);
}

namespace {

bool same_names(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (!util::iequals(a[i], b[i])) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> unique_clean(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    auto clean = sanitize(n, false);
    if (clean.empty()) {
      continue;
    }
    const bool dup = std::any_of(out.begin(), out.end(), [&](const auto& o) { return util::iequals(o, clean); });
    if (!dup) {
      out.push_back(std::move(clean));
    }
  }
  return out;
}

void set_scalar(EditPlan& plan, const std::string& field, const std::string& wanted, const std::string& current,
                bool locked) {
  if (wanted == current && locked) {
    return;
  }
  plan.params.emplace_back(field + ".value", wanted);
  plan.params.emplace_back(field + ".locked", "1");
  plan.changed.push_back(field);
}

// The complete list, explicit removals of what Plex has beyond it, and a lock: correct whether
// Plex treats the indexed form as "add" or "replace".
void set_tags(EditPlan& plan, const std::string& tag, const std::vector<std::string>& wanted,
              const std::vector<std::string>& current, bool locked) {
  if (same_names(wanted, current) && locked) {
    return;
  }
  for (size_t i = 0; i < wanted.size(); ++i) {
    plan.params.emplace_back(tag + "[" + std::to_string(i) + "].tag.tag", wanted[i]);
  }
  std::string removals;
  for (const auto& c : current) {
    const bool keep = std::any_of(wanted.begin(), wanted.end(), [&](const auto& w) { return util::iequals(w, c); });
    if (!keep) {
      if (!removals.empty()) {
        removals += ',';
      }
      removals += util::percent_encode(c);
    }
  }
  if (!removals.empty()) {
    plan.params.emplace_back(tag + "[].tag.tag-", removals);
  }
  plan.params.emplace_back(tag + ".locked", "1");
  plan.changed.push_back(tag);
}

bool valid_date(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') {
    return false;
  }
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (d[i] < '0' || d[i] > '9') {
      return false;
    }
  }
  const int month = std::atoi(d.substr(5, 2).c_str());
  const int day = std::atoi(d.substr(8, 2).c_str());
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

} // namespace

EditPlan plan_edit(const stash::Scene& scene, const plex::Item& item, const config::Settings& settings) {
  EditPlan plan;
  const auto locked = [&](const char* f) { return item.locked.count(f) > 0; };
  if (settings.sync_title) {
    auto title = sanitize(scene.title, false);
    if (title.empty() && !scene.files.empty()) {
      title = sanitize(scene.files.front().basename, false); // Stash shows the file name then
    }
    if (!title.empty()) {
      set_scalar(plan, "title", title, item.title, locked("title"));
    }
  }
  if (settings.sync_summary) {
    set_scalar(plan, "summary", sanitize(scene.details, true), item.summary, locked("summary"));
  }
  if (settings.sync_studio) {
    set_scalar(plan, "studio", sanitize(scene.studio, false), item.studio, locked("studio"));
  }
  if (settings.sync_date && (scene.date.empty() || valid_date(scene.date))) {
    set_scalar(plan, "originallyAvailableAt", scene.date, item.originally_available_at,
               locked("originallyAvailableAt"));
  }
  if (settings.sync_genres) {
    set_tags(plan, "genre", unique_clean(scene.tags), item.genres, locked("genre"));
  }
  if (settings.sync_actors) {
    std::vector<std::string> names;
    names.reserve(scene.performers.size());
    for (const auto& p : scene.performers) {
      names.push_back(p.name);
    }
    set_tags(plan, "actor", unique_clean(names), item.actors, locked("actor"));
  }
  return plan;
}

} // namespace fieldsync
