#include "match/index.hpp"

#include "util/strings.hpp"

namespace match {

plex::Result<void> LibraryIndex::build(plex::PlexClient& plex, const std::vector<plex::Section>& sections,
                                       int page_size) {
  by_path_.clear();
  for (const auto& section : sections) {
    int64_t start = 0;
    while (true) {
      auto page = plex.list_section(section.key, start, page_size);
      if (!page) {
        return tl::unexpected(page.error());
      }
      for (const auto& item : page->items) {
        add(section.key, item);
      }
      start += static_cast<int64_t>(page->items.size());
      if (page->items.empty() || start >= page->total) {
        break;
      }
    }
  }
  built_ = true;
  return {};
}

void LibraryIndex::add(const std::string& section_key, const plex::ItemSummary& item) {
  for (const auto& part : item.parts) {
    by_path_.emplace(part.file, Entry{item.rating_key, section_key});
  }
}

std::vector<Candidate> LibraryIndex::find(const std::string& plex_path) const {
  std::vector<Candidate> out;
  const auto [begin, end] = by_path_.equal_range(plex_path);
  for (auto it = begin; it != end; ++it) {
    out.push_back(Candidate{it->second.rating_key, it->second.section_key, 1.0, "exact path"});
  }
  return out;
}

util::Result<std::vector<plex::Section>> select_sections(const std::vector<plex::Section>& all,
                                                         const std::string& plex_library) {
  std::vector<plex::Section> out;
  const auto wanted = util::split(plex_library, ',');
  if (util::trim(plex_library).empty()) {
    for (const auto& s : all) {
      if (s.type == "movie") {
        out.push_back(s);
      }
    }
    if (out.empty()) {
      return util::fail("Plex has no movie library; create one or set plex_library");
    }
    return out;
  }
  for (const auto& raw : wanted) {
    const auto name = util::trim(raw);
    if (name.empty()) {
      continue;
    }
    bool found = false;
    for (const auto& s : all) {
      if (util::iequals(util::trim(s.title), name)) {
        out.push_back(s);
        found = true;
      }
    }
    if (!found) {
      std::string titles;
      for (const auto& s : all) {
        titles += (titles.empty() ? "'" : ", '") + s.title + "'";
      }
      return util::fail("plex_library: no Plex library is called '" + name + "'; Plex has " + titles);
    }
  }
  return out;
}

} // namespace match
