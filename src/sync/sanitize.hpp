// Text that Plex stores and shows without surprises (VALID-02): valid UTF-8, NFC, no invisible
// or control characters, and within a length budget that never cuts a character in half.
#pragma once

#include <cstddef>
#include <string>

namespace fieldsync {

struct TextLimit {
  size_t max_graphemes; // what a person sees as characters
  size_t max_bytes;     // what the URL and Plex's database hold
};

// One-line fields (title, studio, tag names): whitespace runs become one space, trimmed.
std::string sanitize_line(const std::string& text, TextLimit limit);
// Multi-line fields (summary): newlines and tabs kept, line ends trimmed, at most one blank line.
// A truncated block ends with an ellipsis.
std::string sanitize_block(const std::string& text, TextLimit limit);

// Invalid UTF-8 repaired: a stray byte 0xA0-0xFF is read as Latin-1 (the usual mis-encoding),
// anything else invalid is dropped.
std::string repair_utf8(const std::string& text);
// The longest prefix of whole grapheme clusters within both limits.
std::string truncate_graphemes(const std::string& text, TextLimit limit);
[[nodiscard]] bool is_valid_utf8(const std::string& text);

// Bytes the text takes once percent-encoded in a URL query (unreserved ASCII 1, the rest 3).
[[nodiscard]] size_t encoded_size(const std::string& text);
// The longest prefix of whole grapheme clusters whose encoded size, with a closing ellipsis when
// cut, is at most max_encoded: what fits in a request line whatever the script.
std::string cap_encoded(const std::string& text, size_t max_encoded);

} // namespace fieldsync
