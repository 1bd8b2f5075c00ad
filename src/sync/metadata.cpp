#include "sync/metadata.hpp"

#include <algorithm>
#include <cmath>

#include "stash/client.hpp"
#include "sync/shelves.hpp"
#include "sync/title_template.hpp"
#include "util/strings.hpp"

namespace fieldsync {
namespace {

constexpr int k_min_year = 1800;
constexpr int k_max_year = 2200;

bool digits(const std::string& s, size_t from, size_t n) {
  return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(from), s.begin() + static_cast<std::ptrdiff_t>(from + n),
                     [](char c) { return c >= '0' && c <= '9'; });
}

int days_in(int year, int month) {
  static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : k_days[month - 1];
}

// Sanitized, de-duplicated (case-insensitively, first spelling wins), empty names dropped.
std::vector<std::string> clean_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    auto clean = sanitize_line(n, k_line_limit);
    if (clean.empty()) {
      continue;
    }
    if (std::none_of(out.begin(), out.end(), [&](const auto& o) { return util::iequals(o, clean); })) {
      out.push_back(std::move(clean));
    }
  }
  return out;
}

template <typename T> void cap(std::vector<T>& list, int max, const char* field, std::vector<Violation>& out) {
  if (list.size() > static_cast<size_t>(max)) {
    out.push_back({field, std::to_string(list.size()) + " entries, more than max_tags (" + std::to_string(max) +
                              "); the first " + std::to_string(max) + " are sent"});
    list.resize(static_cast<size_t>(max));
  }
}

std::string tagline_of(const stash::Scene& scene, const std::string& source) {
  if (source == "code") {
    return scene.code;
  }
  if (source == "director") {
    return scene.director;
  }
  if (source == "url" && !scene.urls.empty()) {
    return scene.urls.front();
  }
  return {};
}

bool within(const std::string& text, TextLimit limit) {
  return text.size() <= limit.max_bytes && truncate_graphemes(text, limit).size() == text.size();
}

void check_text(const std::optional<std::string>& value, const char* field, TextLimit limit, bool one_line,
                std::vector<Violation>& out) {
  if (!value) {
    return;
  }
  if (!is_valid_utf8(*value)) {
    out.push_back({field, "is not valid UTF-8"});
  } else if (!within(*value, limit)) {
    out.push_back({field, "is longer than " + std::to_string(limit.max_graphemes) + " characters"});
  } else if (one_line && value->find_first_of("\n\r\t") != std::string::npos) {
    out.push_back({field, "must be one line"});
  }
}

} // namespace

std::string photo_url_for_plex(const std::string& stash_url, const std::string& stash_url_for_plex) {
  // Stash built the URL on the address PlexSync asked it on (loopback, a container name) or on its
  // external_host; Plex fetches it itself, so it gets the address the user says Plex can reach.
  auto target = stash::image_target(stash_url);
  if (!target || target->rfind("/performer/", 0) != 0) {
    return {};
  }
  // Never a credential: Stash appends apikey= to some URLs when it has one.
  const auto query = target->find('?');
  if (query != std::string::npos) {
    std::string kept;
    for (const auto& [key, value] : util::parse_query(std::string_view(*target).substr(query + 1))) {
      if (util::to_lower(key) == "apikey") {
        continue;
      }
      // Appended piece by piece: GCC 12 at -O3 misreads `"?" + std::string&&` as an overflow.
      kept.push_back(kept.empty() ? '?' : '&');
      kept.append(util::percent_encode(key)).append("=").append(util::percent_encode(value));
    }
    target->resize(query);
    target->append(kept);
  }
  auto base = stash_url_for_plex;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base + *target;
}

bool parse_date(const std::string& text, int& year, int& month, int& day) {
  year = month = day = 0;
  const auto n = text.size();
  if ((n != 4 && n != 7 && n != 10) || !digits(text, 0, 4)) {
    return false;
  }
  year = std::stoi(text.substr(0, 4));
  if (n >= 7) {
    if (text[4] != '-' || !digits(text, 5, 2)) {
      return false;
    }
    month = std::stoi(text.substr(5, 2));
    if (month < 1 || month > 12) {
      return false;
    }
  }
  if (n == 10) {
    if (text[7] != '-' || !digits(text, 8, 2)) {
      return false;
    }
    day = std::stoi(text.substr(8, 2));
    if (day < 1 || day > days_in(year, month)) {
      return false;
    }
  }
  return year >= k_min_year && year <= k_max_year;
}

Prepared prepare(const stash::Scene& scene, const config::Settings& settings, size_t summary_encoded_max) {
  Prepared p;
  auto& d = p.desired;
  auto& v = p.violations;
  if (!settings.skip_title) {
    // title_template (issue #28): parsed again here, cheaply; the settings loader already
    // cleared one that does not parse and said so.
    std::string raw = scene.title;
    if (!settings.title_template.empty()) {
      if (auto t = config::parse_title_template(settings.title_template)) {
        raw = render_title(*t, scene);
      }
    }
    auto title = sanitize_line(raw, k_line_limit);
    if (title.empty() && !scene.files.empty()) {
      title = sanitize_line(scene.files.front().basename, k_line_limit); // what Stash shows then
    }
    if (title.empty()) {
      v.push_back({"title", "is empty and the scene has no file name; Plex keeps its title"});
    } else {
      d.title = title;
    }
  }
  if (!settings.skip_title && !settings.sort_title_template.empty()) {
    if (auto t = config::parse_title_template(settings.sort_title_template)) {
      if (auto sort = sanitize_line(render_title(*t, scene), k_line_limit); !sort.empty()) {
        d.sort_title = std::move(sort);
      }
    }
  }
  if (!settings.skip_summary) {
    d.summary = sanitize_block(scene.details, k_summary_limit);
    if (const auto encoded = encoded_size(*d.summary); encoded > summary_encoded_max) {
      d.summary = cap_encoded(*d.summary, summary_encoded_max);
      v.push_back({"summary", "takes " + std::to_string(encoded) + " bytes in Plex's edit request, more than " +
                                  std::to_string(summary_encoded_max) + "; cut to " +
                                  std::to_string(d.summary->size()) + " bytes at a character boundary"});
    }
  }
  if (!settings.skip_studio) {
    d.studio = sanitize_line(scene.studio, k_line_limit);
  }
  if (!settings.skip_date) {
    int y = 0;
    int m = 0;
    int day = 0;
    const auto date = util::trim(scene.date);
    if (date.empty()) {
      d.date = "";
    } else if (!parse_date(date, y, m, day)) {
      v.push_back({"date", "'" + date + "' is not a date between " + std::to_string(k_min_year) + " and " +
                               std::to_string(k_max_year) + " (YYYY, YYYY-MM or YYYY-MM-DD); not sent"});
    } else if (day == 0) {
      // Plex's originallyAvailableAt needs a whole day, and no real client edits `year` (PMS
      // documents no such edit field; fidelity findings row 4): Plex keeps its own date.
      v.push_back({"date", "'" + date + "' has no day; Plex's date needs one (YYYY-MM-DD), so Plex keeps its own"});
    } else {
      d.date = date;
    }
  }
  if (!settings.skip_rating && scene.rating100) {
    if (*scene.rating100 < 0 || *scene.rating100 > 100) {
      v.push_back({"rating", std::to_string(*scene.rating100) + " is outside 0-100; not sent"});
    } else {
      d.rating = *scene.rating100 / 10.0;
    }
  }
  if (settings.tagline_source != "none") {
    d.tagline = sanitize_line(tagline_of(scene, settings.tagline_source), k_line_limit);
  }
  if (!settings.content_rating.empty()) {
    d.content_rating = sanitize_line(settings.content_rating, k_content_rating_limit);
  }
  if (!settings.skip_genres && !settings.hold_genres) {
    d.genres = clean_names(genres_for(scene, settings));
    cap(*d.genres, settings.max_tags, "genres", v);
  }
  if (!settings.skip_actors) {
    std::vector<std::string> names;
    for (const auto& perf : scene.performers) {
      names.push_back(perf.name);
    }
    std::vector<Actor> actors;
    for (const auto& name : clean_names(names)) {
      std::string photo;
      std::string stash_image;
      if (!settings.skip_performer_photos) {
        for (const auto& perf : scene.performers) {
          if (util::iequals(sanitize_line(perf.name, k_line_limit), name) && !perf.image_path.empty()) {
            stash_image = perf.image_path;
            if (!settings.stash_url_for_plex.empty()) {
              photo = photo_url_for_plex(perf.image_path, settings.stash_url_for_plex);
            }
            break;
          }
        }
      }
      actors.push_back({name, photo, stash_image});
    }
    cap(actors, settings.max_tags, "actors", v);
    d.actors = std::move(actors);
  }
  if (!settings.skip_collections && !settings.hold_collections) {
    const auto from_rules = collections_for(scene, settings);
    std::vector<std::string> names;
    names.reserve(from_rules.size());
    for (const auto& c : from_rules) {
      names.push_back(c.name);
    }
    d.collections = clean_names(names);
    cap(*d.collections, settings.max_tags, "collections", v);
    // Each collection's poster source: the first rule naming it that has an image wins.
    for (const auto& c : from_rules) {
      const auto clean = sanitize_line(c.name, k_line_limit);
      if (!c.image.empty() && !clean.empty() && d.collection_images.count(clean) == 0U) {
        d.collection_images[clean] = c.image;
      }
    }
  }
  if (!settings.skip_poster) {
    d.poster_url = scene.screenshot;
  }
  // The schema gate: anything prepare() let through by mistake is dropped here, loudly.
  for (auto& violation : validate(d, settings.max_tags)) {
    const auto& f = violation.field;
    if (f == "title") {
      d.title.reset();
    } else if (f == "sort_title") {
      d.sort_title.reset();
    } else if (f == "summary") {
      d.summary.reset();
    } else if (f == "studio") {
      d.studio.reset();
    } else if (f == "tagline") {
      d.tagline.reset();
    } else if (f == "content_rating") {
      d.content_rating.reset();
    } else if (f == "date") {
      d.date.reset();
    } else if (f == "rating") {
      d.rating.reset();
    } else if (f == "genres") {
      d.genres.reset();
    } else if (f == "actors") {
      d.actors.reset();
    } else if (f == "collections") {
      d.collections.reset();
    }
    violation.message += "; not sent";
    v.push_back(std::move(violation));
  }
  return p;
}

std::vector<Violation> validate(const Desired& d, int max_tags) {
  std::vector<Violation> out;
  check_text(d.title, "title", k_line_limit, true, out);
  check_text(d.sort_title, "sort_title", k_line_limit, true, out);
  if (d.title && d.title->empty()) {
    out.push_back({"title", "is empty"});
  }
  check_text(d.summary, "summary", k_summary_limit, false, out);
  check_text(d.studio, "studio", k_line_limit, true, out);
  check_text(d.tagline, "tagline", k_line_limit, true, out);
  check_text(d.content_rating, "content_rating", k_content_rating_limit, true, out);
  if (d.date && !d.date->empty()) {
    int y = 0;
    int m = 0;
    int day = 0;
    if (!parse_date(*d.date, y, m, day) || day == 0) {
      out.push_back({"date", "'" + *d.date + "' is not YYYY-MM-DD"});
    }
  }
  if (d.rating && (!std::isfinite(*d.rating) || *d.rating < 0 || *d.rating > 10)) {
    out.push_back({"rating", "is outside 0-10"});
  }
  const auto check_list = [&](const std::vector<std::string>& names, const char* field) {
    if (names.size() > static_cast<size_t>(max_tags)) {
      out.push_back({field, "has more than " + std::to_string(max_tags) + " entries"});
    }
    for (const auto& n : names) {
      if (n.empty()) {
        out.push_back({field, "has an empty name"});
      }
      check_text(n, field, k_line_limit, true, out);
    }
  };
  if (d.genres) {
    check_list(*d.genres, "genres");
  }
  if (d.collections) {
    check_list(*d.collections, "collections");
  }
  if (d.actors) {
    std::vector<std::string> names;
    for (const auto& a : *d.actors) {
      names.push_back(a.name);
    }
    check_list(names, "actors");
  }
  return out;
}

} // namespace fieldsync
