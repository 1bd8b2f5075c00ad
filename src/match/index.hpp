// The Plex library index: every Part file of the configured sections, kept in the database so a
// scene is matched without per-scene searches, refreshed incrementally by updatedAt, and rebuilt
// when the Plex server, the libraries or the clear_match_cache epoch change.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "plex/client.hpp"
#include "store/db.hpp"

namespace match {

struct IndexedPart {
  std::string rating_key;
  std::string section_key;
  std::string title;
  std::string file;
  int64_t size = 0;
  int64_t duration_ms = 0;
};

struct RefreshReport {
  bool full = false;
  int64_t items_seen = 0;
  int64_t items_removed = 0;
  int64_t requests = 0;
  std::set<std::string> folders; // of the files listed (as Plex reports them)
};

// Pages of a listing until one comes back empty, or short once Plex's count is reached:
// totalSize may be missing or lower than the real count. Bounded by k_max_listing_pages.
inline constexpr int64_t k_max_listing_pages = 100000;
[[nodiscard]] inline bool listing_done(int64_t read, int64_t total, size_t page_items, int64_t page_size) {
  return page_items == 0 || (read >= total && static_cast<int64_t>(page_items) < page_size);
}

class LibraryIndex {
public:
  explicit LibraryIndex(store::Db& db) : db_(db) {}

  // identity names what the index is of (Plex URL, libraries, epoch). A full listing when it
  // changed or force_full; otherwise only items updated since the newest one already indexed.
  plex::Result<RefreshReport> refresh(plex::PlexClient& plex, const std::vector<plex::Section>& sections,
                                      const std::string& identity, bool force_full, int page_size = 500);
  [[nodiscard]] bool has(const std::string& identity);

  // Candidate parts for one scene file; every query uses an index of plex_parts / plex_items.
  util::Result<std::vector<IndexedPart>> exact(const std::string& plex_path);
  util::Result<std::vector<IndexedPart>> folded(const std::string& plex_path);
  util::Result<std::vector<IndexedPart>> same_basename(const std::string& plex_path);
  // Items whose folded title contains the scene title's longest word (bounded result).
  util::Result<std::vector<IndexedPart>> similar_titles(const std::string& title, int limit = 200);
  util::Result<std::vector<IndexedPart>> parts_of(const std::string& rating_key);

  util::Result<void> forget(const std::string& rating_key); // answered 404
  util::Result<void> add(const std::string& section_key, const plex::ItemSummary& item, int64_t generation);
  util::Result<void> clear();
  util::Result<int64_t> size();

private:
  util::Result<std::vector<IndexedPart>> query(const std::string& where, const std::string& value, int limit);
  store::Db& db_;
};

// Resolves plex_library titles to movie sections; empty means every movie section.
util::Result<std::vector<plex::Section>> select_sections(const std::vector<plex::Section>& all,
                                                         const std::string& plex_library);

} // namespace match
