#include "match/matcher.hpp"

#include <algorithm>
#include <cmath>

#include "match/fold.hpp"

namespace match {

Candidate score_part(const SceneFacts& scene, const IndexedPart& part) {
  Candidate best{part.rating_key, part.section_key, part.title, part.file, 0, ""};
  const auto consider = [&](int score, const char* reason) {
    if (score > best.score) {
      best.score = score;
      best.reason = reason;
    }
  };
  const auto part_fold = fold_path(part.file);
  const auto part_base = folded_basename(part.file);
  for (const auto& f : scene.files) {
    if (part.file == f.plex_path) {
      consider(100, "exact path");
      break;
    }
    if (part_fold == fold_path(f.plex_path)) {
      consider(95, "same path up to case, Unicode form or separators");
      continue;
    }
    if (part_base != folded_basename(f.plex_path)) {
      continue;
    }
    if (f.size > 0 && part.size == f.size) {
      consider(90, "same file name and size");
    } else if (f.duration_s > 0 && part.duration_ms > 0 &&
               std::abs(static_cast<double>(part.duration_ms) / 1000.0 - f.duration_s) <=
                   std::max(2.0, f.duration_s * 0.01)) {
      consider(80, "same file name and duration");
    } else {
      consider(60, "same file name");
    }
  }
  if (best.score == 0) {
    auto title = scene.title;
    if (title.empty() && !scene.files.empty()) {
      title = folded_basename(scene.files.front().plex_path);
      title = title.substr(0, title.find_last_of('.'));
    }
    const double similarity = title_similarity(title, part.title);
    if (similarity >= 0.8) {
      best.score = static_cast<int>(std::lround(similarity * 50));
      best.reason = "similar title";
    }
  }
  return best;
}

std::vector<Candidate> rank(const SceneFacts& scene, const std::vector<IndexedPart>& parts) {
  std::vector<Candidate> out;
  for (const auto& part : parts) {
    auto c = score_part(scene, part);
    if (c.score == 0) {
      continue;
    }
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& o) { return o.rating_key == c.rating_key; });
    if (same == out.end()) {
      out.push_back(std::move(c));
    } else if (c.score > same->score) {
      *same = std::move(c); // multi-part item: its best part counts
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
  return out;
}

Decision decide(std::vector<Candidate> ranked, int min_score) {
  Decision d;
  if (ranked.size() > 5) {
    ranked.resize(5);
  }
  d.ranked = std::move(ranked);
  if (d.ranked.empty()) {
    d.verdict = Verdict::none;
    return d;
  }
  const auto& best = d.ranked.front();
  if (best.score < min_score) {
    d.verdict = Verdict::uncertain;
    d.why = "best match scores " + std::to_string(best.score) + " (" + best.reason + "), below match_min_score " +
            std::to_string(min_score);
    return d;
  }
  if (best.score < 100 && d.ranked.size() > 1 && d.ranked[1].score >= best.score - k_ambiguity_margin) {
    d.verdict = Verdict::uncertain;
    d.why =
        "Plex items " + best.rating_key + " and " + d.ranked[1].rating_key + " fit equally well (" + best.reason + ")";
    return d;
  }
  d.verdict = Verdict::confident;
  return d;
}

util::Result<Decision> find_match(LibraryIndex& index, const SceneFacts& scene, int min_score) {
  std::vector<IndexedPart> parts;
  const auto gather = [&](const util::Result<std::vector<IndexedPart>>& found) -> util::Result<void> {
    if (!found) {
      return tl::unexpected(found.error());
    }
    parts.insert(parts.end(), found->begin(), found->end());
    return {};
  };
  // Cheapest evidence first; stop as soon as a file-based candidate exists.
  for (const auto& f : scene.files) {
    TRY(gather(index.exact(f.plex_path)));
  }
  if (parts.empty()) {
    for (const auto& f : scene.files) {
      TRY(gather(index.folded(f.plex_path)));
    }
  }
  if (parts.empty()) {
    for (const auto& f : scene.files) {
      TRY(gather(index.same_basename(f.plex_path)));
    }
  }
  if (parts.empty()) {
    auto title = scene.title;
    if (title.empty() && !scene.files.empty()) {
      title = folded_basename(scene.files.front().plex_path);
    }
    TRY(gather(index.similar_titles(title)));
  }
  return decide(rank(scene, parts), min_score);
}

} // namespace match
