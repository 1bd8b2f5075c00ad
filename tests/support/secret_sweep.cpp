#include "support/secret_sweep.hpp"

#include <cctype>
#include <filesystem>

#include "support/sandbox.hpp"

namespace testing_support {
namespace {

// Where secrets belong: the database (settings as Stash gave them), a damaged database kept aside
// by the self-healing (the same file, renamed), and the operator's settings file for service mode.
bool holds_secrets_by_design(const std::filesystem::path& p) {
  const auto name = p.filename().string();
  return name == "plexsync.db" || name == "plexsync.db-wal" || name == "plexsync.db-shm" || name == "plexsync.json" ||
         name.rfind("plexsync.db.damaged-", 0) == 0;
}

std::string percent_encoded(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace

SecretSweep::SecretSweep(std::map<std::string, std::string> secrets) : secrets_(std::move(secrets)) {}

void SecretSweep::text(const std::string& where, const std::string& text) {
  ++places_;
  for (const auto& [name, value] : secrets_) {
    if (value.empty()) {
      continue;
    }
    if (text.find(value) != std::string::npos || text.find(percent_encoded(value)) != std::string::npos) {
      leaks_.push_back(name + " in " + where);
    }
  }
}

void SecretSweep::directory(const std::string& dir) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && !holds_secrets_by_design(it->path())) {
      text(it->path().string(), read_file(it->path().string()));
    }
  }
}

void SecretSweep::requests(const std::string& server, const std::vector<sim::RecordedRequest>& requests) {
  for (const auto& r : requests) {
    std::string url = r.path;
    for (const auto& [k, v] : r.query) {
      url += "&" + k + "=" + v;
    }
    text(server + " request " + r.method + " " + r.path, url);
  }
}

} // namespace testing_support
