#include "util/log.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <vector>

#include "util/url_secrets.hpp"

namespace util::log {
namespace {

constexpr size_t k_max_line = 60000; // Stash's reader stops at 64 KiB lines.

struct State {
  std::mutex mutex;
  Level level = Level::info;
  bool debug_visible = false;
  bool obfuscate_paths = false;
  std::vector<std::string> secrets;
  Sink sink;
};

State& state() {
  static State s;
  return s;
}

char level_char(Level level) {
  switch (level) {
  case Level::trace:
    return 't';
  case Level::debug:
    return 'd';
  case Level::info:
    return 'i';
  case Level::warning:
    return 'w';
  case Level::error:
    return 'e';
  }
  return 'i';
}

const char* level_name(Level level) {
  switch (level) {
  case Level::trace:
    return "trace";
  case Level::debug:
    return "debug";
  case Level::info:
    return "info";
  case Level::warning:
    return "warning";
  case Level::error:
    return "error";
  }
  return "info";
}

void stash_sink(Level level, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 4);
  line.push_back('\x01');
  line.push_back(level_char(level));
  line.push_back('\x02');
  line.append(message.substr(0, k_max_line));
  line.push_back('\n');
  (void)std::fwrite(line.data(), 1, line.size(), stderr);
  (void)std::fflush(stderr);
}

std::string redact_locked(State& s, std::string_view text) {
  std::string out = mask_url_secrets(text); // also secrets not registered yet, pasted into a URL
  for (const auto& secret : s.secrets) {
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), "<redacted>");
      pos += 10;
    }
  }
  return out;
}

} // namespace

void set_sink(Sink sink) {
  const std::lock_guard lock(state().mutex);
  state().sink = std::move(sink);
}

void set_level(Level level) {
  const std::lock_guard lock(state().mutex);
  state().level = level;
}

bool enabled(Level level) {
  return level >= state().level;
}

void set_debug_visible(bool visible) {
  const std::lock_guard lock(state().mutex);
  state().debug_visible = visible;
  state().level = visible ? Level::debug : Level::info;
}

void write(Level level, std::string_view message) {
  auto& s = state();
  const std::lock_guard lock(s.mutex);
  if (s.debug_visible && level <= Level::debug) {
    level = Level::info;
  }
  // Newlines would split one message into several Stash log lines.
  std::string clean = redact_locked(s, message);
  for (auto& c : clean) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
  }
  if (s.sink) {
    s.sink(level, clean);
  } else {
    stash_sink(level, clean);
  }
}

void set_obfuscate_paths(bool on) {
  const std::lock_guard lock(state().mutex);
  state().obfuscate_paths = on;
}

std::string display_path(std::string_view path) {
  {
    const std::lock_guard lock(state().mutex);
    if (!state().obfuscate_paths) {
      return std::string(path);
    }
  }
  uint32_t hash = 2166136261U; // FNV-1a: stable across runs and machines
  for (const unsigned char c : path) {
    hash = (hash ^ c) * 16777619U;
  }
  char buf[16];
  (void)std::snprintf(buf, sizeof buf, "%08x", hash);
  const auto slash = path.find_last_of("/\\");
  const auto dot = path.rfind('.');
  const bool has_ext =
      dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash) && path.size() - dot <= 6;
  return std::string("<file:") + buf + (has_ext ? std::string(path.substr(dot)) : "") + ">";
}

void add_secret(std::string secret) {
  if (secret.size() < 4) {
    return; // too short to mask without mangling ordinary text
  }
  const std::lock_guard lock(state().mutex);
  auto& secrets = state().secrets;
  // A long-running worker hands the same key to every client it makes: keep each secret once.
  if (std::find(secrets.begin(), secrets.end(), secret) == secrets.end()) {
    secrets.push_back(std::move(secret));
  }
}

std::string redact(std::string_view text) {
  const std::lock_guard lock(state().mutex);
  return redact_locked(state(), text);
}

void progress(double fraction) {
  if (fraction < 0) {
    fraction = 0;
  }
  if (fraction > 1) {
    fraction = 1;
  }
  (void)std::fprintf(stderr, "\x01p\x02%.4f\n", fraction);
  (void)std::fflush(stderr);
}

void use_plain_stderr() {
  set_sink([](Level level, std::string_view message) {
    (void)std::fprintf(stderr, "plexsync: %s: %.*s\n", level_name(level), static_cast<int>(message.size()),
                       message.data());
    (void)std::fflush(stderr);
  });
}

} // namespace util::log
