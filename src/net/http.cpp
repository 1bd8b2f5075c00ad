#include "net/http.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "util/strings.hpp"
#include "util/url_secrets.hpp"

namespace net {

const std::string* find_header(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (util::iequals(h.name, name)) {
      return &h.value;
    }
  }
  return nullptr;
}

util::Result<Url> Url::parse(std::string_view text) {
  Url url;
  const auto trimmed = util::trim(text);
  // Quoted back to a person: a token pasted into the URL must not travel on in the message.
  // Appended piece by piece: GCC 12 at -O3 reports a false -Wstringop-overflow for "'" + string&&.
  std::string shown = "'";
  shown += util::mask_url_secrets(trimmed);
  shown += '\'';
  std::string_view rest = trimmed;
  const auto scheme_end = rest.find("://");
  if (scheme_end == std::string_view::npos) {
    return util::fail("must start with http:// or https://, got " + shown);
  }
  url.scheme = util::to_lower(rest.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return util::fail("must start with http:// or https://, got " + shown);
  }
  rest.remove_prefix(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  // std::find, not string_view::find: GCC 12 at -O3 (mingw) reports a false memchr overread there.
  if (std::find(authority.begin(), authority.end(), '@') != authority.end()) {
    return util::fail("must not contain credentials (user:password@); use the token setting");
  }
  if (path.find('?') != std::string_view::npos || path.find('#') != std::string_view::npos) {
    return util::fail("must not contain a query or fragment (a token goes in its own setting, never in the URL), "
                      "got " +
                      shown);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return util::fail("has an unterminated IPv6 address, got " + shown);
    }
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port_text = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (url.host.empty()) {
    return util::fail("has no host name, got " + shown);
  }
  if (port_text.empty()) {
    url.port = url.scheme == "https" ? 443 : 80;
  } else {
    int port = 0;
    for (const char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) {
        return util::fail("has an invalid port '" + std::string(port_text) + "'");
      }
      port = port * 10 + (c - '0');
    }
    if (port <= 0 || port > 65535) {
      return util::fail("has an invalid port '" + std::string(port_text) + "'");
    }
    url.port = static_cast<uint16_t>(port);
  }
  std::string base(path);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  url.base_path = base;
  return url;
}

std::string Url::display() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + base_path;
}

const char* to_string(TransportFailure failure) {
  switch (failure) {
  case TransportFailure::dns:
    return "dns";
  case TransportFailure::connect_refused:
    return "connection refused";
  case TransportFailure::connect_timeout:
    return "connect timeout";
  case TransportFailure::read_timeout:
    return "read timeout";
  case TransportFailure::deadline:
    return "deadline exceeded";
  case TransportFailure::reset:
    return "connection reset";
  case TransportFailure::tls:
    return "tls";
  case TransportFailure::too_large:
    return "response too large";
  case TransportFailure::protocol:
    return "protocol error";
  case TransportFailure::aborted:
    return "stopped";
  }
  return "unknown";
}

} // namespace net
