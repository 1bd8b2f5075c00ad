// Collections as PMS keeps them (issue #28): an object of its own per library, made the first time
// an edit tags an item with a new collection name, listed by /library/sections/{key}/all?type=18
// (python-plexapi's LibrarySection.collections) with its childCount, given posters like any item
// (/library/metadata/{ratingKey}/posters) and deleted with DELETE /library/collections/{ratingKey}
// (python-plexapi's Collection.delete on Collection.key). Whether PMS removes a collection once
// its last item leaves is not known for every version: Kometa's "delete collections with less than
// N items" says empty ones stay, so plexsim keeps them (the stricter case: a client must delete).
#include <algorithm>

#include "plexsim.hpp"
#include "util/digest.hpp"
#include "util/strings.hpp"

namespace plexsim {

void PlexSim::note_collections(const Item& item) {
  const auto it = item.tags.find("collection");
  if (it == item.tags.end()) {
    return;
  }
  for (const auto& tag : it->second) {
    const bool known = std::any_of(collections_.begin(), collections_.end(), [&](const auto& c) {
      return c.second.section_key == item.section_key && util::iequals(c.second.title, tag.tag);
    });
    if (!known) {
      Collection c;
      c.rating_key = std::to_string(++next_collection_key_);
      c.section_key = item.section_key;
      c.title = tag.tag;
      c.added_at = next_epoch();
      collections_[c.rating_key] = c;
    }
  }
}

int64_t PlexSim::collection_size(const Collection& c) const {
  int64_t n = 0;
  for (const auto& [rk, item] : items_) {
    if (item->section_key != c.section_key || item->pending) {
      continue;
    }
    const auto tags = item->tags.find("collection");
    if (tags != item->tags.end() && std::any_of(tags->second.begin(), tags->second.end(),
                                                [&](const Tag& t) { return util::iequals(t.tag, c.title); })) {
      ++n;
    }
  }
  return n;
}

nlohmann::json PlexSim::collection_listing(const std::string& section_key) {
  for (const auto& [rk, item] : items_) {
    if (item->section_key == section_key && !item->pending) {
      note_collections(*item); // items a library was loaded with
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [rk, c] : collections_) {
    if (c.section_key != section_key) {
      continue;
    }
    nlohmann::json entry = {{"ratingKey", c.rating_key},
                            {"key", "/library/collections/" + c.rating_key + "/children"},
                            {"guid", "collection://" + c.rating_key},
                            {"type", "collection"},
                            {"title", c.title},
                            {"subtype", "movie"},
                            {"childCount", collection_size(c)},
                            {"smart", 0},
                            {"addedAt", c.added_at},
                            {"librarySectionID", std::stoll(section_key)}};
    if (!c.poster_sha1.empty()) {
      entry["thumb"] = "/library/collections/" + c.rating_key + "/composite/" + std::to_string(c.poster_uploads);
    }
    out.push_back(entry);
  }
  return out;
}

std::optional<net::ServerResponse> PlexSim::collection_route(const net::ServerRequest& req) {
  const auto parts = util::split(req.path, '/'); // "", "library", "collections", "{rk}"
  if (parts.size() == 4 && parts[1] == "library" && parts[2] == "collections" && req.method == "DELETE") {
    const auto it = collections_.find(parts[3]);
    if (it == collections_.end()) {
      return html_error(404);
    }
    // Deleting a collection takes its tag off every item it held.
    for (auto& [rk, item] : items_) {
      if (item->section_key != it->second.section_key) {
        continue;
      }
      auto& list = item->tags["collection"];
      list.erase(std::remove_if(list.begin(), list.end(),
                                [&](const Tag& t) { return util::iequals(t.tag, it->second.title); }),
                 list.end());
    }
    collections_.erase(it);
    return net::ServerResponse{};
  }
  if (parts.size() == 5 && parts[1] == "library" && parts[2] == "metadata" && parts[4] == "posters" &&
      req.method == "POST") {
    const auto it = collections_.find(parts[3]);
    if (it == collections_.end()) {
      return std::nullopt; // an item's posters
    }
    if (req.body.empty()) {
      return html_error(400);
    }
    it->second.poster_sha1 = util::sha1_hex(req.body);
    ++it->second.poster_uploads;
    return net::ServerResponse{};
  }
  return std::nullopt;
}

std::optional<CollectionView> PlexSim::collection(const std::string& section_key, const std::string& title) {
  std::lock_guard lock(mutex_);
  for (const auto& [rk, item] : items_) {
    if (item->section_key == section_key) {
      note_collections(*item);
    }
  }
  for (const auto& [rk, c] : collections_) {
    if (c.section_key == section_key && util::iequals(c.title, title)) {
      return CollectionView{c.rating_key, collection_size(c), c.poster_uploads, c.poster_sha1};
    }
  }
  return std::nullopt;
}

std::vector<std::string> PlexSim::collection_titles(const std::string& section_key) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& entry : collection_listing(section_key)) {
    out.push_back(entry.at("title").get<std::string>());
  }
  return out;
}

void PlexSim::add_collection(const std::string& section_key, const std::string& title) {
  std::lock_guard lock(mutex_);
  Collection c;
  c.rating_key = std::to_string(++next_collection_key_);
  c.section_key = section_key;
  c.title = title;
  c.added_at = next_epoch();
  collections_[c.rating_key] = c;
}

} // namespace plexsim
