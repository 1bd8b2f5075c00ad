// What Stash says a Plex item should look like: mapped from the scene, sanitized and checked
// against the field schema (VALID-01) before anything is compared with Plex or sent.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "stash/scene.hpp"
#include "sync/sanitize.hpp"

namespace fieldsync {

// Plex's limits as PlexSync applies them (PMS documents none; these keep a request line short).
inline constexpr TextLimit k_line_limit{255, 1020};
inline constexpr TextLimit k_summary_limit{10000, 30000};
inline constexpr TextLimit k_content_rating_limit{32, 128};
// A summary travels percent-encoded in the edit's query string, whose length PMS does not document
// (a python-plexapi user hit "URI too large"): cut by encoded size so an edit line stays well under
// 8 KiB whatever the script (CJK text triples when encoded). fidelity findings row 6.
inline constexpr size_t k_summary_encoded_max = 6144;

struct Actor {
  std::string name;
  std::string photo_url; // empty: leave Plex's photo alone
  // The performer's image as Stash serves it ("" = none, a placeholder, or photos turned off):
  // what the metadata provider proxies for PMS (pull mode), where push uses photo_url.
  std::string stash_image;
};

// Unset optional: the field is not synced (turned off, or nothing valid to send).
struct Desired {
  std::optional<std::string> title;
  std::optional<std::string> sort_title; // sort_title_template's; unset: Plex's own
  std::optional<std::string> summary;
  std::optional<std::string> studio;
  std::optional<std::string> tagline;
  std::optional<std::string> content_rating;
  std::optional<std::string> date; // YYYY-MM-DD, or empty to clear
  std::optional<double> rating;    // 0-10
  std::optional<std::vector<std::string>> genres;
  std::optional<std::vector<Actor>> actors;
  std::optional<std::vector<std::string>> collections;
  // Collection name -> the Stash image it gets as poster when PlexSync creates it (issue #28).
  std::map<std::string, std::string> collection_images;
  std::string poster_url; // Stash's screenshot URL; empty: no poster sync
};

struct Violation {
  std::string field;
  std::string message; // names the value and what happens to it
};

struct Prepared {
  Desired desired;
  std::vector<Violation> violations; // fields dropped or cut, for the log
};

// Mapping, sanitizing and validation in one step; never fails as a whole.
// summary_encoded_max: the summary's budget once encoded (smaller on a retry after a 414).
Prepared prepare(const stash::Scene& scene, const config::Settings& settings,
                 size_t summary_encoded_max = k_summary_encoded_max);

// The schema check proper: every set field has the right type, format, range and size.
// prepare() output always passes; the worker runs it again as the last gate before Plex.
std::vector<Violation> validate(const Desired& desired, int max_tags);

// A performer image URL Stash built, on the address Plex reaches Stash on (stash_url_for_plex),
// without any credential; "" when it is not a performer image.
std::string photo_url_for_plex(const std::string& stash_url, const std::string& stash_url_for_plex);

// "YYYY", "YYYY-MM" or "YYYY-MM-DD" naming a real calendar day; out: the parts present.
bool parse_date(const std::string& text, int& year, int& month, int& day);

} // namespace fieldsync
