// Desired metadata diffed against the Plex item: the minimal combined edit, with locks.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "plex/client.hpp"
#include "sync/metadata.hpp"

namespace fieldsync {

// What PlexSync last wrote to an item, kept in its database: tells a user's later edit in Plex
// (preserve_plex_edits) from our own value, and which collections are ours to remove.
struct Written {
  std::map<std::string, std::string> scalars;            // Plex field -> value
  std::map<std::string, std::vector<std::string>> lists; // genre / actor / collection -> names
  [[nodiscard]] std::string to_json() const;
  static Written from_json(const std::string& text); // empty on anything unreadable
};

struct PlanOptions {
  bool preserve_plex_edits = false;
  bool merge_tags = false; // tag_mode=merge: add, never remove
};

struct EditPlan {
  plex::Params params;              // empty: Plex already matches Stash
  std::vector<std::string> changed; // Plex field names, for the log
  std::vector<std::string> kept;    // fields left as the user edited them in Plex
  Written written;                  // what Plex holds for our fields after the edit
  // Tag names the edit adds to and removes from the item, by tag type ("collection" -> names):
  // what the worker tends collections by (created, emptied, given a poster).
  std::map<std::string, std::vector<std::string>> added;
  std::map<std::string, std::vector<std::string>> removed;
};

// A rating as PlexSync writes it to Plex and remembers it in Written ("7.5"; "" = none).
std::string rating_text(double plex_rating);

EditPlan plan_edit(const Desired& desired, const plex::Item& item, const PlanOptions& options, const Written& last);

// Pull libraries: PMS keeps tags a provider stops returning (PhoenixAdult's documentation), so a
// tag removed in Stash would stay in Plex. Names the provider served last time (remembered in
// last.lists["served:<tag>"]) that Plex still holds and the provider no longer serves are removed
// by an edit that leaves the list unlocked, so later refreshes keep filling it. Names a person
// added in Plex were never served, so they stay. Records what is served now in written.
struct StaleTags {
  plex::Params params;
  std::vector<std::string> removed;
};
StaleTags stale_provider_tags(const std::string& tag, const std::vector<std::string>& in_plex,
                              const std::vector<std::string>& served_now, const Written& last, Written& written);

// An item moving to a pull library (specs/plex-metadata-provider.md 5.6): the unlocks for the
// fields the provider owns from now on whose value is still the one PlexSync wrote; a person's
// later edit keeps its lock. Collections and the rating stay PlexSync's and locked.
plex::Params unlock_for_provider(const plex::Item& item, const Written& last);

} // namespace fieldsync
