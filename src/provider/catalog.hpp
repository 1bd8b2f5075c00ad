// The provider's local copy of Stash (spec 4.6): every Stash file with its scene, for matching
// PMS's file names, and every scene as last read, for answering PMS without waiting on Stash.
// The worker writes both (each job, and a full build by paging Stash); the provider reads.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "match/path_map.hpp"
#include "plex/client.hpp"
#include "stash/client.hpp"
#include "stash/scene.hpp"
#include "store/db.hpp"
#include "util/expected.hpp"

namespace provider {

// Replaces the scene's snapshot and its files in one transaction.
// Returns the scenes left without any file because this one has theirs now (merged away): the
// caller checks them with Stash.
util::Result<std::vector<std::string>> store_scene(store::Db& db, const stash::Scene& scene, const match::PathMap& map,
                                                   int64_t now_ms);
util::Result<void> forget_scene(store::Db& db, const std::string& scene_id);

struct Snapshot {
  stash::Scene scene;
  int64_t fetched_ms = 0;
};
util::Result<std::optional<Snapshot>> load_snapshot(store::Db& db, const std::string& scene_id);
// Whether the scene is in the copy, without reading it (the image route asks on every request).
util::Result<bool> has_snapshot(store::Db& db, const std::string& scene_id);

// Pages through every scene in Stash (the full SyncScene fragment, 100 a page) into the catalog,
// then drops scenes Stash no longer has. progress(done, total) after each page.
struct BuildReport {
  int64_t scenes = 0;
  int64_t files = 0;
  int64_t removed = 0;
};
util::Result<BuildReport> build_catalog(stash::StashClient& stash, store::Db& db, const match::PathMap& map,
                                        int64_t now_ms, const std::function<void(int64_t, int64_t)>& progress = {});
// When path_map changed since the files were stored: their Plex-side paths again.
util::Result<int64_t> remap_files(store::Db& db, const match::PathMap& map);
// kv key: when the last full build finished (ms), absent before the first.
inline constexpr const char* k_catalog_built_kv = "provider_catalog_built_ms";
// kv key: the Plex library folders (JSON list), written by the worker whenever it reads sections.
inline constexpr const char* k_plex_locations_kv = "plex_section_locations";
// Keeps every library folder PMS has, for match_file: written by whoever reads Plex's sections
// (the worker, and the provider host's catch-up after each catalog build, so that a fresh
// pull-only install knows them before PMS asks anything).
util::Result<void> remember_library_folders(store::Db& db, const std::vector<plex::Section>& sections);

// provider_keys (spec 4.2): what PMS read under a ratingKey. Written on each metadata answer
// (at most once a minute for an unchanged scene, so a scan is not a write per request).
util::Result<void> note_served(store::Db& db, const std::string& rating_key, const stash::Scene& scene, int64_t now_ms);
// The scene version PMS last read under the key ("" when it never asked).
util::Result<std::string> served_version(store::Db& db, const std::string& rating_key);
// The scene that owns a file the key covered, now that the key's own scene is gone (merged
// away, or deleted and re-created by a rescan).
util::Result<std::optional<std::string>> alias_scene(store::Db& db, const std::string& rating_key);

// PMS's `filename` in one comparable form: backslashes as '/', no leading or doubled '/', NFC and
// case folded. nullopt when it is empty or has a "." or ".." segment.
std::optional<std::string> normalize_filename(const std::string& filename);

struct FileMatch {
  enum class Kind {
    none,      // no Stash file has this name
    exact,     // a library folder + filename is a Stash file (after path_map)
    suffix,    // one scene's file ends with the relative path
    ambiguous, // several scenes fit equally well: no automatic match
  };
  Kind kind = Kind::none;
  std::vector<std::string> scenes; // the scene, or the candidates when ambiguous
};
const char* to_string(FileMatch::Kind kind);

// Resolves a PMS filename to one scene (spec 4.3 steps 2 and 3): exactly through every library
// folder in locations, then by a unique suffix. Every form PMS may send works: relative with or
// without a leading '/', with the library folder's own name first, or the full path.
util::Result<FileMatch> match_file(store::Db& db, const std::string& filename,
                                   const std::vector<std::string>& locations);

} // namespace provider
