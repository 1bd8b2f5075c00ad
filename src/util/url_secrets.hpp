// Secrets people paste inside URLs: Plex's web app shows addresses with ?X-Plex-Token=..., and
// user:password@ is the browser habit. Every place that echoes a URL or a setting masks them, and
// the log masks them in every line, wherever in the text they appear.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace util {

// The secret values found in text (query parameters named like a token, key, password or session,
// and the userinfo of scheme://user:password@host), for the log's secret list.
std::vector<std::string> secrets_in_urls(std::string_view text);
// text with each of those values replaced by "<redacted>".
std::string mask_url_secrets(std::string_view text);

} // namespace util
