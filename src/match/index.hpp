// The Plex library index: every Part file of the configured sections, built by paging through
// the section listings once, so a scene is matched without per-scene searches.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "plex/client.hpp"

namespace match {

struct Candidate {
  std::string rating_key;
  std::string section_key;
  double score = 0;
  std::string reason;
};

class LibraryIndex {
public:
  // Pages through every section given (page_size items per request).
  plex::Result<void> build(plex::PlexClient& plex, const std::vector<plex::Section>& sections, int page_size = 200);
  void add(const std::string& section_key, const plex::ItemSummary& item);
  // Exact Part.file match of an already mapped path.
  [[nodiscard]] std::vector<Candidate> find(const std::string& plex_path) const;
  [[nodiscard]] size_t size() const { return by_path_.size(); }
  [[nodiscard]] bool built() const { return built_; }

private:
  struct Entry {
    std::string rating_key;
    std::string section_key;
  };
  std::unordered_multimap<std::string, Entry> by_path_;
  bool built_ = false;
};

// Resolves plex_library titles to movie sections; empty means every movie section.
util::Result<std::vector<plex::Section>> select_sections(const std::vector<plex::Section>& all,
                                                         const std::string& plex_library);

} // namespace match
