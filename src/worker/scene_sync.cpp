// One scene to Plex: remembered match re-checked cheaply, else matched through the persisted
// library index; metadata prepared and validated; one diffed edit; the poster only when changed.
#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "image/poster.hpp"
#include "match/fold.hpp"
#include "provider/catalog.hpp"
#include "provider/identity.hpp"
#include "provider/service.hpp"
#include "sync/plan.hpp"
#include "util/digest.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "worker/worker.hpp"

namespace worker {
namespace {

struct Record {
  std::string rating_key;
  std::string section_key;
  int score = 0;
  fieldsync::Written written;
};

// An item read together with others (plex::Item::batched) may come back as a listing renders it,
// tag lists cut short: planning from such a list would miss a tag to remove. It is used only when
// its parts are there and each list is at least as long as what Plex holds from PlexSync's last
// sync (what it wrote, or in a pull library what the provider served); a list PlexSync knows
// nothing about must be empty; and the locks PlexSync set on the fields it wrote must be listed
// (a listing carries no Field[], and planning without it would write every field again).
// Anything else is read alone.
bool complete_enough(const plex::Item& item, const fieldsync::Written& last) {
  if (item.parts.empty()) {
    return false;
  }
  for (const auto& [field, value] : last.scalars) {
    if (item.locked.count(field) == 0U) {
      return false;
    }
  }
  for (const auto& [tag, held] : {std::pair<std::string, const std::vector<std::string>*>{"genre", &item.genres},
                                  {"actor", &item.actors},
                                  {"collection", &item.collections}}) {
    auto known = last.lists.find(tag);
    if (known == last.lists.end()) {
      known = last.lists.find("served:" + tag);
    }
    if (known == last.lists.end() ? !held->empty() : held->size() < known->second.size()) {
      return false;
    }
  }
  return true;
}

std::optional<Record> load_record(store::Db& db, const std::string& scene_id) {
  auto stmt = db.prepare(
      "SELECT rating_key, section_key, match_score, coalesce(written, '') FROM sync_records WHERE scene_id = ?1");
  if (!stmt || !stmt->bind(1, scene_id).step().value_or(false)) {
    return std::nullopt;
  }
  return Record{stmt->text_at(0), stmt->text_at(1), static_cast<int>(stmt->int_at(2)),
                fieldsync::Written::from_json(stmt->text_at(3))};
}

// The edit a sync sends (and `sync --dry-run` shows): the scene's fields against the item, and
// against what PlexSync last wrote there when the scene is still matched to the same item.
fieldsync::EditPlan plan_for(const fieldsync::Prepared& prepared, const plex::Item& item,
                             const config::Settings& settings, const std::optional<Record>& record,
                             const std::string& rating_key) {
  const bool same_item = record && record->rating_key == rating_key;
  return fieldsync::plan_edit(prepared.desired, item, {settings.preserve_plex_edits, settings.tag_mode == "merge"},
                              same_item ? record->written : fieldsync::Written{});
}

std::vector<match::IndexedPart> parts_of(const plex::Item& item, const std::string& section_key) {
  std::vector<match::IndexedPart> out;
  for (const auto& p : item.parts) {
    out.push_back({item.rating_key, section_key, item.title, p.file, p.size, p.duration_ms});
  }
  return out;
}

std::string describe(const std::vector<match::Candidate>& ranked) {
  std::string out;
  for (const auto& c : ranked) {
    out += (out.empty() ? "" : "; ") + std::string("Plex item ") + c.rating_key + " '" + c.title + "' " +
           std::to_string(c.score) + " (" + c.reason + ", " + util::log::display_path(c.file) + ")";
  }
  return out;
}

plex::Error index_error(const util::Error& e) {
  return plex::Error{plex::Failure::local, 0, std::nullopt, "library index: " + e.message};
}

} // namespace

match::SceneFacts Worker::facts_of(const stash::Scene& scene) const {
  match::SceneFacts facts;
  for (const auto& f : scene.files) {
    facts.files.push_back({path_map_.apply(f.path), f.size, f.duration});
  }
  facts.title = scene.title;
  return facts;
}

plex::Result<std::vector<plex::Section>> Worker::library_sections() {
  const std::lock_guard lock(shared_->mutex);
  const auto wanted = settings_->plex_url + "\n" + settings_->plex_library;
  if (shared_->sections_for != wanted || shared_->sections.empty()) {
    auto all = plex_->sections();
    if (!all) {
      return tl::unexpected(all.error());
    }
    auto chosen = match::select_sections(*all, settings_->plex_library);
    if (!chosen) {
      return tl::unexpected(plex::Error{plex::Failure::permanent_status, 0, std::nullopt, chosen.error().message});
    }
    // Keys that changed (a library re-created) are noted with the sections, under the same lock:
    // a lane whose request 404ed meanwhile then knows to try again at once.
    const auto keys_of = [](const std::vector<plex::Section>& list) {
      std::set<std::string> keys;
      for (const auto& section : list) {
        keys.insert(section.key);
      }
      return keys;
    };
    if (!shared_->sections.empty() && keys_of(shared_->sections) != keys_of(*chosen)) {
      shared_->sections_changed_ms = clock_.now_ms();
    }
    shared_->sections = *chosen;
    shared_->sections_for = wanted;
    shared_->index_refreshed_ms = 0;
    (void)provider::remember_library_folders(db_, *all);
  }
  return shared_->sections;
}

plex::Result<match::Decision> Worker::match_scene(const match::SceneFacts& facts, bool force_refresh) {
  auto sections = library_sections();
  if (!sections) {
    return tl::unexpected(sections.error());
  }
  // What the index is of; clear_match_cache bumps the epoch and so forces a full listing.
  const auto epoch = db_.get_kv("index_epoch");
  std::string identity = settings_->plex_url + "\n" + (epoch && *epoch ? **epoch : std::string("0"));
  for (const auto& s : *sections) {
    identity += "\n" + s.key;
  }
  match::LibraryIndex index(db_);
  const auto refresh = [&](bool force) -> plex::Result<void> {
    const std::lock_guard lock(shared_->mutex); // one lane lists Plex; the others wait for it
    const int64_t now = clock_.now_ms();
    const auto last_full = db_.get_kv("index_full_ms");
    const int64_t last_full_ms = last_full && *last_full ? std::atoll((*last_full)->c_str()) : 0;
    const bool full = !index.has(identity) || now - last_full_ms >= k_index_full_age_ms;
    // However many jobs missed, one listing per window: the misses meanwhile wait for the next.
    // A remembered item found gone forces one at once, unless another forced one just ran (a
    // library Plex re-keyed wholesale costs one listing per short window, not one per scene).
    const int64_t last = force ? shared_->forced_refresh_ms : shared_->index_refreshed_ms;
    const int64_t min_age = force ? k_index_forced_min_age_ms : k_index_min_age_ms;
    if (!full && last != 0 && now - last < min_age) {
      return {}; // another lane (or this one) just refreshed
    }
    auto report = index.refresh(*plex_, *sections, identity, full);
    if (!report) {
      return tl::unexpected(report.error());
    }
    shared_->index_refreshed_ms = now;
    if (force) {
      shared_->forced_refresh_ms = now;
    }
    // Jobs waiting for Plex to scan a folder it now lists files in share this refresh.
    if (auto woken = queue_.wake_waiting_for(report->folders, now); woken && *woken > 0) {
      LOG_DEBUG("Plex lists new files: " << *woken << " waiting job(s) are due now");
    }
    if (report->full) {
      (void)db_.put_kv("index_full_ms", std::to_string(now));
    }
    LOG_DEBUG("library index " << (report->full ? "rebuilt" : "refreshed") << ": " << report->items_seen
                               << " items read in " << report->requests << " requests, " << report->items_removed
                               << " removed");
    return {};
  };
  if (!index.has(identity)) {
    if (auto done = refresh(false); !done) {
      return tl::unexpected(done.error());
    }
  }
  auto decision = match::find_match(index, facts, settings_->match_min_score);
  if (!decision) {
    return tl::unexpected(index_error(decision.error()));
  }
  if (decision->verdict != match::Verdict::confident || force_refresh) {
    bool due = force_refresh;
    {
      const std::lock_guard lock(shared_->mutex);
      due = due || shared_->index_refreshed_ms == 0 ||
            clock_.now_ms() - shared_->index_refreshed_ms >= k_index_min_age_ms;
    }
    if (due) {
      if (auto done = refresh(force_refresh); !done) {
        return tl::unexpected(done.error());
      }
      decision = match::find_match(index, facts, settings_->match_min_score);
      if (!decision) {
        return tl::unexpected(index_error(decision.error()));
      }
    }
  }
  return std::move(*decision);
}

void Worker::note_review(const std::string& scene_id, const match::Decision& decision) {
  nlohmann::json candidates = nlohmann::json::array();
  for (const auto& c : decision.ranked) {
    candidates.push_back({{"rating_key", c.rating_key},
                          {"title", c.title},
                          {"file", util::log::display_path(c.file)},
                          {"score", c.score},
                          {"reason", c.reason},
                          {"section_key", c.section_key}});
  }
  if (auto stmt = db_.prepare(R"sql(
INSERT INTO match_reviews(scene_id, reason, candidates, first_ms, last_ms) VALUES(?1, ?2, ?3, ?4, ?4)
ON CONFLICT(scene_id) DO UPDATE SET reason = excluded.reason, candidates = excluded.candidates,
  last_ms = excluded.last_ms)sql");
      stmt) {
    (void)stmt->bind(1, scene_id).bind(2, decision.why).bind(3, candidates.dump()).bind(4, clock_.now_ms()).run();
  }
}

void Worker::clear_review(const std::string& scene_id) {
  if (auto stmt = db_.prepare("DELETE FROM match_reviews WHERE scene_id = ?1"); stmt) {
    (void)stmt->bind(1, scene_id).run();
  }
}

plex::Result<Worker::Outcome> Worker::scene_not_in_plex(const stash::Scene& scene) {
  const std::string path = path_map_.apply(scene.files.front().path); // sync_scene skipped file-less scenes
  if (settings_->skip_not_found) {
    LOG_DEBUG("scene " << scene.id << ": Plex has no item for " << util::log::display_path(path)
                       << "; skipped (skip_not_found)");
    return Outcome::skipped;
  }
  std::string scan_note;
  const auto folder = util::dirname(path);
  waiting_folder_ = folder;
  if (!settings_->skip_plex_scan) {
    // One partial scan per folder per window, however many of its scenes miss: Plex queues every
    // scan it is asked for. The jobs waiting on the folder share it and the next index refresh.
    const auto key = "scan_folder:" + folder;
    const auto asked = db_.get_kv(key);
    const int64_t asked_ms = asked && *asked ? std::atoll((*asked)->c_str()) : 0;
    const int64_t now = clock_.now_ms();
    if (asked_ms > 0 && now - asked_ms < k_scan_window_ms) {
      scan_note = "; Plex was asked to scan " + util::log::display_path(folder) + " " +
                  std::to_string((now - asked_ms) / 1000) + " s ago";
    } else {
      auto sections = library_sections();
      if (!sections) {
        return tl::unexpected(sections.error());
      }
      if (const auto* section = plex::section_holding(*sections, folder); section != nullptr) {
        if (auto scanned = plex_->scan(section->key, folder); !scanned) {
          return tl::unexpected(scanned.error());
        }
        (void)db_.put_kv(key, std::to_string(now));
        scan_note = "; asked Plex to scan " + util::log::display_path(folder);
      } else {
        scan_note = "; no Plex library folder holds " + util::log::display_path(folder) + " (check path_map)";
      }
    }
  }
  return tl::unexpected(plex::Error{plex::Failure::not_found, 0, std::nullopt,
                                    "no Plex item has the file " + util::log::display_path(path) +
                                        " (not scanned by Plex yet, or path_map does not map Stash's path)" +
                                        scan_note});
}

std::string Worker::poster_source(const stash::Scene& scene, const std::string& cover_url) const {
  if (cover_url.empty()) {
    return {}; // posters are not synced (skip_poster) or Stash has no cover
  }
  if (settings_->poster_from_group) {
    for (const auto& front : scene.group_fronts) {
      if (!front.empty()) {
        return front; // the first group with a front cover of its own
      }
    }
  }
  return cover_url;
}

plex::Result<bool> Worker::sync_image(plex::PlexClient::ImageSlot slot, const std::string& scene_id,
                                      const std::string& rating_key, const std::string& url) {
  if (url.empty()) {
    return false;
  }
  const bool poster = slot == plex::PlexClient::ImageSlot::poster;
  const std::string table = poster ? "posters" : "backgrounds";
  const char* what = poster ? "poster" : "background";
  // A shaped poster is another image than the cover: the shape is part of what was uploaded.
  const auto shape = poster ? image::poster_shape_of(settings_->poster_shape).value_or(image::PosterShape::as_is)
                            : image::PosterShape::as_is;
  const auto shape_tag = shape == image::PosterShape::as_is ? std::string() : "#" + settings_->poster_shape;
  std::string last_url;
  std::string last_sha1;
  if (auto stmt = db_.prepare("SELECT stash_url, sha1 FROM " + table + " WHERE rating_key = ?1");
      stmt && stmt->bind(1, rating_key).step().value_or(false)) {
    last_url = stmt->text_at(0);
    last_sha1 = stmt->text_at(1);
  }
  if (url + shape_tag == last_url) {
    return false; // Stash's screenshot URL carries a version: the same URL is the same image
  }
  auto image = stash_->fetch_image(url);
  if (!image) {
    LOG_WARN("scene " << scene_id << ": cover not fetched from Stash (" << image.error().message << "); the " << what
                      << " is left as it is");
    return false;
  }
  // A placeholder: keep what Plex has.
  const auto sha1 = *image ? util::sha1_hex(shape_tag + (*image)->bytes) : last_sha1;
  bool uploaded = false;
  if (sha1 != last_sha1) {
    auto bytes = std::move((*image)->bytes);
    auto type = std::move((*image)->content_type);
    if (auto shaped = image::shape_poster(bytes, shape)) {
      bytes = std::move(shaped->bytes);
      type = std::move(shaped->content_type);
    }
    if (auto done = plex_->upload_image(rating_key, slot, bytes, type); !done) {
      return tl::unexpected(done.error());
    }
    uploaded = true;
    LOG_INFO("scene " << scene_id << " -> Plex item " << rating_key << ": new " << what);
  }
  if (auto stmt =
          db_.prepare("INSERT INTO " + table + "(rating_key, stash_url, sha1, uploaded_ms) VALUES(?1, ?2, ?3, ?4) " +
                      "ON CONFLICT(rating_key) DO UPDATE SET stash_url = excluded.stash_url, sha1 = " +
                      "excluded.sha1, uploaded_ms = CASE WHEN excluded.sha1 = " + table + ".sha1 THEN " + table +
                      ".uploaded_ms ELSE excluded.uploaded_ms END");
      stmt) {
    (void)stmt->bind(1, rating_key).bind(2, url + shape_tag).bind(3, sha1).bind(4, clock_.now_ms()).run();
  }
  return uploaded;
}

plex::Result<Worker::Outcome> Worker::sync_scene(const stash::Scene& scene) {
  if (scene.files.empty()) {
    LOG_DEBUG("scene " << scene.id << " has no file, so no Plex item; skipped");
    return Outcome::skipped;
  }
  const auto facts = facts_of(scene);
  auto record = load_record(db_, scene.id);
  std::optional<match::Candidate> chosen;
  std::optional<plex::Item> item;
  std::optional<plex::Item> remembered; // read but no longer fitting: the index may still pick it
  match::LibraryIndex index(db_);
  // The remembered item, re-checked against its own parts: one request, no index needed.
  if (record) {
    auto current = read_item(record->rating_key);
    if (current && current->batched && !complete_enough(*current, record->written)) {
      LOG_DEBUG("Plex item " << record->rating_key << ": the read shared with other items may be partial; reading it "
                             << "alone");
      current = plex_->item(record->rating_key);
    }
    if (current) {
      const auto section = record->section_key.empty() ? current->section_id : record->section_key;
      auto ranked = match::rank(facts, parts_of(*current, section));
      if (!ranked.empty() && ranked.front().score >= std::min(settings_->match_min_score, record->score)) {
        chosen = ranked.front();
        item = std::move(*current);
      } else {
        remembered = std::move(*current);
      }
    } else if (current.error().kind == plex::Failure::not_found) {
      LOG_DEBUG("Plex item " << record->rating_key << " is gone; matching scene " << scene.id << " again");
      (void)index.forget(record->rating_key);
    } else {
      return tl::unexpected(current.error());
    }
  }
  // Moved in Stash or re-keyed in Plex: look at what Plex has now.
  const bool remembered_gone = record && !chosen;
  for (int attempt = 0; !chosen && attempt < 2; ++attempt) {
    auto decision = match_scene(facts, attempt > 0 || remembered_gone);
    if (!decision) {
      return tl::unexpected(decision.error());
    }
    if (decision->verdict == match::Verdict::none) {
      return scene_not_in_plex(scene);
    }
    if (decision->verdict == match::Verdict::uncertain) {
      if (!settings_->accept_uncertain_matches) {
        note_review(scene.id, *decision);
        LOG_WARN("scene " << scene.id << ": uncertain Plex match, nothing written: " << decision->why
                          << ". Candidates: " << describe(decision->ranked)
                          << ". Fix path_map, or check accept_uncertain_matches to accept the best one");
        return Outcome::needs_review;
      }
      LOG_WARN("scene " << scene.id << ": low-confidence match used (accept_uncertain_matches is on): " << decision->why
                        << ". Candidates: " << describe(decision->ranked));
    }
    auto best = decision->ranked.front();
    // The same file in a push and a pull library: the push item is the scene's own (its fields
    // are written); the pull twin is refreshed after it (sync_pull_siblings).
    for (const auto& c : decision->ranked) {
      if (c.score == best.score && !c.section_key.empty() && pull_identifier(c.section_key, "").empty()) {
        best = c;
        break;
      }
    }
    auto current = remembered && remembered->rating_key == best.rating_key ? plex::Result<plex::Item>(*remembered)
                                                                           : plex_->item(best.rating_key);
    remembered.reset();
    if (!current && current.error().kind == plex::Failure::not_found) {
      (void)index.forget(best.rating_key); // re-keyed or deleted since the index saw it
      continue;
    }
    if (!current) {
      return tl::unexpected(current.error());
    }
    chosen = best;
    item = std::move(*current);
  }
  if (!chosen) {
    return scene_not_in_plex(scene);
  }
  if (item->parts.size() > 1) {
    // A stacked item (one Plex item, several files) holding another synced scene's file too: two
    // scenes wrote it in turn (issue #31). The scene that has it keeps it; this one waits for a
    // person's choice.
    if (auto owner = db_.prepare("SELECT scene_id FROM sync_records WHERE rating_key = ?1 AND scene_id != ?2 LIMIT 1");
        owner && owner->bind(1, chosen->rating_key).bind(2, scene.id).step().value_or(false)) {
      const auto other = owner->text_at(0);
      match::Decision stacked{match::Verdict::uncertain,
                              {*chosen},
                              "Plex item " + chosen->rating_key + " is stacked: it holds scene " + other +
                                  "'s file too and shows that scene"};
      note_review(scene.id, stacked);
      LOG_WARN("scene " << scene.id << ": " << stacked.why << "; nothing written. Split the files in Plex, or make "
                        << "the item show this scene with `plexsync review pick " << scene.id << " "
                        << chosen->rating_key << "`");
      return Outcome::needs_review;
    }
  }
  clear_review(scene.id);
  if (chosen->section_key.empty()) {
    chosen->section_key = item->section_id;
  }
  if (auto pull = pull_identifier(chosen->section_key, item->guid); !pull.empty()) {
    const bool same_item = record && record->rating_key == chosen->rating_key;
    auto pulled = sync_pulled(scene, *chosen, *item, same_item ? record->written : fieldsync::Written{}, pull);
    if (pulled) {
      TRY(sync_pull_siblings(scene, facts, *chosen));
    }
    return pulled;
  }

  auto prepared = fieldsync::prepare(scene, *settings_);
  for (const auto& v : prepared.violations) {
    LOG_WARN("scene " << scene.id << ": " << v.field << " " << v.message);
  }
  const auto last_written = record && record->rating_key == chosen->rating_key ? record->written : fieldsync::Written{};
  keep_later_plex_rating(scene, *item, last_written, prepared.desired);
  auto plan = plan_for(prepared, *item, *settings_, record, chosen->rating_key);
  bool wrote = false;
  if (!plan.params.empty()) {
    TRY_ASSIGN(const auto new_collections, note_new_collections(chosen->section_key, plan));
    auto batches = plex::split_edit(plan.params, plex::k_max_edit_query_bytes);
    auto edited = plex_->edit_all(chosen->section_key, chosen->rating_key, batches);
    if (!edited && edited.error().status == 414) {
      // PMS's request-line limit is undocumented (fidelity findings row 6): once, with a third of
      // the summary and half the line. Resending what went through already is harmless: scalars
      // are set again and indexed tags only append.
      LOG_WARN("scene " << scene.id << ": Plex refused an edit as too long (414); retrying once with a shorter "
                        << "summary and smaller requests");
      prepared = fieldsync::prepare(scene, *settings_, fieldsync::k_summary_encoded_max / 3);
      keep_later_plex_rating(scene, *item, last_written, prepared.desired);
      plan = plan_for(prepared, *item, *settings_, record, chosen->rating_key);
      batches = plex::split_edit(plan.params, plex::k_max_edit_query_bytes / 2);
      edited = plex_->edit_all(chosen->section_key, chosen->rating_key, batches);
    }
    forget_read_ahead(chosen->rating_key); // what was read before this edit is stale now
    if (!edited) {
      return tl::unexpected(edited.error());
    }
    remember_new_collections(chosen->section_key, new_collections);
    wrote = true;
    LOG_INFO("scene " << scene.id << " -> Plex item " << chosen->rating_key << " (match " << chosen->score << ", "
                      << chosen->reason << "): updated " << util::join(plan.changed, ", ")
                      << (batches.size() > 1 ? " in " + std::to_string(batches.size()) + " requests" : ""));
  } else {
    LOG_DEBUG("scene " << scene.id << " -> Plex item " << chosen->rating_key << ": already up to date");
  }
  if (!plan.kept.empty()) {
    LOG_DEBUG("scene " << scene.id << ": kept Plex's own " << util::join(plan.kept, ", ") << " (preserve_plex_edits)");
  }
  TRY(tend_collections(chosen->section_key, plan, prepared.desired));
  auto poster = sync_image(plex::PlexClient::ImageSlot::poster, scene.id, chosen->rating_key,
                           poster_source(scene, prepared.desired.poster_url));
  if (!poster) {
    return tl::unexpected(poster.error());
  }
  wrote = wrote || *poster;

  save_record(scene, *chosen, wrote, plan.written);
  TRY(sync_pull_siblings(scene, facts, *chosen));
  return wrote ? Outcome::synced : Outcome::unchanged;
}

plex::Result<void> Worker::sync_pull_siblings(const stash::Scene& scene, const match::SceneFacts& facts,
                                              const match::Candidate& chosen) {
  // The same file in another library on the PlexSync agent (a pull library set up beside the
  // push one over the same folders, while a user moves over): it is refreshed or bound too.
  // The scene's sync record stays with the chosen item; a push library's twin is not written.
  if (!settings_->provider_enabled) {
    return {};
  }
  auto decision = match_scene(facts, false);
  if (!decision) {
    return tl::unexpected(decision.error());
  }
  for (const auto& other : decision->ranked) {
    if (other.score < 100 || other.rating_key == chosen.rating_key || other.section_key == chosen.section_key) {
      continue;
    }
    auto item = plex_->item(other.rating_key);
    if (!item && item.error().kind == plex::Failure::not_found) {
      continue;
    }
    if (!item) {
      return tl::unexpected(item.error());
    }
    auto candidate = other;
    candidate.section_key = candidate.section_key.empty() ? item->section_id : candidate.section_key;
    if (const auto pull = pull_identifier(candidate.section_key, item->guid); !pull.empty()) {
      TRY(sync_pulled(scene, candidate, *item, fieldsync::Written{}, pull, false));
    }
  }
  return {};
}

void Worker::save_record(const stash::Scene& scene, const match::Candidate& chosen, bool wrote,
                         const fieldsync::Written& written) {
  auto rec = db_.prepare(R"sql(
INSERT INTO sync_records(scene_id, rating_key, section_key, match_score, stash_updated_at, synced_ms, requests, wrote,
  written)
VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT(scene_id) DO UPDATE SET rating_key = excluded.rating_key, section_key = excluded.section_key,
  match_score = excluded.match_score, stash_updated_at = excluded.stash_updated_at, synced_ms = excluded.synced_ms,
  requests = excluded.requests, wrote = excluded.wrote, written = excluded.written)sql");
  if (rec) {
    (void)rec->bind(1, scene.id)
        .bind(2, chosen.rating_key)
        .bind(3, chosen.section_key)
        .bind(4, int64_t{chosen.score})
        .bind(5, scene.updated_at)
        .bind(6, clock_.now_ms())
        .bind(7, int64_t{wrote ? 2 : 1})
        .bind(8, int64_t{wrote ? 1 : 0})
        .bind(9, written.to_json())
        .run();
  }
}

std::string Worker::pull_identifier(const std::string& section_key, const std::string& item_guid) {
  const auto identifier = provider::identifier(settings_->provider_identifier_suffix);
  if (!identifier) {
    return {};
  }
  const auto cached_is_pull = [&] {
    const std::lock_guard lock(shared_->mutex);
    return std::any_of(shared_->sections.begin(), shared_->sections.end(),
                       [&](const plex::Section& s) { return s.key == section_key && s.agent == *identifier; });
  };
  if (cached_is_pull()) {
    return *identifier;
  }
  // An item already bound to our provider while its library counted as push: the library was
  // moved to the PlexSync agent since the sections were read (register --switch, or a person in
  // Plex). Read them again before anything is written as push.
  if (item_guid.rfind(*identifier + "://", 0) == 0) {
    {
      const std::lock_guard lock(shared_->mutex);
      shared_->sections_for.clear();
    }
    if (library_sections() && cached_is_pull()) {
      LOG_INFO("Plex library " << section_key << " now uses the PlexSync agent: pull mode there from now on");
      return *identifier;
    }
  }
  return {};
}

plex::Result<Worker::Outcome> Worker::sync_pulled(const stash::Scene& scene, const match::Candidate& chosen,
                                                  const plex::Item& item, const fieldsync::Written& last,
                                                  const std::string& identifier, bool record) {
  // A pull library (spec 5.2): the provider owns the fields, so PlexSync never writes or locks
  // them here; it asks PMS to fetch them again. Only what a provider cannot carry is pushed:
  // collections and the user rating, as one edit when they changed.
  auto prepared = fieldsync::prepare(scene, *settings_);
  auto& d = prepared.desired;
  keep_later_plex_rating(scene, item, last, d);
  const auto served = provider::served_version(db_, provider::rating_key(scene.id)).value_or("");
  // What the provider answers for the scene now (render.cpp renders the same prepare()); unset:
  // the provider sends none (skip_genres, skip_actors) or PlexSync pushes the list itself.
  std::optional<std::vector<std::string>> served_actors;
  if (d.actors) {
    served_actors.emplace();
    for (const auto& a : *d.actors) {
      served_actors->push_back(a.name);
    }
  }
  std::optional<std::vector<std::string>> served_genres;
  if (!pull_genres_pushed(chosen.section_key, scene, d.genres, item, served)) {
    served_genres = std::exchange(d.genres, std::nullopt);
  }
  d.title.reset();
  d.sort_title.reset();
  d.summary.reset();
  d.studio.reset();
  d.tagline.reset();
  d.content_rating.reset();
  d.date.reset();
  d.actors.reset();
  const auto cover_url = std::exchange(d.poster_url, std::string());
  auto plan = fieldsync::plan_edit(d, item, {settings_->preserve_plex_edits, settings_->tag_mode == "merge"}, last);
  for (const auto& [tag, served_now, in_plex] :
       {std::tuple{"genre", &served_genres, &item.genres}, std::tuple{"actor", &served_actors, &item.actors}}) {
    if (!*served_now) {
      continue;
    }
    auto stale = fieldsync::stale_provider_tags(tag, *in_plex, **served_now, last, plan.written);
    if (stale.removed.empty()) {
      continue;
    }
    plan.params.insert(plan.params.end(), stale.params.begin(), stale.params.end());
    plan.changed.push_back(std::string(tag) + " (" + std::to_string(stale.removed.size()) + " gone from Stash)");
    provider::count_repair(std::string("stale_") + tag);
    note_stale_tags_once(chosen.section_key);
  }
  if (!plan.params.empty()) {
    TRY_ASSIGN(const auto new_collections, note_new_collections(chosen.section_key, plan));
    if (auto r = plex_->edit_all(chosen.section_key, chosen.rating_key,
                                 plex::split_edit(plan.params, plex::k_max_edit_query_bytes));
        !r) {
      return tl::unexpected(r.error());
    }
    remember_new_collections(chosen.section_key, new_collections);
  }
  TRY(tend_collections(chosen.section_key, plan, d));
  const auto wanted = provider::guid(identifier, scene.id);
  if (item.guid != wanted && settings_->skip_bind_unmatched) {
    LOG_INFO("scene " << scene.id << " -> Plex item " << chosen.rating_key
                      << ": not bound to the PlexSync provider (skip_bind_unmatched); use Fix Match in Plex");
  } else if (item.guid != wanted) {
    // PMS could not match it (provider down, Stash had not seen the file, an ambiguous name):
    // bind it by the scored match PlexSync just made; PMS then fetches the metadata (spec 5.5).
    if (auto r = plex_->bind_item(chosen.rating_key, wanted, d.title.value_or(scene.title)); !r) {
      return tl::unexpected(r.error());
    }
    provider::count_bind();
    LOG_INFO("scene " << scene.id << " -> Plex item " << chosen.rating_key << " (match " << chosen.score << ", "
                      << chosen.reason << "): bound to the PlexSync provider");
  } else if (settings_->skip_refresh_on_change) {
    LOG_DEBUG("scene " << scene.id << ": pull library, refresh on change is off");
  } else if (served == scene.updated_at) {
    // PMS read this very version from the provider (its own scan, or an earlier refresh): a
    // refresh would fetch the same answer again.
    LOG_DEBUG("scene " << scene.id << " -> Plex item " << chosen.rating_key << ": Plex already has this version"
                       << (plan.changed.empty() ? "" : "; pushed " + util::join(plan.changed, ", ")));
  } else {
    if (auto r = plex_->refresh_item(chosen.rating_key); !r) {
      provider::count_refresh("failed");
      return tl::unexpected(r.error());
    }
    provider::count_refresh("asked");
    LOG_INFO("scene " << scene.id << " -> Plex item " << chosen.rating_key << ": refresh asked (pull library)"
                      << (plan.changed.empty() ? "" : "; pushed " + util::join(plan.changed, ", ")));
  }
  // The cover uploaded into PMS as push does (when its bytes change): PMS turns a provider's image
  // URL into a fetch by Plex's cloud image proxy, which cannot reach a LAN address, and 1.43.5+
  // fetches provider images only from public addresses (issue #26). An upload shows everywhere.
  if (!settings_->provider_skip_image_upload) {
    for (const auto slot : {plex::PlexClient::ImageSlot::poster, plex::PlexClient::ImageSlot::background}) {
      const auto url = slot == plex::PlexClient::ImageSlot::poster ? poster_source(scene, cover_url) : cover_url;
      if (auto r = sync_image(slot, scene.id, chosen.rating_key, url); !r) {
        return tl::unexpected(r.error());
      }
    }
  }
  forget_read_ahead(chosen.rating_key);
  if (record) {
    save_record(scene, chosen, true, plan.written);
  }
  return Outcome::synced;
}

void Worker::note_stale_tags_once(const std::string& section_key) {
  const auto key = "pull_stale_tags:" + section_key;
  if (auto noted = db_.get_kv(key); noted && *noted) {
    return;
  }
  (void)db_.put_kv(key, std::to_string(clock_.now_ms()));
  LOG_INFO("Plex library " << section_key << " keeps tags the provider no longer returns (as PMS does); PlexSync "
                           << "removes those that were removed in Stash with an edit that leaves the list unlocked "
                           << "(counted in /metrics as plexsync_provider_repairs_total)");
}

bool Worker::pull_genres_pushed(const std::string& section_key, const stash::Scene& scene,
                                const std::optional<std::vector<std::string>>& wanted, const plex::Item& item,
                                const std::string& served_version) {
  // A PMS that keeps only the first of a provider's genres (reported in 2026, spec 5.3): seen as
  // an item holding exactly the first genre of the very version PMS read. From then on genres in
  // that library are pushed (locked, so refreshes keep them), logged once and counted.
  const auto key = "pull_genres_pushed:" + section_key;
  if (auto pushed = db_.get_kv(key); pushed && *pushed) {
    return true;
  }
  if (served_version != scene.updated_at || !wanted || wanted->size() < 2 || item.genres.size() != 1 ||
      util::to_lower(item.genres.front()) != util::to_lower(wanted->front())) {
    return false;
  }
  (void)db_.put_kv(key, std::to_string(clock_.now_ms()));
  provider::count_repair("genre");
  LOG_WARN("Plex library " << section_key << " kept only the first of scene " << scene.id << "'s " << wanted->size()
                           << " genres from the provider (a known PMS bug); PlexSync writes genres there itself "
                              "from now on (locked, so refreshes keep them)");
  return true;
}

namespace {

const char* verdict_name(match::Verdict v) {
  switch (v) {
  case match::Verdict::confident:
    return "confident";
  case match::Verdict::uncertain:
    return "uncertain";
  case match::Verdict::none:
    break;
  }
  return "none";
}

} // namespace

util::Result<bool> Worker::item_still_holds(const std::string& scene_id, const std::string& rating_key,
                                            const std::string& file) {
  TRY(refresh_context(true));
  if (!plex_ || !stash_) {
    return util::fail("Plex or Stash is not configured: run `plexsync doctor`");
  }
  TRY_ASSIGN(const auto scene, stash_->find_scene(scene_id));
  if (!scene) {
    return util::fail("Stash has no scene " + scene_id);
  }
  const auto item = plex_->item(rating_key);
  if (!item) {
    if (item.error().kind == plex::Failure::not_found) {
      return false;
    }
    return util::fail(item.error().message);
  }
  // The review list stores the file as logs show it (a stand-in with obfuscate_paths).
  return std::any_of(item->parts.begin(), item->parts.end(),
                     [&](const auto& part) { return part.file == file || util::log::display_path(part.file) == file; });
}

util::Result<nlohmann::json> Worker::preview(const std::string& scene_or_path, bool edit) {
  TRY(refresh_context(true));
  if (!plex_ || !stash_) {
    return util::fail("Plex or Stash is not configured: run `plexsync doctor`");
  }
  nlohmann::json out = nlohmann::json::object();
  std::optional<stash::Scene> scene;
  match::SceneFacts facts;
  if (util::all_digits(scene_or_path)) {
    TRY_ASSIGN(scene, stash_->find_scene(scene_or_path));
    if (!scene) {
      return util::fail("Stash has no scene " + scene_or_path);
    }
    facts = facts_of(*scene);
    out["scene"] = {{"id", scene->id}, {"title", scene->title}};
  } else {
    facts.files.push_back({path_map_.apply(scene_or_path), 0, 0});
    out["path"] = scene_or_path;
  }
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : facts.files) {
    files.push_back(f.plex_path);
  }
  out["plex_paths"] = files; // after path_map
  auto decision = match_scene(facts, false);
  if (!decision) {
    return util::fail(decision.error().message);
  }
  out["verdict"] = verdict_name(decision->verdict);
  out["why"] = decision->why;
  out["min_score"] = settings_->match_min_score;
  nlohmann::json candidates = nlohmann::json::array();
  for (const auto& c : decision->ranked) {
    candidates.push_back({{"rating_key", c.rating_key},
                          {"section", c.section_key},
                          {"title", c.title},
                          {"file", c.file},
                          {"score", c.score},
                          {"reason", c.reason}});
  }
  out["candidates"] = candidates;
  if (!edit || !scene || decision->verdict == match::Verdict::none ||
      (decision->verdict == match::Verdict::uncertain && !settings_->accept_uncertain_matches)) {
    return out;
  }
  const auto& best = decision->ranked.front();
  auto item = plex_->item(best.rating_key);
  if (!item) {
    return util::fail(item.error().message);
  }
  const auto record = load_record(db_, scene->id);
  const auto prepared = fieldsync::prepare(*scene, *settings_);
  const auto plan = plan_for(prepared, *item, *settings_, record, best.rating_key);
  nlohmann::json params = nlohmann::json::array();
  for (const auto& [k, v] : plan.params) {
    params.push_back({k, v});
  }
  nlohmann::json violations = nlohmann::json::array();
  for (const auto& v : prepared.violations) {
    violations.push_back(v.field + " " + v.message);
  }
  const auto section = best.section_key.empty() ? item->section_id : best.section_key;
  out["edit"] = {
      {"request", plan.params.empty() ? nlohmann::json() : nlohmann::json("PUT /library/sections/" + section + "/all")},
      {"requests", plan.params.empty() ? 0 : plex::split_edit(plan.params, plex::k_max_edit_query_bytes).size()},
      {"changed", plan.changed},
      {"kept", plan.kept},
      {"params", params},
      {"dropped", violations}};
  return out;
}

namespace {

constexpr int64_t k_read_ahead_ttl_ms = 10000;

// The remembered items of the jobs due next, in the order the lanes will claim them.
std::vector<std::string> upcoming_rating_keys(store::Db& db, int64_t now_ms, size_t limit) {
  std::vector<std::string> keys;
  auto stmt = db.prepare(R"sql(
SELECT r.rating_key FROM jobs j JOIN sync_records r ON r.scene_id = j.scene_id
WHERE j.state = 'pending' AND j.next_attempt_ms <= ?1 AND j.event <> 'Scene.Destroy.Post'
ORDER BY j.next_attempt_ms, j.id LIMIT ?2)sql");
  if (!stmt) {
    return keys; // no read-ahead this time: the job reads its own item
  }
  stmt->bind(1, now_ms).bind(2, static_cast<int64_t>(limit));
  while (true) {
    auto row = stmt->step();
    if (!row || !*row) {
      break;
    }
    keys.push_back(stmt->text_at(0));
  }
  return keys;
}

} // namespace

plex::Result<plex::Item> Worker::read_item(const std::string& rating_key) {
  const int64_t now = clock_.now_ms();
  auto& ahead = shared_->read_ahead;
  std::vector<std::string> keys{rating_key};
  {
    const std::lock_guard lock(shared_->mutex);
    if (auto it = ahead.ready.find(rating_key); it != ahead.ready.end()) {
      auto [item, read_at] = std::move(it->second);
      ahead.ready.erase(it);
      if (now - read_at <= k_read_ahead_ttl_ms) {
        return item;
      }
    }
    for (auto it = ahead.ready.begin(); it != ahead.ready.end();) { // unused and old: forget
      it = now - it->second.second > k_read_ahead_ttl_ms ? ahead.ready.erase(it) : std::next(it);
    }
  }
  // Not read ahead: this item and those of the jobs due next, in one request. Another lane's read
  // under way already covers the keys it holds.
  const auto upcoming = upcoming_rating_keys(db_, now, plex::PlexClient::k_max_items_per_read * 2);
  bool alone = false;
  {
    const std::lock_guard lock(shared_->mutex);
    for (const auto& key : upcoming) {
      if (keys.size() >= plex::PlexClient::k_max_items_per_read) {
        break;
      }
      if (key != rating_key && ahead.ready.count(key) == 0 && ahead.reading.count(key) == 0 &&
          std::find(keys.begin(), keys.end(), key) == keys.end()) {
        keys.push_back(key);
      }
    }
    alone = keys.size() == 1;
    if (!alone) {
      ahead.reading.insert(keys.begin(), keys.end());
    }
  }
  if (alone) {
    return plex_->item(rating_key); // outside the lock: the other lanes never wait on Plex here
  }
  auto read = plex_->items(keys);
  std::optional<plex::Item> mine;
  {
    const std::lock_guard lock(shared_->mutex);
    if (read) {
      for (auto& item : *read) {
        if (item.rating_key == rating_key) {
          mine = std::move(item);
        } else if (ahead.reading.count(item.rating_key) > 0) { // not edited meanwhile
          auto key = item.rating_key; // the assignment's right side (the move) is evaluated first
          ahead.ready.insert_or_assign(std::move(key), std::make_pair(std::move(item), now));
        }
      }
    }
    for (const auto& key : keys) {
      ahead.reading.erase(key);
    }
  }
  if (!read) {
    return tl::unexpected(read.error());
  }
  // Left out of the answer: gone, most likely; asked alone, Plex says so exactly.
  return mine ? plex::Result<plex::Item>(std::move(*mine)) : plex_->item(rating_key);
}

void Worker::forget_read_ahead(const std::string& rating_key) {
  const std::lock_guard lock(shared_->mutex);
  shared_->read_ahead.ready.erase(rating_key);
  shared_->read_ahead.reading.erase(rating_key);
}

} // namespace worker
