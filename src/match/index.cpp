#include "match/index.hpp"

#include <algorithm>
#include <ctime>

#include "match/fold.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace match {
namespace {

// A database failure here (busy, full disk) is ours, not Plex's: the job waits and keeps its tries.
plex::Error db_error(const util::Error& e) {
  return plex::Error{plex::Failure::local, 0, std::nullopt, "library index: " + e.message};
}

} // namespace

bool LibraryIndex::has(const std::string& identity) {
  const auto stored = db_.get_kv("index_identity");
  return stored && *stored && **stored == identity;
}

util::Result<void> LibraryIndex::add(const std::string& section_key, const plex::ItemSummary& item,
                                     int64_t generation) {
  TRY_ASSIGN(auto upsert, db_.prepare(R"sql(
INSERT INTO plex_items(rating_key, section_key, title, title_fold, added_at, updated_at, seen)
VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT(rating_key) DO UPDATE SET section_key = excluded.section_key, title = excluded.title,
  title_fold = excluded.title_fold, added_at = excluded.added_at, updated_at = excluded.updated_at,
  seen = max(seen, excluded.seen))sql"));
  TRY(upsert.bind(1, item.rating_key)
          .bind(2, section_key)
          .bind(3, item.title)
          .bind(4, fold_text(item.title))
          .bind(5, item.added_at)
          .bind(6, item.updated_at)
          .bind(7, generation)
          .run());
  TRY_ASSIGN(auto drop, db_.prepare("DELETE FROM plex_parts WHERE rating_key = ?1"));
  TRY(drop.bind(1, item.rating_key).run());
  TRY_ASSIGN(auto insert, db_.prepare("INSERT INTO plex_parts(rating_key, file, path_fold, base_fold, size, "
                                      "duration_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  for (const auto& part : item.parts) {
    insert.reset();
    TRY(insert.bind(1, item.rating_key)
            .bind(2, part.file)
            .bind(3, fold_path(part.file))
            .bind(4, folded_basename(part.file))
            .bind(5, part.size)
            .bind(6, part.duration_ms)
            .run());
  }
  return {};
}

plex::Result<RefreshReport> LibraryIndex::refresh(plex::PlexClient& plex, const std::vector<plex::Section>& sections,
                                                  const std::string& identity, bool force_full, int page_size) {
  RefreshReport report;
  report.full = force_full || !has(identity);
  const int64_t before = plex.requests_sent();
  const int64_t generation = std::time(nullptr);
  if (report.full) {
    // A different server or library set: nothing indexed before can be trusted.
    if (!has(identity)) {
      if (auto cleared = clear(); !cleared) {
        return tl::unexpected(db_error(cleared.error()));
      }
    }
    (void)db_.delete_kv("index_identity");
  }
  for (const auto& section : sections) {
    int64_t since = 0;
    if (!report.full) {
      auto newest = db_.prepare("SELECT coalesce(max(updated_at), 0) FROM plex_items WHERE section_key = ?1");
      if (newest && newest->bind(1, section.key).step()) {
        since = newest->int_at(0);
      }
    }
    int64_t start = 0;
    int64_t said_total = 0;
    for (int64_t pages = 0; pages < k_max_listing_pages; ++pages) {
      auto page = plex.list_section(section.key, start, page_size, report.full ? 0 : std::max<int64_t>(since, 1));
      if (!page) {
        return tl::unexpected(page.error());
      }
      {
        auto txn = store::Txn::begin(db_);
        if (!txn) {
          return tl::unexpected(db_error(txn.error()));
        }
        for (const auto& item : page->items) {
          if (auto added = add(section.key, item, generation); !added) {
            return tl::unexpected(db_error(added.error()));
          }
        }
        if (auto committed = txn->commit(); !committed) {
          return tl::unexpected(db_error(committed.error()));
        }
      }
      for (const auto& item : page->items) {
        for (const auto& part : item.parts) {
          report.folders.insert(util::dirname(part.file));
        }
      }
      report.items_seen += static_cast<int64_t>(page->items.size());
      start += static_cast<int64_t>(page->items.size());
      said_total = std::max(said_total, page->total);
      if (listing_done(start, page->total, page->items.size(), page_size)) {
        break;
      }
    }
    if (start != said_total && report.full) {
      LOG_WARN("Plex said library section " << section.key << " holds " << said_total << " items but listed " << start
                                            << "; all of them were read");
    }
  }
  if (report.full) {
    // Whatever the complete listing did not contain is gone from Plex (or from the libraries).
    // No statement may stay open across BEGIN IMMEDIATE: a read snapshot older than another
    // lane's commit makes it fail at once with "database is locked", whatever the busy timeout.
    auto txn = store::Txn::begin(db_);
    if (!txn) {
      return tl::unexpected(db_error(txn.error()));
    }
    auto parts =
        db_.prepare("DELETE FROM plex_parts WHERE rating_key IN (SELECT rating_key FROM plex_items WHERE seen < ?1)");
    auto items = db_.prepare("DELETE FROM plex_items WHERE seen < ?1");
    if (!parts || !items || !parts->bind(1, generation).run() || !items->bind(1, generation).run()) {
      return tl::unexpected(db_error(util::Error{"cannot drop items Plex no longer lists"}));
    }
    report.items_removed = db_.changes();
    if (!db_.put_kv("index_identity", identity) || !txn->commit()) {
      return tl::unexpected(db_error(util::Error{"cannot store the new index"}));
    }
  }
  report.requests = plex.requests_sent() - before;
  return report;
}

util::Result<std::vector<IndexedPart>> LibraryIndex::query(const std::string& where, const std::string& value,
                                                           int limit) {
  TRY_ASSIGN(auto stmt, db_.prepare("SELECT p.rating_key, i.section_key, i.title, p.file, p.size, p.duration_ms "
                                    "FROM plex_parts p JOIN plex_items i ON i.rating_key = p.rating_key WHERE " +
                                    where + " LIMIT " + std::to_string(limit)));
  stmt.bind(1, value);
  std::vector<IndexedPart> out;
  while (true) {
    TRY_ASSIGN(const bool row, stmt.step());
    if (!row) {
      break;
    }
    out.push_back(IndexedPart{stmt.text_at(0), stmt.text_at(1), stmt.text_at(2), stmt.text_at(3), stmt.int_at(4),
                              stmt.int_at(5)});
  }
  return out;
}

util::Result<std::vector<IndexedPart>> LibraryIndex::exact(const std::string& plex_path) {
  return query("p.file = ?1", plex_path, 100);
}

util::Result<std::vector<IndexedPart>> LibraryIndex::folded(const std::string& plex_path) {
  return query("p.path_fold = ?1", fold_path(plex_path), 100);
}

util::Result<std::vector<IndexedPart>> LibraryIndex::same_basename(const std::string& plex_path) {
  return query("p.base_fold = ?1", folded_basename(plex_path), 200);
}

util::Result<std::vector<IndexedPart>> LibraryIndex::similar_titles(const std::string& title, int limit) {
  auto words = title_words(title);
  if (words.empty()) {
    return std::vector<IndexedPart>{};
  }
  const auto longest =
      *std::max_element(words.begin(), words.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
  if (longest.size() < 3) {
    return std::vector<IndexedPart>{}; // too common to narrow anything down
  }
  // instr() rather than LIKE: no escaping of % and _ in titles.
  return query("instr(i.title_fold, ?1) > 0", longest, limit);
}

util::Result<std::vector<IndexedPart>> LibraryIndex::parts_of(const std::string& rating_key) {
  return query("p.rating_key = ?1", rating_key, 100);
}

util::Result<void> LibraryIndex::forget(const std::string& rating_key) {
  TRY_ASSIGN(auto parts, db_.prepare("DELETE FROM plex_parts WHERE rating_key = ?1"));
  TRY(parts.bind(1, rating_key).run());
  TRY_ASSIGN(auto item, db_.prepare("DELETE FROM plex_items WHERE rating_key = ?1"));
  return item.bind(1, rating_key).run();
}

util::Result<void> LibraryIndex::clear() {
  return db_.exec("DELETE FROM plex_parts; DELETE FROM plex_items; DELETE FROM kv WHERE key = 'index_identity';");
}

util::Result<int64_t> LibraryIndex::size() {
  TRY_ASSIGN(auto stmt, db_.prepare("SELECT count(*) FROM plex_parts"));
  TRY(stmt.step());
  return stmt.int_at(0);
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
      std::string message = "plex_library: no Plex library is called '" + name + "'; Plex has ";
      message += titles;
      return util::fail(message);
    }
  }
  return out;
}

} // namespace match
