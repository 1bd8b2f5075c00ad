#include "sync/plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "match/fold.hpp"
#include "util/strings.hpp"

namespace fieldsync {

std::string Written::to_json() const {
  return nlohmann::json{{"scalars", scalars}, {"lists", lists}}.dump();
}

Written Written::from_json(const std::string& text) {
  Written w;
  if (text.empty()) {
    return w;
  }
  try {
    const auto j = nlohmann::json::parse(text);
    w.scalars = j.value("scalars", std::map<std::string, std::string>{});
    w.lists = j.value("lists", std::map<std::string, std::vector<std::string>>{});
  } catch (const nlohmann::json::exception&) {
    return {};
  }
  return w;
}

namespace {

// "genre[].tag.tag-=A,B": each name encoded, then the joined list again by the query builder, so
// commas in names survive.
std::pair<std::string, std::string> removal_param(const std::string& tag, const std::vector<std::string>& names) {
  std::vector<std::string> encoded;
  encoded.reserve(names.size());
  for (const auto& r : names) {
    encoded.push_back(util::percent_encode(r));
  }
  return {tag + "[].tag.tag-", util::join(encoded, ",")};
}

// Tag names compare as Plex matches them: case and Unicode normal form folded. Each list is
// folded once (lists may hold up to max_tags names), then looked up.
std::multiset<std::string> folded(const std::vector<std::string>& names) {
  std::multiset<std::string> out;
  for (const auto& n : names) {
    out.insert(match::fold_text(n));
  }
  return out;
}

bool contains_name(const std::multiset<std::string>& folded_list, const std::string& name) {
  return folded_list.count(match::fold_text(name)) != 0U;
}

// As sets: a Plex that keeps a list in another order than it was sent (both simulators append new
// tags after the old ones; a real PMS is unverified, issue #29) holds the same list.
bool same_names(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return a.size() == b.size() && folded(a) == folded(b);
}

class Planner {
public:
  Planner(const plex::Item& item, const PlanOptions& options, const Written& last)
      : item_(item), options_(options), last_(last) {}

  void scalar(const std::string& field, const std::optional<std::string>& wanted, const std::string& current) {
    if (!wanted) {
      return;
    }
    if (user_edited_scalar(field, current)) {
      keep(field);
      return;
    }
    plan_.written.scalars[field] = *wanted;
    if (*wanted == current && locked(field)) {
      return;
    }
    plan_.params.emplace_back(field + ".value", *wanted);
    plan_.params.emplace_back(field + ".locked", "1");
    plan_.changed.push_back(field);
  }

  // force: resend even when the names match (an actor photo changed).
  void tags(const std::string& tag, const std::optional<std::vector<std::string>>& wanted_opt,
            const std::vector<std::string>& current, bool only_remove_ours,
            const std::vector<std::pair<std::string, std::string>>& extra = {}, bool force = false) {
    if (!wanted_opt) {
      return;
    }
    const auto last = last_.lists.find(tag);
    if (options_.preserve_plex_edits && !current.empty() &&
        (last == last_.lists.end() || !same_names(last->second, current))) {
      plan_.kept.push_back(tag);
      plan_.written.lists[tag] = last == last_.lists.end() ? std::vector<std::string>{} : last->second;
      return;
    }
    auto wanted = *wanted_opt;
    auto wanted_folded = folded(wanted);
    const auto ours_folded = last == last_.lists.end() ? std::multiset<std::string>{} : folded(last->second);
    std::vector<std::string> removals;
    for (const auto& c : current) {
      if (contains_name(wanted_folded, c)) {
        continue;
      }
      if (options_.merge_tags || (only_remove_ours && !contains_name(ours_folded, c))) {
        wanted.push_back(c); // not ours to remove: keep it in the complete list
        wanted_folded.insert(match::fold_text(c));
      } else {
        removals.push_back(c);
      }
    }
    plan_.written.lists[tag] = *wanted_opt;
    // Whether PMS reports a lock on every tag type is unverified (fidelity findings row 13): a
    // list PlexSync itself wrote (and locked) last time counts as locked.
    const bool ours_last = last != last_.lists.end() && same_names(last->second, *wanted_opt);
    if (same_names(wanted, current) && (locked(tag) || ours_last) && !force) {
      return;
    }
    for (size_t i = 0; i < wanted.size(); ++i) {
      const auto prefix = tag + "[" + std::to_string(i) + "].tag.";
      plan_.params.emplace_back(prefix + "tag", wanted[i]);
      for (const auto& [name, value] : extra) {
        if (util::iequals(name, wanted[i]) && !value.empty()) {
          plan_.params.emplace_back(prefix + "thumb", value);
        }
      }
    }
    if (!removals.empty()) {
      plan_.params.push_back(removal_param(tag, removals));
      plan_.removed[tag] = std::move(removals);
    }
    const auto current_folded = folded(current);
    for (const auto& w : wanted) {
      if (!contains_name(current_folded, w)) {
        plan_.added[tag].push_back(w);
      }
    }
    plan_.params.emplace_back(tag + ".locked", "1");
    plan_.changed.push_back(tag);
  }

  // Recorded in the written state only (nothing is sent for it).
  void remember(const std::string& key, const std::vector<std::string>& values) { plan_.written.lists[key] = values; }

  EditPlan take() { return std::move(plan_); }

private:
  [[nodiscard]] bool locked(const std::string& field) const { return item_.locked.count(field) > 0; }

  // preserve_plex_edits: a non-empty Plex value we did not write is the user's.
  [[nodiscard]] bool user_edited_scalar(const std::string& field, const std::string& current) const {
    if (!options_.preserve_plex_edits || current.empty()) {
      return false;
    }
    const auto last = last_.scalars.find(field);
    return last == last_.scalars.end() || last->second != current;
  }

  void keep(const std::string& field) {
    plan_.kept.push_back(field);
    const auto last = last_.scalars.find(field);
    if (last != last_.scalars.end()) {
      plan_.written.scalars[field] = last->second;
    }
  }

  const plex::Item& item_;
  const PlanOptions& options_;
  const Written& last_;
  EditPlan plan_;
};

} // namespace

std::string rating_text(double r) {
  char buf[16];
  (void)std::snprintf(buf, sizeof buf, "%.1f", r);
  return buf;
}

EditPlan plan_edit(const Desired& d, const plex::Item& item, const PlanOptions& options, const Written& last) {
  Planner p(item, options, last);
  p.scalar("title", d.title, item.title);
  p.scalar("titleSort", d.sort_title, item.title_sort);
  p.scalar("summary", d.summary, item.summary);
  p.scalar("studio", d.studio, item.studio);
  p.scalar("tagline", d.tagline, item.tagline);
  p.scalar("contentRating", d.content_rating, item.content_rating);
  p.scalar("originallyAvailableAt", d.date, item.originally_available_at);
  if (d.rating) {
    // Plex answers 8 for 8.0: compare as numbers, send one decimal.
    const auto current = item.user_rating ? rating_text(*item.user_rating) : std::string();
    p.scalar("userRating", rating_text(*d.rating), current);
  }
  p.tags("genre", d.genres, item.genres, false);
  if (d.actors) {
    std::vector<std::string> names;
    std::vector<std::pair<std::string, std::string>> photos;
    std::vector<std::string> photo_urls;
    for (const auto& a : *d.actors) {
      names.push_back(a.name);
      photos.emplace_back(a.name, a.photo_url);
      photo_urls.push_back(a.photo_url);
    }
    // Whether PMS echoes a thumb verbatim is unverified (row 13): compare with what PlexSync sent
    // last time; only without that record, with what Plex shows.
    bool photo_changed = false;
    if (const auto sent = last.lists.find("actor_photo"); sent != last.lists.end()) {
      photo_changed = sent->second != photo_urls;
    } else {
      for (const auto& a : *d.actors) {
        for (size_t i = 0; i < item.actors.size() && !a.photo_url.empty(); ++i) {
          if (util::iequals(item.actors[i], a.name) && i < item.actor_photos.size() &&
              item.actor_photos[i] != a.photo_url) {
            photo_changed = true;
          }
        }
      }
    }
    p.tags("actor", names, item.actors, false, photos, photo_changed);
    p.remember("actor_photo", photo_urls);
  }
  // Collections are shared with the user's own: only those PlexSync added are ever removed.
  p.tags("collection", d.collections, item.collections, true);
  return p.take();
}

} // namespace fieldsync

namespace fieldsync {

StaleTags stale_provider_tags(const std::string& tag, const std::vector<std::string>& in_plex,
                              const std::vector<std::string>& served_now, const Written& last, Written& written) {
  const auto key = "served:" + tag;
  written.lists[key] = served_now;
  StaleTags out;
  const auto before = last.lists.find(key);
  if (before == last.lists.end()) {
    return out; // nothing known about what PMS was served: nothing is guessed
  }
  const auto served_before = folded(before->second);
  auto keep = folded(served_now); // also what is already removed, so each name goes once
  for (const auto& name : in_plex) {
    if (contains_name(served_before, name) && !contains_name(keep, name)) {
      out.removed.push_back(name);
      keep.insert(match::fold_text(name));
    }
  }
  if (out.removed.empty()) {
    return out;
  }
  out.params.push_back(removal_param(tag, out.removed));
  out.params.emplace_back(tag + ".locked", "0");
  return out;
}

plex::Params unlock_for_provider(const plex::Item& item, const Written& last) {
  plex::Params params;
  const std::pair<const char*, const std::string*> scalars[] = {
      {"title", &item.title},
      {"summary", &item.summary},
      {"studio", &item.studio},
      {"tagline", &item.tagline},
      {"contentRating", &item.content_rating},
      {"originallyAvailableAt", &item.originally_available_at}};
  for (const auto& [field, current] : scalars) {
    const auto wrote = last.scalars.find(field);
    if (item.locked.count(field) != 0U && wrote != last.scalars.end() && wrote->second == *current) {
      params.emplace_back(std::string(field) + ".locked", "0");
    }
  }
  for (const auto& [tag, current] : {std::pair{"genre", &item.genres}, std::pair{"actor", &item.actors}}) {
    const auto wrote = last.lists.find(tag);
    // PMS may not report a lock on tag lists (fidelity findings row 13): PlexSync's own list,
    // unchanged, was locked by PlexSync.
    if (wrote != last.lists.end() && same_names(wrote->second, *current)) {
      params.emplace_back(std::string(tag) + ".locked", "0");
    }
  }
  return params;
}

} // namespace fieldsync
