#include "sync/title_template.hpp"

#include <algorithm>

#include "util/strings.hpp"

namespace fieldsync {
namespace {

std::string strip_extension(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

std::string value_of(const std::string& field, const stash::Scene& s) {
  if (field == "title") {
    return s.title;
  }
  if (field == "code") {
    return s.code;
  }
  if (field == "date") {
    return s.date;
  }
  if (field == "year") {
    return s.date.size() >= 4 ? s.date.substr(0, 4) : std::string();
  }
  if (field == "studio") {
    return s.studio;
  }
  if (field == "parent_studio") {
    return s.parent_studio;
  }
  if (field == "performers") {
    std::vector<std::string> names;
    for (const auto& p : s.performers) {
      if (!p.name.empty()) {
        names.push_back(p.name);
      }
    }
    return util::join(names, ", ");
  }
  if (field == "group") {
    return s.groups.empty() ? std::string() : s.groups.front();
  }
  if (field == "group_index") {
    return s.group_index ? std::to_string(*s.group_index) : std::string();
  }
  if (field == "filename") {
    return s.files.empty() ? std::string() : strip_extension(s.files.front().basename);
  }
  return {};
}

} // namespace

std::string render_title(const config::TitleTemplate& t, const stash::Scene& scene) {
  std::vector<std::string> values;
  for (const auto& alternatives : t.fields) {
    std::string v;
    for (const auto& f : alternatives) {
      v = util::trim(value_of(f, scene));
      if (!v.empty()) {
        break;
      }
    }
    values.push_back(std::move(v));
  }
  // literals[k] sits between placeholder k-1 and placeholder k. A placeholder's text is kept with
  // the literal right after it when a later placeholder has a value (the separators up to it go);
  // the leading literal needs the first placeholder, the trailing one the last.
  std::string out;
  const size_t n = values.size();
  if (!values.front().empty()) {
    out += t.literals.front();
  }
  for (size_t k = 0; k < n; ++k) {
    if (values[k].empty()) {
      continue;
    }
    out += values[k];
    if (k + 1 == n) {
      out += t.literals.back();
      break;
    }
    const bool later = std::any_of(values.begin() + static_cast<std::ptrdiff_t>(k) + 1, values.end(),
                                   [](const std::string& v) { return !v.empty(); });
    if (later) {
      out += t.literals[k + 1];
    }
  }
  return out;
}

} // namespace fieldsync
