#include "util/utf8.hpp"

#include <cstdlib>

#include <utf8proc.h>

namespace util::utf8 {
namespace {

// Calls f(code_point, bytes) for each valid sequence; false at the first invalid one.
template <typename F> bool each(std::string_view text, F&& f) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(p, left, &cp);
    if (n <= 0 || cp < 0) {
      return false;
    }
    f(cp);
    p += n;
    left -= n;
  }
  return true;
}

} // namespace

bool is_valid(std::string_view text) {
  return each(text, [](int32_t) {});
}

CodePoints decode(std::string_view text) {
  CodePoints out;
  out.reserve(text.size());
  each(text, [&](int32_t cp) { out.push_back(cp); });
  return out;
}

void append(std::string& out, int32_t code_point) {
  utf8proc_uint8_t buf[4];
  const auto n = utf8proc_encode_char(code_point, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::string encode(const CodePoints& code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (const auto cp : code_points) {
    append(out, cp);
  }
  return out;
}

std::optional<std::string> normalize(std::string_view text, bool casefold) {
  auto options = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
  if (casefold) {
    options |= UTF8PROC_CASEFOLD;
  }
  utf8proc_uint8_t* mapped = nullptr;
  const auto len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &mapped, static_cast<utf8proc_option_t>(options));
  if (len < 0) {
    return std::nullopt;
  }
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(len));
  std::free(mapped);
  return out;
}

} // namespace util::utf8
