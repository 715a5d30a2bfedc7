// Civil dates and ISO-8601 text, as Debezium's temporal values need them.
//
// Dates are proleptic Gregorian for every int64 year, numbered astronomically as ISO 8601 and
// java.time do: year 0 is 1 BC, year -1 is 2 BC. Days count from 1970-01-01.
//
// Text follows java.time's ISO formatters, which Debezium uses:
//   date       YYYY-MM-DD, at least four year digits; '-' before negative years ("-0001-06-01")
//              and, in the java.time style, '+' before years beyond 9999 ("+10000-01-01")
//   time       HH:MM:SS[.fraction], the fraction without trailing zeros ("10:00:00.5")
//   instant    <date>T<time>Z, a ZonedTimestamp in UTC ("2024-03-01T04:45:30.123Z")
// and instants are read back with any UTC offset: Z, +hh, +hh:mm or +hh:mm:ss (also '-'), so
// "2024-01-01T09:00:00+09:00" is 2024-01-01T00:00:00Z.
//
// The Append functions append to a caller's buffer and allocate nothing beyond its growth.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/int_math.h"

namespace cdcctl {

inline constexpr int64_t kSecondsPerDay = 86400;

// Inline: the PostgreSQL date decoder and the sinks call these once per value.
constexpr bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

namespace detail {
inline constexpr unsigned kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
}  // namespace detail

// month in 1..12.
constexpr unsigned DaysInMonth(int64_t y, unsigned m) {
    return m == 2 && IsLeapYear(y) ? 29 : detail::kDaysInMonth[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back. Exact for every date whose day
// count fits int64 arithmetic (years up to about +-2.5e16).
constexpr int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
    // Howard Hinnant's days_from_civil: 400-year eras of 146097 days, with years starting in
    // March so that the leap day falls at the end of the year.
    int64_t y = year - (month <= 2 ? 1 : 0);
    int64_t era = FloorDiv(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = month > 2 ? month - 3 : month + 9;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

constexpr void CivilFromDays(int64_t days, int64_t *year, unsigned *month, unsigned *day) {
    int64_t z = days + 719468;
    int64_t era = FloorDiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
    *month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

enum class IsoYearSign : uint8_t {
    kJavaTime,      // '+' before years beyond 9999, '-' before negative years (Debezium)
    kNegativeOnly,  // '-' before negative years only (the Elasticsearch sink's documents)
};

// The year, zero-padded to four digits: "0042", "-0001", "+10000".
void AppendIsoYear(std::string *out, int64_t year, IsoYearSign sign = IsoYearSign::kJavaTime);
// YYYY-MM-DD of a day count.
void AppendIsoDate(std::string *out, int64_t days_since_epoch,
                   IsoYearSign sign = IsoYearSign::kJavaTime);
// HH:MM:SS of seconds since midnight, 0 <= seconds_of_day < 86400.
void AppendIsoTimeOfDay(std::string *out, int64_t seconds_of_day);
// "." and the fraction `fraction` / 10^digits without its trailing zeros; nothing when 0.
// (500, 3) -> ".5", (123456, 6) -> ".123456", (1, 9) -> ".000000001".
void AppendIsoFraction(std::string *out, int64_t fraction, int digits);
// A local date-time (no zone designator) from units since the epoch, units_per_second one of
// 1, 1000, 1000000, 1000000000: (-1, 1000) -> "1969-12-31T23:59:59.999".
void AppendIsoTimestamp(std::string *out, int64_t value, int64_t units_per_second,
                        IsoYearSign sign = IsoYearSign::kJavaTime);
// A ZonedTimestamp in UTC, java.time style: "2024-01-01T00:00:00.5Z".
void AppendIsoInstant(std::string *out, int64_t epoch_seconds, uint32_t nanos);

// An instant read from ISO-8601 text.
struct IsoInstant {
    int64_t epoch_seconds = 0;   // floor: the nanoseconds are always added
    uint32_t nanos = 0;          // 0..999999999
    int32_t offset_seconds = 0;  // the offset the text was written in, east of UTC
};

// Reads [+-]YYYY-MM-DDTHH:MM:SS[.f{1,9}]<offset>, the year with 4 to 9 digits (a sign is
// optional), the offset Z or [+-]hh[:mm[:ss]] up to 18 hours. False for anything else: an
// impossible date or time, no offset, trailing characters.
bool ParseIsoInstant(std::string_view text, IsoInstant *out);
// The instant in units since the epoch (units_per_second as for AppendIsoTimestamp), rounded
// toward negative infinity and clamped to int64.
int64_t IsoInstantToUnits(const IsoInstant &instant, int64_t units_per_second);

// Reads a UTC offset [+-]hh[:mm[:ss]] at p (advancing p) as seconds east of UTC. The hours are
// not bounded here (PostgreSQL's own offsets stay below 16 hours); minutes and seconds are.
bool ReadUtcOffset(const char *&p, const char *end, int64_t *seconds);

}  // namespace cdcctl
