#include "util/url_secrets.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace util {
namespace {

// Query parameter names (compared case-insensitively) whose values are credentials.
constexpr std::array<std::string_view, 17> k_secret_names{
    "x-plex-token", "token",  "access_token", "api_key",   "apikey", "api-key",   "key", "password", "pass",
    "pwd",          "secret", "session",      "sessionid", "auth",   "signature", "sig", "x-api-key"};

bool ends_value(char c) {
  return c == '&' || c == '#' || c == ';' || c == '\'' || c == '"' || c == '<' || c == '>' || c == ')' ||
         std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool secret_name(std::string_view name) {
  return std::any_of(k_secret_names.begin(), k_secret_names.end(), [&](std::string_view known) {
    return known.size() == name.size() && std::equal(known.begin(), known.end(), name.begin(), [](char a, char b) {
             return a == std::tolower(static_cast<unsigned char>(b));
           });
  });
}

// [begin, end) of every secret value in text, in order.
std::vector<std::pair<size_t, size_t>> secret_spans(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '?' || text[i] == '&' || text[i] == ';') {
      const auto eq = text.find('=', i + 1);
      if (eq == std::string_view::npos) {
        break;
      }
      const auto name = text.substr(i + 1, eq - i - 1);
      if (name.find_first_of("?&;/ ") == std::string_view::npos && secret_name(name)) {
        size_t end = eq + 1;
        while (end < text.size() && !ends_value(text[end])) {
          ++end;
        }
        if (end > eq + 1) {
          spans.emplace_back(eq + 1, end);
        }
        i = end - 1;
      }
    } else if (text.compare(i, 3, "://") == 0) {
      // scheme://user:password@host: the userinfo ends at '@' before the first '/', '?' or blank.
      size_t end = i + 3;
      while (end < text.size() && text[end] != '@' && text[end] != '/' && text[end] != '?' && !ends_value(text[end])) {
        ++end;
      }
      if (end < text.size() && text[end] == '@' && end > i + 3) {
        spans.emplace_back(i + 3, end);
      }
      i += 2;
    }
  }
  return spans;
}

} // namespace

std::vector<std::string> secrets_in_urls(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& [begin, end] : secret_spans(text)) {
    out.emplace_back(text.substr(begin, end - begin));
  }
  return out;
}

std::string mask_url_secrets(std::string_view text) {
  const auto spans = secret_spans(text);
  if (spans.empty()) {
    return std::string(text);
  }
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  for (const auto& [begin, end] : spans) {
    out.append(text.substr(at, begin - at));
    out += "<redacted>";
    at = end;
  }
  out.append(text.substr(at));
  return out;
}

} // namespace util
