// UTC calendar arithmetic, parsing and formatting without the C library's timegm, strptime or
// gmtime_r: Windows has none of the three, and their behaviour differs between C libraries. The
// calendar is the proleptic Gregorian one (days_from_civil after H. Hinnant's published algorithm).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace util {

struct UtcTime {
  int year = 1970;
  int month = 1; // 1..12
  int day = 1;   // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday = 4; // 0 = Sunday; filled by from_epoch
};

int64_t days_from_civil(int year, int month, int day);
int64_t to_epoch(const UtcTime& t);
UtcTime from_epoch(int64_t epoch_s);

// strftime over from_epoch(epoch_s): %Y %m %d %H %M %S %a %b and literal text.
std::string format_utc(int64_t epoch_s, const char* format);

// "YYYY-MM-DDTHH:MM:SS" at the start of text, fields range-checked; the rest of text (a zone, a
// fraction) is left to the caller as *rest_offset.
std::optional<UtcTime> parse_iso_datetime(std::string_view text, size_t* rest_offset = nullptr);

// An RFC 3339 date-time with its zone ("2026-12-07T10:00:00+01:00", "...Z", a fraction allowed)
// as Unix seconds; nullopt without a zone or on anything malformed.
std::optional<int64_t> parse_rfc3339(std::string_view text);

// An HTTP date (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") as Unix seconds.
std::optional<int64_t> parse_http_date(std::string_view text);

} // namespace util
