#include "provider/catalog.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "match/fold.hpp"
#include "util/strings.hpp"

namespace provider {
namespace {

std::string join_from(const std::vector<std::string>& parts, size_t first) {
  std::string out;
  for (size_t i = first; i < parts.size(); ++i) {
    out += out.empty() ? "" : "/";
    out += parts[i];
  }
  return out;
}

// A folded path without its leading '/' (and a Windows drive's colon kept as is).
std::string relative_form(const std::string& folded) {
  size_t start = 0;
  while (start < folded.size() && folded[start] == '/') {
    ++start;
  }
  return folded.substr(start);
}

util::Result<void> insert_files(store::Db& db, const stash::Scene& scene, const match::PathMap& map) {
  TRY_ASSIGN(auto remove, db.prepare("DELETE FROM stash_files WHERE scene_id = ?1"));
  TRY(remove.bind(1, scene.id).run());
  TRY_ASSIGN(auto insert, db.prepare("INSERT INTO stash_files (scene_id, path, path_fold, plex_fold, base_fold, size) "
                                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  for (const auto& file : scene.files) {
    TRY(insert.bind(1, scene.id)
            .bind(2, file.path)
            .bind(3, match::fold_path(file.path))
            .bind(4, match::fold_path(map.apply(file.path)))
            .bind(5, match::folded_basename(file.path))
            .bind(6, file.size)
            .run());
    insert.reset();
  }
  return {};
}

util::Result<void> upsert_snapshot(store::Db& db, const stash::Scene& scene, int64_t now_ms) {
  TRY_ASSIGN(auto stmt, db.prepare("INSERT OR REPLACE INTO scene_snapshots (scene_id, updated_at, fetched_ms, scene) "
                                   "VALUES (?1, ?2, ?3, ?4)"));
  return stmt.bind(1, scene.id).bind(2, scene.updated_at).bind(3, now_ms).bind(4, scene.source).run();
}

} // namespace

util::Result<std::vector<std::string>> store_scene(store::Db& db, const stash::Scene& scene, const match::PathMap& map,
                                                   int64_t now_ms) {
  TRY_ASSIGN(auto txn, store::Txn::begin(db));
  // A file belongs to one scene in Stash: one this scene has now left the scene that had it (a
  // merge moves the files and fires no hook for the scene merged away; issue #31).
  std::set<std::string> losers;
  {
    TRY_ASSIGN(auto had,
               db.prepare("SELECT DISTINCT scene_id FROM stash_files WHERE path_fold = ?1 AND scene_id <> ?2"));
    TRY_ASSIGN(auto drop, db.prepare("DELETE FROM stash_files WHERE path_fold = ?1 AND scene_id <> ?2"));
    for (const auto& file : scene.files) {
      const auto fold = match::fold_path(file.path);
      had.bind(1, fold).bind(2, scene.id);
      while (true) {
        TRY_ASSIGN(const bool row, had.step());
        if (!row) {
          break;
        }
        losers.insert(had.text_at(0));
      }
      had.reset();
      TRY(drop.bind(1, fold).bind(2, scene.id).run());
      drop.reset();
    }
  }
  TRY(insert_files(db, scene, map));
  TRY(upsert_snapshot(db, scene, now_ms));
  std::vector<std::string> emptied;
  TRY_ASSIGN(auto left, db.prepare("SELECT count(*) FROM stash_files WHERE scene_id = ?1"));
  for (const auto& id : losers) {
    left.bind(1, id);
    TRY_ASSIGN(const bool row, left.step());
    if (row && left.int_at(0) == 0) {
      emptied.push_back(id);
    }
    left.reset();
  }
  TRY(txn.commit());
  return emptied;
}

util::Result<void> forget_scene(store::Db& db, const std::string& scene_id) {
  TRY_ASSIGN(auto txn, store::Txn::begin(db));
  for (const char* sql :
       {"DELETE FROM stash_files WHERE scene_id = ?1", "DELETE FROM scene_snapshots WHERE scene_id = ?1"}) {
    TRY_ASSIGN(auto stmt, db.prepare(sql));
    TRY(stmt.bind(1, scene_id).run());
  }
  return txn.commit();
}

util::Result<bool> has_snapshot(store::Db& db, const std::string& scene_id) {
  TRY_ASSIGN(auto stmt, db.prepare("SELECT 1 FROM scene_snapshots WHERE scene_id = ?1"));
  stmt.bind(1, scene_id);
  return stmt.step();
}

util::Result<std::optional<Snapshot>> load_snapshot(store::Db& db, const std::string& scene_id) {
  TRY_ASSIGN(auto stmt, db.prepare("SELECT scene, fetched_ms FROM scene_snapshots WHERE scene_id = ?1"));
  stmt.bind(1, scene_id);
  TRY_ASSIGN(const bool row, stmt.step());
  if (!row) {
    return std::optional<Snapshot>();
  }
  const auto parsed = nlohmann::json::parse(stmt.text_at(0), nullptr, false);
  TRY_ASSIGN(auto scene, stash::scene_from_json(parsed));
  return std::optional<Snapshot>(Snapshot{std::move(scene), stmt.int_at(1)});
}

util::Result<void> note_served(store::Db& db, const std::string& rating_key, const stash::Scene& scene,
                               int64_t now_ms) {
  constexpr int64_t k_rewrite_ms = 60'000;
  {
    TRY_ASSIGN(auto seen, db.prepare("SELECT scene_id, served_updated_at, served_ms FROM provider_keys "
                                     "WHERE rating_key = ?1"));
    seen.bind(1, rating_key);
    TRY_ASSIGN(const bool row, seen.step());
    if (row && seen.text_at(0) == scene.id && seen.text_at(1) == scene.updated_at &&
        now_ms - seen.int_at(2) < k_rewrite_ms) {
      return {};
    }
  }
  // The files as Plex sees them: the same folding and path_map as stash_files.plex_fold.
  TRY_ASSIGN(auto plex, db.prepare("SELECT plex_fold FROM stash_files WHERE scene_id = ?1"));
  plex.bind(1, scene.id);
  auto plex_folds = nlohmann::json::array();
  while (true) {
    TRY_ASSIGN(const bool row, plex.step());
    if (!row) {
      break;
    }
    plex_folds.push_back(plex.text_at(0));
  }
  TRY_ASSIGN(auto stmt, db.prepare(R"sql(
INSERT INTO provider_keys (rating_key, scene_id, plex_folds, served_updated_at, served_ms) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT(rating_key) DO UPDATE SET scene_id = excluded.scene_id, served_updated_at = excluded.served_updated_at,
  served_ms = excluded.served_ms,
  plex_folds = CASE WHEN excluded.plex_folds = '[]' THEN provider_keys.plex_folds ELSE excluded.plex_folds END)sql"));
  return stmt.bind(1, rating_key)
      .bind(2, scene.id)
      .bind(3, plex_folds.dump())
      .bind(4, scene.updated_at)
      .bind(5, now_ms)
      .run();
}

util::Result<std::string> served_version(store::Db& db, const std::string& rating_key) {
  TRY_ASSIGN(auto stmt, db.prepare("SELECT served_updated_at FROM provider_keys WHERE rating_key = ?1"));
  stmt.bind(1, rating_key);
  TRY_ASSIGN(const bool row, stmt.step());
  return row ? stmt.text_at(0) : std::string();
}

util::Result<std::optional<std::string>> alias_scene(store::Db& db, const std::string& rating_key) {
  std::string own;
  nlohmann::json folds;
  {
    TRY_ASSIGN(auto stmt, db.prepare("SELECT scene_id, plex_folds FROM provider_keys WHERE rating_key = ?1"));
    stmt.bind(1, rating_key);
    TRY_ASSIGN(const bool row, stmt.step());
    if (!row) {
      return std::optional<std::string>();
    }
    own = stmt.text_at(0);
    folds = nlohmann::json::parse(stmt.text_at(1), nullptr, false);
  }
  if (!folds.is_array()) {
    return std::optional<std::string>();
  }
  TRY_ASSIGN(auto owner, db.prepare("SELECT scene_id FROM stash_files WHERE plex_fold = ?1 AND scene_id <> ?2 "
                                    "ORDER BY CAST(scene_id AS INTEGER) LIMIT 1"));
  for (const auto& f : folds) {
    if (!f.is_string()) {
      continue;
    }
    owner.bind(1, f.get<std::string>()).bind(2, own);
    TRY_ASSIGN(const bool row, owner.step());
    if (row) {
      return std::optional<std::string>(owner.text_at(0));
    }
    owner.reset();
  }
  return std::optional<std::string>();
}

util::Result<BuildReport> build_catalog(stash::StashClient& stash, store::Db& db, const match::PathMap& map,
                                        int64_t now_ms, const std::function<void(int64_t, int64_t)>& progress) {
  TRY_ASSIGN(const auto facts, stash.facts());
  const auto document = stash::queries::find_scenes(stash::group_field_for(stash::parse_version(facts.version)));
  constexpr int k_page = 100;
  BuildReport report;
  std::set<std::string> seen;
  for (int page = 1;; ++page) {
    // Sorted by id so pages do not shift while scenes are being edited.
    const nlohmann::json vars = {{"f", nlohmann::json::object()},
                                 {"p", {{"page", page}, {"per_page", k_page}, {"sort", "id"}, {"direction", "ASC"}}}};
    TRY_ASSIGN(const auto data, stash.query(document, vars));
    if (!data.contains("findScenes") || !data.at("findScenes").is_object() ||
        !data.at("findScenes").contains("scenes") || !data.at("findScenes").at("scenes").is_array()) {
      return util::fail("Stash answered findScenes without a list of scenes; the provider's index is kept as it was");
    }
    const auto& found = data.at("findScenes");
    const auto total =
        found.contains("count") && found.at("count").is_number_integer() ? found.at("count").get<int64_t>() : 0;
    TRY_ASSIGN(auto txn, store::Txn::begin(db));
    for (const auto& j : found.at("scenes")) {
      TRY_ASSIGN(const auto scene, stash::scene_from_json(j));
      TRY(insert_files(db, scene, map));
      TRY(upsert_snapshot(db, scene, now_ms));
      seen.insert(scene.id);
      ++report.scenes;
      report.files += static_cast<int64_t>(scene.files.size());
    }
    TRY(txn.commit());
    if (progress) {
      progress(report.scenes, total);
    }
    if (found.at("scenes").size() < static_cast<size_t>(k_page)) {
      break;
    }
  }
  // Scenes Stash no longer has.
  TRY_ASSIGN(auto known, db.prepare("SELECT scene_id FROM scene_snapshots"));
  std::vector<std::string> gone;
  while (true) {
    TRY_ASSIGN(const bool row, known.step());
    if (!row) {
      break;
    }
    if (seen.count(known.text_at(0)) == 0) {
      gone.push_back(known.text_at(0));
    }
  }
  known.reset();
  for (const auto& id : gone) {
    // A scene deleted while the pages were read moves every later scene one page up, so one of
    // them was never seen although Stash has it (issue #31 dropped it). Stash is asked about each.
    TRY_ASSIGN(const auto still, stash.find_scene(id));
    if (still) {
      TRY(store_scene(db, *still, map, now_ms));
      ++report.scenes;
      report.files += static_cast<int64_t>(still->files.size());
      continue;
    }
    TRY(forget_scene(db, id));
    ++report.removed;
  }
  TRY(db.put_kv(k_catalog_built_kv, std::to_string(now_ms)));
  return report;
}

util::Result<int64_t> remap_files(store::Db& db, const match::PathMap& map) {
  TRY_ASSIGN(auto txn, store::Txn::begin(db));
  TRY_ASSIGN(auto all, db.prepare("SELECT rowid, path FROM stash_files"));
  std::vector<std::pair<int64_t, std::string>> rows;
  while (true) {
    TRY_ASSIGN(const bool row, all.step());
    if (!row) {
      break;
    }
    rows.emplace_back(all.int_at(0), all.text_at(1));
  }
  all.reset();
  TRY_ASSIGN(auto update, db.prepare("UPDATE stash_files SET plex_fold = ?2 WHERE rowid = ?1"));
  for (const auto& [rowid, path] : rows) {
    TRY(update.bind(1, rowid).bind(2, match::fold_path(map.apply(path))).run());
    update.reset();
  }
  TRY(txn.commit());
  return static_cast<int64_t>(rows.size());
}

std::optional<std::string> normalize_filename(const std::string& filename) {
  const auto folded = match::fold_path(filename);
  std::vector<std::string> parts;
  for (auto& part : util::split(folded, '/')) {
    if (part.empty()) {
      continue; // leading or doubled '/'
    }
    if (part == "." || part == "..") {
      return std::nullopt;
    }
    parts.push_back(std::move(part));
  }
  if (parts.empty()) {
    return std::nullopt;
  }
  return join_from(parts, 0);
}

const char* to_string(FileMatch::Kind kind) {
  switch (kind) {
  case FileMatch::Kind::none:
    return "none";
  case FileMatch::Kind::exact:
    return "file";
  case FileMatch::Kind::suffix:
    return "suffix";
  case FileMatch::Kind::ambiguous:
    return "ambiguous";
  }
  return "none";
}

util::Result<void> remember_library_folders(store::Db& db, const std::vector<plex::Section>& sections) {
  auto folders = nlohmann::json::array();
  for (const auto& section : sections) {
    for (const auto& location : section.locations) {
      folders.push_back(location);
    }
  }
  return db.put_kv(k_plex_locations_kv, folders.dump());
}

util::Result<FileMatch> match_file(store::Db& db, const std::string& filename,
                                   const std::vector<std::string>& locations) {
  FileMatch result;
  const auto name = normalize_filename(filename);
  if (!name) {
    return result;
  }
  const auto parts = util::split(*name, '/');
  std::vector<std::string> roots; // library folders, folded, without leading '/'
  for (const auto& location : locations) {
    if (auto root = normalize_filename(location)) {
      roots.push_back(std::move(*root));
    }
  }
  // The forms the relative path may take: as sent; without a library folder it starts with (PMS
  // sent the full path); without its first segment when that is a library folder's own name.
  std::vector<std::string> relatives{*name};
  // The full paths the name can stand for: a library folder + the name as sent, the name itself
  // (PMS sent the full path, with its leading '/'), or the folder whose own name the name starts with + the rest. A
  // form found by taking a folder off is joined to that folder only (two folders may hold the same relative path: only
  // one of them is the file PMS means).
  std::set<std::string> full_paths;
  // An absolute name (PMS's full-path form) is a full path in itself, folders known or not.
  if (filename.front() == '/' || (filename.size() > 2 && filename[1] == ':')) {
    full_paths.insert(*name);
  }
  for (const auto& root : roots) {
    full_paths.insert(root + "/" + *name);
    if (name->size() > root.size() + 1 && name->compare(0, root.size(), root) == 0 && (*name)[root.size()] == '/') {
      relatives.push_back(name->substr(root.size() + 1));
    }
    const auto root_name = root.substr(root.rfind('/') == std::string::npos ? 0 : root.rfind('/') + 1);
    if (parts.size() > 1 && parts.front() == root_name) {
      relatives.push_back(join_from(parts, 1));
      full_paths.insert(root + "/" + join_from(parts, 1));
    }
  }
  if (roots.empty() && parts.size() > 1) {
    relatives.push_back(join_from(parts, 1)); // no library folders known: the first may be one
  }
  // Candidates share the file name; the base index keeps this to a handful of rows.
  TRY_ASSIGN(auto stmt, db.prepare("SELECT scene_id, path_fold, plex_fold FROM stash_files WHERE base_fold = ?1"));
  stmt.bind(1, parts.back());
  std::set<std::string> exact;
  std::map<std::string, size_t> by_suffix; // scene -> longest relative form its file ends with
  while (true) {
    TRY_ASSIGN(const bool row, stmt.step());
    if (!row) {
      break;
    }
    const auto scene = stmt.text_at(0);
    const auto stash_rel = relative_form(stmt.text_at(1));
    const auto plex_rel = relative_form(stmt.text_at(2));
    if (full_paths.count(plex_rel) != 0U || full_paths.count(stash_rel) != 0U) {
      exact.insert(scene);
    }
    for (const auto& rel : relatives) {
      for (const auto* path : {&plex_rel, &stash_rel}) {
        const bool ends = *path == rel || (path->size() > rel.size() &&
                                           path->compare(path->size() - rel.size(), rel.size(), rel) == 0 &&
                                           (*path)[path->size() - rel.size() - 1] == '/');
        if (ends) {
          auto& best = by_suffix[scene];
          best = std::max(best, rel.size());
        }
      }
    }
  }
  if (exact.size() == 1) {
    result.kind = FileMatch::Kind::exact;
    result.scenes.assign(exact.begin(), exact.end());
    return result;
  }
  if (by_suffix.empty()) {
    return result;
  }
  // The unique longest suffix wins; a tie is ambiguous.
  size_t longest = 0;
  for (const auto& [scene, length] : by_suffix) {
    longest = std::max(longest, length);
  }
  std::vector<std::string> best;
  for (const auto& [scene, length] : by_suffix) {
    if (length == longest) {
      best.push_back(scene);
    }
  }
  if (best.size() == 1) {
    result.kind = FileMatch::Kind::suffix;
    result.scenes = best;
    return result;
  }
  result.kind = FileMatch::Kind::ambiguous;
  result.scenes = best;
  return result;
}

} // namespace provider
