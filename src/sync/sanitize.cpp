#include "sync/sanitize.hpp"

#include <vector>

#include <utf8proc.h>

#include "util/strings.hpp"
#include "util/utf8.hpp"

namespace fieldsync {
namespace {

using util::utf8::append;
using util::utf8::CodePoints;
using util::utf8::decode;
using util::utf8::encode;

std::string nfc(const std::string& valid) {
  return util::utf8::normalize(valid, false).value_or(valid);
}

bool is_pictographic(utf8proc_int32_t cp) {
  const auto cls = utf8proc_get_property(cp)->boundclass;
  return cls == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC || cls == UTF8PROC_BOUNDCLASS_E_ZWG;
}

bool is_extend(utf8proc_int32_t cp) {
  return utf8proc_get_property(cp)->boundclass == UTF8PROC_BOUNDCLASS_EXTEND; // marks, U+FE0F, skin tones
}

// Invisible characters that only confuse sorting, searching and display. ZWJ stays inside emoji
// sequences (pictograph [extend...] ZWJ pictograph: family, profession emoji), goes elsewhere.
bool invisible(utf8proc_int32_t cp, utf8proc_int32_t base, utf8proc_int32_t next) {
  switch (cp) {
  case 0x200B: // zero width space
  case 0x200C: // zero width non-joiner
  case 0x2060: // word joiner
  case 0xFEFF: // byte order mark / zero width no-break space
  case 0x180E: // Mongolian vowel separator
  case 0x061C: // Arabic letter mark
  case 0x200E: // left-to-right mark
  case 0x200F: // right-to-left mark
    return true;
  case 0x200D:
    return !is_pictographic(base) || !is_pictographic(next);
  default:
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069); // bidi embeddings
  }
}

bool is_space(utf8proc_int32_t cp) {
  return cp == ' ' || cp == '\t' || cp == 0x3000 || utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

// Repaired, NFC, controls and invisibles removed; '\n' kept only when multi_line (with "\r\n" and
// a lone '\r' read as one newline), other control characters dropped or turned into spaces.
CodePoints encode_nfc(const CodePoints& cps);

CodePoints clean(const std::string& text, bool multi_line) {
  const auto cps = decode(repair_utf8(text));
  CodePoints out;
  out.reserve(cps.size());
  utf8proc_int32_t base = 0; // the last kept character that is not a mark or modifier
  for (size_t i = 0; i < cps.size(); ++i) {
    auto cp = cps[i];
    if (cp == '\r') {
      if (i + 1 < cps.size() && cps[i + 1] == '\n') {
        continue;
      }
      cp = '\n';
    }
    if (cp == '\n' || cp == '\t') {
      out.push_back(multi_line ? cp : ' ');
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || invisible(cp, base, i + 1 < cps.size() ? cps[i + 1] : 0)) {
      continue;
    } else {
      out.push_back(cp);
    }
    if (!is_extend(cp)) {
      base = cp;
    }
  }
  // Composed last: removing a character can bring a letter and a combining mark together.
  return encode_nfc(out);
}

CodePoints encode_nfc(const CodePoints& cps) {
  return decode(nfc(encode(cps)));
}

} // namespace

bool is_valid_utf8(const std::string& text) {
  return util::utf8::is_valid(text);
}

std::string repair_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(p, left, &cp);
    if (n > 0 && cp >= 0) {
      out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
      p += n;
      left -= n;
      continue;
    }
    if (*p >= 0xA0) {
      append(out, *p); // Latin-1 byte: é sent as 0xE9
    }
    ++p;
    --left;
  }
  return out;
}

// The longest prefix of whole grapheme clusters that fits keeps accepting, cluster by cluster.
template <typename Fits> std::string grapheme_prefix(const std::string& text, Fits fits) {
  const auto cps = decode(text);
  std::string out;
  std::string cluster;
  utf8proc_int32_t state = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i > 0 && utf8proc_grapheme_break_stateful(cps[i - 1], cps[i], &state)) {
      if (!fits(out, cluster)) {
        return out;
      }
      out += cluster;
      cluster.clear();
    }
    append(cluster, cps[i]);
  }
  if (!cluster.empty() && fits(out, cluster)) {
    out += cluster;
  }
  return out;
}

std::string truncate_graphemes(const std::string& text, TextLimit limit) {
  if (text.size() <= limit.max_bytes && text.size() <= limit.max_graphemes) {
    return text; // fewer bytes than allowed characters: nothing to count
  }
  size_t clusters = 0;
  return grapheme_prefix(text, [&](const std::string& out, const std::string& cluster) {
    return ++clusters <= limit.max_graphemes && out.size() + cluster.size() <= limit.max_bytes;
  });
}

size_t encoded_size(const std::string& text) {
  return util::percent_encode(text).size(); // the encoder Plex's query builder uses
}

std::string cap_encoded(const std::string& text, size_t max_encoded) {
  if (encoded_size(text) <= max_encoded) {
    return text;
  }
  static const std::string k_ellipsis = "\u2026";
  const size_t budget = max_encoded > encoded_size(k_ellipsis) ? max_encoded - encoded_size(k_ellipsis) : 0;
  size_t used = 0;
  auto out = grapheme_prefix(text, [&](const std::string& /*out*/, const std::string& cluster) {
    used += encoded_size(cluster);
    return used <= budget;
  });
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) {
    out.pop_back();
  }
  return out + k_ellipsis;
}

std::string sanitize_line(const std::string& text, TextLimit limit) {
  const auto cps = clean(text, false);
  CodePoints collapsed;
  collapsed.reserve(cps.size());
  for (const auto cp : cps) {
    if (is_space(cp)) {
      if (!collapsed.empty() && collapsed.back() != ' ') {
        collapsed.push_back(' ');
      }
    } else {
      collapsed.push_back(cp);
    }
  }
  while (!collapsed.empty() && collapsed.back() == ' ') {
    collapsed.pop_back();
  }
  auto out = truncate_graphemes(encode(collapsed), limit);
  while (!out.empty() && out.back() == ' ') {
    out.pop_back(); // truncation may end on the space between two words
  }
  return out;
}

std::string sanitize_block(const std::string& text, TextLimit limit) {
  const auto cps = clean(text, true);
  // Line by line: trailing spaces go, runs of blank lines become one.
  std::string out;
  std::string line;
  int blank_run = 0;
  const auto flush = [&]() {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
      line.pop_back();
    }
    if (line.empty()) {
      ++blank_run;
    } else {
      if (!out.empty()) {
        out += blank_run > 0 ? "\n\n" : "\n";
      }
      out += line;
      blank_run = 0;
    }
    line.clear();
  };
  for (const auto cp : cps) {
    if (cp == '\n') {
      flush();
    } else if (cp != ' ' && cp != '\t' && is_space(cp)) {
      line.push_back(' '); // no-break and other Unicode spaces
    } else {
      append(line, cp);
    }
  }
  flush();
  // Leading spaces of the first line.
  const auto first = out.find_first_not_of(" \t");
  out.erase(0, first == std::string::npos ? out.size() : first);
  if (out.size() <= limit.max_bytes && out.size() <= limit.max_graphemes) {
    return out;
  }
  auto cut = truncate_graphemes(out, limit);
  if (cut.size() == out.size()) {
    return out;
  }
  while (!cut.empty() && (cut.back() == ' ' || cut.back() == '\n' || cut.back() == '\t')) {
    cut.pop_back(); // a cut at a line or word end leaves no dangling white space
  }
  static const std::string ellipsis = "\xE2\x80\xA6"; // U+2026
  if (limit.max_bytes < ellipsis.size() + 1 || limit.max_graphemes < 2) {
    return cut; // no room to say it was cut
  }
  auto shorter = truncate_graphemes(out, TextLimit{limit.max_graphemes - 1, limit.max_bytes - ellipsis.size()});
  while (!shorter.empty() && (shorter.back() == ' ' || shorter.back() == '\n' || shorter.back() == '\t')) {
    shorter.pop_back();
  }
  return shorter.empty() ? cut : shorter + ellipsis;
}

} // namespace fieldsync
