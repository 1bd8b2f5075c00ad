// Collections as things of their own in Plex (issue #28): which ones PlexSync's edits create, a
// poster for those (from the studio, group, performer or tag image Stash has), and their removal
// once the last item left. A collection that was in Plex before PlexSync added an item to it is a
// person's: it is never given a poster or deleted. Requests: none while every collection a job
// touches is known; a listing of the library's collections (cached a minute) before the first
// edit naming an unknown one, and one after an edit that leaves work (a poster, a removal).
#include "match/fold.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "worker/worker.hpp"

namespace worker {
namespace {

// How long a listing of a library's collections says what exists: a collection a person makes in
// Plex in this window and PlexSync then adds a scene to would count as PlexSync's.
constexpr int64_t k_listing_ttl_ms = 60'000;

struct Row {
  bool created = false;
  std::string rating_key;
  std::string poster_source;
};

std::optional<Row> row_of(store::Db& db, const std::string& section_key, const std::string& folded) {
  auto stmt = db.prepare(
      "SELECT created, rating_key, poster_source FROM plex_collections WHERE section_key = ?1 AND folded = ?2");
  if (!stmt || !stmt->bind(1, section_key).bind(2, folded).step().value_or(false)) {
    return std::nullopt;
  }
  return Row{stmt->int_at(0) != 0, stmt->text_at(1), stmt->text_at(2)};
}

const std::vector<std::string>& list_of(const std::map<std::string, std::vector<std::string>>& lists, const char* key) {
  static const std::vector<std::string> none;
  const auto it = lists.find(key);
  return it == lists.end() ? none : it->second;
}

// Errors worth a retry of the job; anything else about a collection is logged and left.
bool transient(const plex::Error& e) {
  return e.kind == plex::Failure::connect || e.kind == plex::Failure::timeout ||
         e.kind == plex::Failure::transient_status || e.kind == plex::Failure::rate_limited ||
         e.kind == plex::Failure::auth;
}

} // namespace

plex::Result<Worker::NewCollections> Worker::note_new_collections(const std::string& section_key,
                                                                  const fieldsync::EditPlan& plan) {
  std::vector<std::pair<std::string, std::string>> unknown; // (folded, title)
  for (const auto& title : list_of(plan.added, "collection")) {
    auto folded = match::fold_text(title);
    if (!row_of(db_, section_key, folded)) {
      unknown.emplace_back(std::move(folded), title);
    }
  }
  NewCollections out;
  if (unknown.empty()) {
    return out;
  }
  auto& listing = collection_listings_[section_key];
  const auto now = clock_.now_ms();
  if (listing.read_ms == 0 || now - listing.read_ms > k_listing_ttl_ms || now < listing.read_ms) {
    auto listed = plex_->collections(section_key);
    if (!listed) {
      return tl::unexpected(listed.error());
    }
    listing.folded.clear();
    for (const auto& c : *listed) {
      listing.folded.insert(match::fold_text(c.title));
    }
    listing.read_ms = now;
  }
  std::vector<std::pair<std::string, std::string>> held; // (section key, folded name)
  {
    const std::lock_guard lock(shared_->mutex);
    auto& creating = shared_->collections_in_creation;
    for (auto& [folded, title] : unknown) {
      auto key = std::make_pair(section_key, folded);
      const bool created = listing.folded.count(folded) == 0U || creating.count(key) != 0U;
      if (created) {
        ++creating[key];
        held.push_back(std::move(key));
      }
      out.items.push_back({std::move(folded), std::move(title), created});
    }
  }
  if (!held.empty()) {
    out.hold = std::shared_ptr<void>(nullptr, [shared = shared_, held = std::move(held)](void*) {
      const std::lock_guard lock(shared->mutex);
      for (const auto& key : held) {
        if (const auto it = shared->collections_in_creation.find(key);
            it != shared->collections_in_creation.end() && --it->second <= 0) {
          shared->collections_in_creation.erase(it);
        }
      }
    });
  }
  return out;
}

void Worker::remember_new_collections(const std::string& section_key, const NewCollections& found) {
  // Recorded only once the edit went through: a name whose edit failed was never made by
  // PlexSync, and counting it as PlexSync's could later delete a person's collection of that name.
  for (const auto& c : found.items) {
    if (auto stmt = db_.prepare("INSERT OR IGNORE INTO plex_collections(section_key, folded, title, created) "
                                "VALUES(?1, ?2, ?3, ?4)")) {
      (void)stmt->bind(1, section_key).bind(2, c.folded).bind(3, c.title).bind(4, int64_t{c.created ? 1 : 0}).run();
    }
  }
}

plex::Result<void> Worker::tend_collections(const std::string& section_key, const fieldsync::EditPlan& plan,
                                            const fieldsync::Desired& desired) {
  // Removals first marked, so a job that fails after the edit still has them checked next time.
  for (const auto& title : list_of(plan.removed, "collection")) {
    if (auto stmt = db_.prepare("UPDATE plex_collections SET check_empty = 1 WHERE section_key = ?1 AND folded = ?2 "
                                "AND created = 1")) {
      (void)stmt->bind(1, section_key).bind(2, match::fold_text(title)).run();
    }
  }
  // Lanes run side by side: each piece of work is claimed by an update from the state this lane
  // read, so one lane uploads a poster or deletes a collection, and a failure hands it back.
  const auto set_poster = [&](const std::string& folded, const std::string& to, const std::string& from) {
    auto stmt = db_.prepare("UPDATE plex_collections SET poster_source = ?3 WHERE section_key = ?1 AND folded = ?2 "
                            "AND poster_source = ?4");
    return stmt && stmt->bind(1, section_key).bind(2, folded).bind(3, to).bind(4, from).run() && db_.changes() == 1;
  };
  const auto set_check = [&](const std::string& folded, int64_t to) {
    auto stmt = db_.prepare("UPDATE plex_collections SET check_empty = ?3 WHERE section_key = ?1 AND folded = ?2 "
                            "AND check_empty = ?4");
    return stmt && stmt->bind(1, section_key).bind(2, folded).bind(3, to).bind(4, 1 - to).run() && db_.changes() == 1;
  };
  struct Poster {
    std::string folded;
    std::string image;
    std::string before;
  };
  std::vector<Poster> posters;
  const auto& images = desired.collection_images;
  for (auto it = images.begin(); it != images.end() && !settings_->skip_collection_posters; ++it) {
    auto folded = match::fold_text(it->first);
    const auto row = row_of(db_, section_key, folded);
    if (row && row->created && row->poster_source != it->second && set_poster(folded, it->second, row->poster_source)) {
      posters.push_back({std::move(folded), it->second, row->poster_source});
    }
  }
  std::vector<std::pair<std::string, std::string>> check; // (folded, title)
  if (auto stmt =
          db_.prepare("SELECT folded, title FROM plex_collections WHERE section_key = ?1 AND check_empty = 1")) {
    stmt->bind(1, section_key);
    while (stmt->step().value_or(false)) {
      check.emplace_back(stmt->text_at(0), stmt->text_at(1));
    }
  }
  std::erase_if(check, [&](const auto& c) { return !set_check(c.first, 0); });
  const auto hand_back = [&](size_t posters_from, size_t checks_from) {
    for (size_t i = posters_from; i < posters.size(); ++i) {
      (void)set_poster(posters[i].folded, posters[i].before, posters[i].image);
    }
    for (size_t i = checks_from; i < check.size(); ++i) {
      (void)set_check(check[i].first, 1);
    }
  };
  if (posters.empty() && check.empty()) {
    return {};
  }
  auto listed = plex_->collections(section_key);
  if (!listed) {
    hand_back(0, 0);
    return tl::unexpected(listed.error());
  }
  const auto find = [&](const std::string& folded) -> const plex::CollectionSummary* {
    for (const auto& c : *listed) {
      if (match::fold_text(c.title) == folded) {
        return &c;
      }
    }
    return nullptr;
  };
  for (size_t i = 0; i < posters.size(); ++i) {
    const auto& [folded, image, before] = posters[i];
    const auto* c = find(folded);
    if (c == nullptr) {
      (void)set_poster(folded, before, image); // not listed yet: the next job tries again
      continue;
    }
    auto fetched = stash_->fetch_image(image);
    if (!fetched || !*fetched) {
      LOG_WARN("collection '" << c->title << "': its image was not fetched from Stash ("
                              << (fetched ? "a placeholder" : fetched.error().message) << "); no poster given");
    } else if (auto up = plex_->upload_image(c->rating_key, plex::PlexClient::ImageSlot::poster, (*fetched)->bytes,
                                             (*fetched)->content_type);
               !up && transient(up.error())) {
      hand_back(i, 0);
      return tl::unexpected(up.error());
    } else if (!up) {
      LOG_WARN("collection '" << c->title << "': Plex refused its poster (" << up.error().message << ")");
    } else {
      LOG_INFO("collection '" << c->title << "' (Plex " << c->rating_key << "): poster from Stash");
    }
    if (auto stmt = db_.prepare("UPDATE plex_collections SET rating_key = ?3 WHERE section_key = ?1 AND folded = ?2")) {
      (void)stmt->bind(1, section_key).bind(2, folded).bind(3, c->rating_key).run();
    }
  }
  for (size_t i = 0; i < check.size(); ++i) {
    const auto& [folded, title] = check[i];
    const auto* c = find(folded);
    if (c != nullptr && (c->child_count > 0 || c->smart)) {
      continue; // still holds items (a person's, or another scene's): kept
    }
    if (c != nullptr) {
      auto gone = plex_->delete_collection(c->rating_key);
      if (!gone && transient(gone.error())) {
        hand_back(posters.size(), i);
        return tl::unexpected(gone.error());
      }
      if (!gone) {
        LOG_WARN("collection '" << title << "' is empty but Plex refused to delete it (" << gone.error().message
                                << "); delete it in Plex if you like");
      } else {
        LOG_INFO("collection '" << title << "' (Plex " << c->rating_key << ") was emptied and is removed from Plex");
      }
    }
    if (auto stmt = db_.prepare("DELETE FROM plex_collections WHERE section_key = ?1 AND folded = ?2")) {
      (void)stmt->bind(1, section_key).bind(2, folded).run();
    }
    collection_listings_[section_key].folded.erase(folded);
  }
  return {};
}

} // namespace worker
