// Comparable forms of paths and titles: what differs only by case, Unicode normal form (macOS
// writes NFD) or path separator (Plex on Windows) folds to the same string.
#pragma once

#include <string>
#include <vector>

namespace match {

std::string fold_text(const std::string& text);                 // NFC + case fold
std::string fold_path(const std::string& path);                 // fold_text, '\' -> '/', "//?/" dropped
std::string folded_basename(const std::string& path);           // last component of fold_path
std::vector<std::string> title_words(const std::string& title); // folded alphanumeric runs
// 0..1: how alike two titles are (Levenshtein over their folded word sequences, as characters).
double title_similarity(const std::string& a, const std::string& b);

} // namespace match
