#include "util/utc_time.hpp"

#include <array>
#include <ctime>

namespace util {
namespace {

constexpr std::array<const char*, 12> k_months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<const char*, 7> k_days{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

bool leap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> k_len{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap(year) ? 29 : k_len.at(static_cast<size_t>(month - 1));
}

// Exactly n digits at text[at..], as a number.
std::optional<int> digits(std::string_view text, size_t at, size_t n) {
  if (at + n > text.size()) {
    return std::nullopt;
  }
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return std::nullopt;
    }
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

bool valid(const UtcTime& t) {
  return t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= days_in_month(t.year, t.month) && t.hour >= 0 &&
         t.hour <= 23 && t.minute >= 0 && t.minute <= 59 && t.second >= 0 && t.second <= 60;
}

} // namespace

int64_t days_from_civil(int year, int month, int day) {
  const int64_t y = static_cast<int64_t>(year) - (month <= 2 ? 1 : 0);
  const int64_t era = floor_div(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t mp = (month + 9) % 12; // March = 0
  const int64_t doy = (153 * mp + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t to_epoch(const UtcTime& t) {
  return days_from_civil(t.year, t.month, t.day) * 86400 + int64_t{t.hour} * 3600 + int64_t{t.minute} * 60 + t.second;
}

UtcTime from_epoch(int64_t epoch_s) {
  const int64_t days = floor_div(epoch_s, 86400);
  const int64_t secs = epoch_s - days * 86400;
  const int64_t z = days + 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  UtcTime t;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = static_cast<int>(yoe + era * 400 + (t.month <= 2 ? 1 : 0));
  t.hour = static_cast<int>(secs / 3600);
  t.minute = static_cast<int>(secs % 3600 / 60);
  t.second = static_cast<int>(secs % 60);
  t.weekday = static_cast<int>(days + 4 - 7 * floor_div(days + 4, 7)); // 1970-01-01 was a Thursday
  return t;
}

std::string format_utc(int64_t epoch_s, const char* format) {
  const auto t = from_epoch(epoch_s);
  std::tm tm{};
  tm.tm_year = t.year - 1900;
  tm.tm_mon = t.month - 1;
  tm.tm_mday = t.day;
  tm.tm_hour = t.hour;
  tm.tm_min = t.minute;
  tm.tm_sec = t.second;
  tm.tm_wday = t.weekday;
  tm.tm_yday = static_cast<int>(days_from_civil(t.year, t.month, t.day) - days_from_civil(t.year, 1, 1));
  char buf[128];
  const auto n = std::strftime(buf, sizeof buf, format, &tm);
  return {buf, n};
}

std::optional<UtcTime> parse_iso_datetime(std::string_view text, size_t* rest_offset) {
  const auto y = digits(text, 0, 4);
  const auto mo = digits(text, 5, 2);
  const auto d = digits(text, 8, 2);
  const auto h = digits(text, 11, 2);
  const auto mi = digits(text, 14, 2);
  const auto s = digits(text, 17, 2);
  if (!y || !mo || !d || !h || !mi || !s || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != ' ') ||
      text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  UtcTime t{*y, *mo, *d, *h, *mi, *s};
  if (!valid(t)) {
    return std::nullopt;
  }
  if (rest_offset != nullptr) {
    *rest_offset = 19;
  }
  return t;
}

std::optional<int64_t> parse_http_date(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": 29 characters, day name and month by their English names.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT" || text[7] != ' ' ||
      text[11] != ' ' || text[16] != ' ' || text[19] != ':' || text[22] != ':') {
    return std::nullopt;
  }
  int weekday = -1;
  for (size_t i = 0; i < k_days.size(); ++i) {
    weekday = text.substr(0, 3) == k_days.at(i) ? static_cast<int>(i) : weekday;
  }
  int month = 0;
  for (size_t i = 0; i < k_months.size(); ++i) {
    month = text.substr(8, 3) == k_months.at(i) ? static_cast<int>(i) + 1 : month;
  }
  const auto d = digits(text, 5, 2);
  const auto y = digits(text, 12, 4);
  const auto h = digits(text, 17, 2);
  const auto mi = digits(text, 20, 2);
  const auto s = digits(text, 23, 2);
  if (weekday < 0 || month == 0 || !d || !y || !h || !mi || !s) {
    return std::nullopt;
  }
  const UtcTime t{*y, month, *d, *h, *mi, *s};
  return valid(t) ? std::optional<int64_t>(to_epoch(t)) : std::nullopt;
}

std::optional<int64_t> parse_rfc3339(std::string_view text) {
  size_t rest = 0;
  const auto parsed = parse_iso_datetime(text, &rest);
  if (!parsed) {
    return std::nullopt;
  }
  auto zone = text.substr(rest);
  if (!zone.empty() && zone.front() == '.') { // a fraction of a second: ignored
    size_t digits = 1;
    while (digits < zone.size() && zone[digits] >= '0' && zone[digits] <= '9') {
      ++digits;
    }
    zone = zone.substr(digits);
  }
  const int64_t local = to_epoch(*parsed);
  if (zone == "Z" || zone == "z") {
    return local;
  }
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':') {
    return std::nullopt;
  }
  const auto two = [&](size_t at) -> int {
    const char a = zone[at];
    const char b = zone[at + 1];
    return a >= '0' && a <= '9' && b >= '0' && b <= '9' ? (a - '0') * 10 + (b - '0') : -1;
  };
  const int h = two(1);
  const int m = two(4);
  if (h < 0 || h > 23 || m < 0 || m > 59) {
    return std::nullopt;
  }
  const int64_t offset = (int64_t{h} * 3600 + int64_t{m} * 60) * (zone[0] == '-' ? -1 : 1);
  return local - offset;
}

} // namespace util
