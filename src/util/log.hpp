// Leveled logging. The level is checked before a message is formatted, and every registered
// secret (Plex token, Stash cookie/API key) is masked before a line leaves the process.
#pragma once

#include <functional>
#include <sstream>
#include <string>
#include <string_view>

namespace util::log {

enum class Level { trace = 0, debug = 1, info = 2, warning = 3, error = 4 };

// Where lines go. The default writes Stash's leveled stderr protocol (\x01<l>\x02msg).
using Sink = std::function<void(Level, std::string_view)>;

void set_sink(Sink sink);
void set_level(Level level);
// debug_logging: step-by-step (debug) lines are written at info level, which Stash shows by default.
void set_debug_visible(bool visible);
[[nodiscard]] bool enabled(Level level);
void write(Level level, std::string_view message);
// Registers a secret to mask in every later line (and in redact()).
void add_secret(std::string secret);
std::string redact(std::string_view text);
// obfuscate_paths: file paths shown through display_path() become stable stand-ins such as
// "<file:9c1e04aa.mp4>" (same path, same stand-in), so logs can be shared safely.
void set_obfuscate_paths(bool on);
std::string display_path(std::string_view path);
// Stash progress line (0..1) on stderr; ignored by Stash for hooks.
void progress(double fraction);
// Plain sink for terminals: "plexsync: info: message".
void use_plain_stderr();

} // namespace util::log

// expr is a chain of "<<" operands: parentheses would turn it into one shifted value.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define PLEXSYNC_LOG(level, expr)                                                                                      \
  do {                                                                                                                 \
    if (::util::log::enabled(level)) {                                                                                 \
      std::ostringstream log_stream_;                                                                                  \
      log_stream_ << expr;                                                                                             \
      ::util::log::write(level, log_stream_.str());                                                                    \
    }                                                                                                                  \
  } while (false)
// NOLINTEND(bugprone-macro-parentheses)
#define LOG_TRACE(expr) PLEXSYNC_LOG(::util::log::Level::trace, expr)
#define LOG_DEBUG(expr) PLEXSYNC_LOG(::util::log::Level::debug, expr)
#define LOG_INFO(expr) PLEXSYNC_LOG(::util::log::Level::info, expr)
#define LOG_WARN(expr) PLEXSYNC_LOG(::util::log::Level::warning, expr)
#define LOG_ERROR(expr) PLEXSYNC_LOG(::util::log::Level::error, expr)
