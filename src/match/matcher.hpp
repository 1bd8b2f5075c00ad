// Scene -> Plex item with a confidence score and the reason, from the persisted index.
// Scores (percent): exact path 100; same path up to case, Unicode form or separators 95; same
// file name and size 90; same file name and duration 80; same file name 60; a similar title
// at most 50. An item's score is its best part against any of the scene's files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "match/index.hpp"

namespace match {

struct SceneFacts {
  struct File {
    std::string plex_path; // after path_map
    int64_t size = 0;
    double duration_s = 0;
  };
  std::vector<File> files;
  std::string title; // falls back to the first file name when empty
};

struct Candidate {
  std::string rating_key;
  std::string section_key;
  std::string title;
  std::string file;
  int score = 0;
  std::string reason;
};

// How one indexed part fits one scene file (0 when it does not).
Candidate score_part(const SceneFacts& scene, const IndexedPart& part);
// Best score per item, best first; ties keep index order.
std::vector<Candidate> rank(const SceneFacts& scene, const std::vector<IndexedPart>& parts);

enum class Verdict { confident, uncertain, none };

struct Decision {
  Verdict verdict = Verdict::none;
  std::vector<Candidate> ranked; // at most a handful, for the log and the review list
  std::string why;               // for uncertain: below the threshold, or a close second
};

// Scores within this many points of the best make a match ambiguous (unless the best is exact).
inline constexpr int k_ambiguity_margin = 5;

Decision decide(std::vector<Candidate> ranked, int min_score);

// Gathers candidates from the index (exact, folded, same name, then titles) and decides.
util::Result<Decision> find_match(LibraryIndex& index, const SceneFacts& scene, int min_score);

} // namespace match
