#include "match/fold.hpp"

#include <algorithm>
#include <cstdlib>

#include <utf8proc.h>

namespace match {

std::string fold_text(const std::string& text) {
  utf8proc_uint8_t* mapped = nullptr;
  const auto len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &mapped, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
  if (len < 0) {
    std::string lower = text; // invalid UTF-8: ASCII folding only
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    return lower;
  }
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(len));
  std::free(mapped);
  return out;
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
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(folded.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(folded.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      break;
    }
    const auto cat = utf8proc_category(cp);
    const bool alnum = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                       (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) ||
                       (cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME);
    if (alnum) {
      word.append(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
    p += n;
    left -= n;
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
