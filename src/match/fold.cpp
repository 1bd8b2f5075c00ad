#include "match/fold.hpp"

#include <algorithm>

#include <utf8proc.h>

#include "util/utf8.hpp"

namespace match {

std::string fold_text(const std::string& text) {
  if (auto folded = util::utf8::normalize(text, true)) {
    return *folded;
  }
  std::string lower = text; // invalid UTF-8: ASCII folding only
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return lower;
}

std::string fold_path(const std::string& path) {
  auto out = fold_text(path);
  std::replace(out.begin(), out.end(), '\\', '/');
  if (out.rfind("//?/", 0) == 0) {
    out.erase(0, 4); // Windows long-path prefix
  }
  return out;
}

std::string folded_basename(const std::string& path) {
  const auto folded = fold_path(path);
  const auto slash = folded.find_last_of('/');
  return slash == std::string::npos ? folded : folded.substr(slash + 1);
}

std::vector<std::string> title_words(const std::string& title) {
  const auto folded = fold_text(title);
  std::vector<std::string> words;
  std::string word;
  for (const auto cp : util::utf8::decode(folded)) {
    const auto cat = utf8proc_category(cp);
    const bool alnum = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                       (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) ||
                       (cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME);
    if (alnum) {
      util::utf8::append(word, cp);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) {
    words.push_back(std::move(word));
  }
  return words;
}

double title_similarity(const std::string& a, const std::string& b) {
  // Word sequences joined by one space: punctuation and spacing differences cost nothing.
  const auto join = [](const std::vector<std::string>& words) {
    std::string s;
    for (const auto& w : words) {
      s += (s.empty() ? "" : " ") + w;
    }
    return s.substr(0, 256); // bounded cost
  };
  const auto x = join(title_words(a));
  const auto y = join(title_words(b));
  if (x.empty() || y.empty()) {
    return 0;
  }
  std::vector<size_t> prev(y.size() + 1);
  std::vector<size_t> cur(y.size() + 1);
  for (size_t j = 0; j <= y.size(); ++j) {
    prev[j] = j;
  }
  for (size_t i = 1; i <= x.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= y.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  const auto longest = std::max(x.size(), y.size());
  return 1.0 - static_cast<double>(prev[y.size()]) / static_cast<double>(longest);
}

} // namespace match
