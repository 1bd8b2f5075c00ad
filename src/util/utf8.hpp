// UTF-8 primitives shared by text sanitizing (sync/) and matching (match/): one place that talks
// to utf8proc for decoding, encoding and normalisation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace util::utf8 {

using CodePoints = std::vector<int32_t>;

[[nodiscard]] bool is_valid(std::string_view text);
// Decoded up to the first invalid sequence.
CodePoints decode(std::string_view text);
void append(std::string& out, int32_t code_point);
std::string encode(const CodePoints& code_points);
// NFC, and Unicode case folding when casefold; nullopt when text is not valid UTF-8.
std::optional<std::string> normalize(std::string_view text, bool casefold);

} // namespace util::utf8
