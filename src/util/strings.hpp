// Small string helpers with no PlexSync knowledge.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace util {

std::string trim(std::string_view s);
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with_icase(std::string_view s, std::string_view prefix);
bool iequals(std::string_view a, std::string_view b);
// Percent-encodes every byte except unreserved ones (RFC 3986), as Plex clients do.
std::string percent_encode(std::string_view s);
// Decodes %XX; when plus_is_space, '+' becomes ' ' (query strings).
std::string percent_decode(std::string_view s, bool plus_is_space);
// Splits "a=1&b=2" into decoded pairs, keeping order.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);
// Last path component of a '/' or '\\' separated path.
std::string basename(std::string_view path);
std::string dirname(std::string_view path);
std::string hex(std::string_view bytes);
// Non-empty, ASCII digits only, at most max_len of them (ids, timestamps; 18 digits fit int64_t).
bool all_digits(std::string_view s, size_t max_len = std::string_view::npos);

} // namespace util
