// Civil dates and ISO-8601 text: the proleptic Gregorian calendar in every era, Debezium's
// formatting conventions, and reading instants written with any UTC offset.
#include "core/event/temporal.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using namespace cdcctl;

namespace {

std::string Date(int64_t days, IsoYearSign sign = IsoYearSign::kJavaTime) {
    std::string s;
    AppendIsoDate(&s, days, sign);
    return s;
}

std::string Timestamp(int64_t value, int64_t units, IsoYearSign sign = IsoYearSign::kJavaTime) {
    std::string s;
    AppendIsoTimestamp(&s, value, units, sign);
    return s;
}

std::string Instant(int64_t seconds, uint32_t nanos) {
    std::string s;
    AppendIsoInstant(&s, seconds, nanos);
    return s;
}

std::string Fraction(int64_t fraction, int digits) {
    std::string s;
    AppendIsoFraction(&s, fraction, digits);
    return s;
}

// The instant as UTC text, or "<rejected>".
std::string Normalised(std::string_view text) {
    IsoInstant i;
    if (!ParseIsoInstant(text, &i)) return "<rejected>";
    return Instant(i.epoch_seconds, i.nanos);
}

bool Rejected(std::string_view text) {
    IsoInstant i;
    return !ParseIsoInstant(text, &i);
}

int64_t Micros(std::string_view text) {
    IsoInstant i;
    REQUIRE(ParseIsoInstant(text, &i));
    return IsoInstantToUnits(i, 1000000);
}

constexpr int64_t k20240101 = 19723;  // days of 2024-01-01

}  // namespace

TEST_CASE("day 0 is 1970-01-01") {
    CHECK(DaysFromCivil(1970, 1, 1) == 0);
    int64_t y;
    unsigned m, d;
    CivilFromDays(0, &y, &m, &d);
    CHECK(y == 1970);
    CHECK(m == 1);
    CHECK(d == 1);
}

TEST_CASE("year 0 is 1 BC and a leap year") {
    CHECK(DaysFromCivil(0, 1, 1) == -719528);
    CHECK(IsLeapYear(0));
    CHECK(DaysInMonth(0, 2) == 29);
    CHECK(DaysFromCivil(0, 3, 1) - DaysFromCivil(0, 2, 28) == 2);
    CHECK(Date(-719528) == "0000-01-01");
}

TEST_CASE("year -1 is 2 BC, a common year, printed with a minus sign") {
    CHECK(!IsLeapYear(-1));
    CHECK(DaysFromCivil(-1, 1, 1) == -719893);
    CHECK(DaysFromCivil(-1, 12, 31) == -719529);
    CHECK(Date(-719893) == "-0001-01-01");
    CHECK(Date(-719893, IsoYearSign::kNegativeOnly) == "-0001-01-01");
}

TEST_CASE("-4713-11-24, the start of the Julian day count, is 2440588 days before the epoch") {
    CHECK(DaysFromCivil(-4713, 11, 24) == -2440588);
    CHECK(Date(-2440588) == "-4713-11-24");
    CHECK(IsLeapYear(-4));
    CHECK(!IsLeapYear(-100));
    CHECK(IsLeapYear(-400));
}

TEST_CASE("years beyond 9999 get a plus sign in the java.time style only") {
    CHECK(DaysFromCivil(10000, 1, 1) == 2932897);
    CHECK(Date(2932897) == "+10000-01-01");
    CHECK(Date(2932897, IsoYearSign::kNegativeOnly) == "10000-01-01");
    CHECK(Date(2932896) == "9999-12-31");
}

TEST_CASE("294276-12-31, PostgreSQL's last date, is exact") {
    CHECK(DaysFromCivil(294276, 12, 31) == 106762939);
    CHECK(Date(106762939) == "+294276-12-31");
}

TEST_CASE("leap days follow the Gregorian rules") {
    CHECK(DaysInMonth(2024, 2) == 29);
    CHECK(DaysInMonth(2023, 2) == 28);
    CHECK(DaysInMonth(1900, 2) == 28);
    CHECK(DaysInMonth(2000, 2) == 29);
    CHECK(DaysFromCivil(2024, 2, 29) == 19782);
    CHECK(Date(19782) == "2024-02-29");
    CHECK(Date(19783) == "2024-03-01");
}

TEST_CASE("civil dates round-trip across eras, one day after another") {
    int64_t py;
    unsigned pm, pd;
    CivilFromDays(-1000001, &py, &pm, &pd);
    int64_t first_bad = 0, bad = 0;  // a CHECK per day would take longer than the dates
    for (int64_t days = -1000000; days <= 1000000; ++days) {
        int64_t y;
        unsigned m, d;
        CivilFromDays(days, &y, &m, &d);
        bool next = (y == py && m == pm && d == pd + 1) || (y == py && m == pm + 1 && d == 1) ||
                    (y == py + 1 && m == 1 && d == 1 && pm == 12);
        if (DaysFromCivil(y, m, d) != days || d < 1 || d > DaysInMonth(y, m) || !next) {
            if (bad++ == 0) first_bad = days;
        }
        py = y;
        pm = m;
        pd = d;
    }
    CHECK(bad == 0);
    CHECK(first_bad == 0);
}

TEST_CASE("time of day is HH:MM:SS") {
    std::string s;
    AppendIsoTimeOfDay(&s, 0);
    CHECK(s == "00:00:00");
    s.clear();
    AppendIsoTimeOfDay(&s, 86399);
    CHECK(s == "23:59:59");
    s.clear();
    AppendIsoTimeOfDay(&s, 10 * 3600 + 5 * 60 + 9);
    CHECK(s == "10:05:09");
}

TEST_CASE("fractions drop their trailing zeros and keep their leading ones") {
    CHECK(Fraction(0, 6) == "");
    CHECK(Fraction(500000, 6) == ".5");
    CHECK(Fraction(123456, 6) == ".123456");
    CHECK(Fraction(120, 3) == ".12");
    CHECK(Fraction(1, 9) == ".000000001");
    CHECK(Fraction(1000, 6) == ".001");
}

TEST_CASE("timestamps print as many fraction digits as their unit has, without zeros") {
    CHECK(Timestamp(1768471200123456, 1000000) == "2026-01-15T10:00:00.123456");
    CHECK(Timestamp(1768471200500000, 1000000) == "2026-01-15T10:00:00.5");
    CHECK(Timestamp(1768471200000, 1000) == "2026-01-15T10:00:00");
    CHECK(Timestamp(1768471200123456789, 1000000000) == "2026-01-15T10:00:00.123456789");
    CHECK(Timestamp(0, 1) == "1970-01-01T00:00:00");
}

TEST_CASE("negative epoch values with fractions count back from the epoch") {
    CHECK(Timestamp(-1, 1000) == "1969-12-31T23:59:59.999");
    CHECK(Timestamp(-1, 1000000) == "1969-12-31T23:59:59.999999");
    CHECK(Timestamp(-1, 1000000000) == "1969-12-31T23:59:59.999999999");
    CHECK(Timestamp(-1500000, 1000000) == "1969-12-31T23:59:58.5");
    CHECK(Instant(-1, 999999000) == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("timestamps before year 0 and after 9999") {
    CHECK(Timestamp(int64_t{-719893} * 86400000, 1000) == "-0001-01-01T00:00:00");
    CHECK(Timestamp(int64_t{2932897} * 86400000 + 1, 1000) == "+10000-01-01T00:00:00.001");
    CHECK(Timestamp(int64_t{2932897} * 86400000, 1000, IsoYearSign::kNegativeOnly) ==
          "10000-01-01T00:00:00");
    CHECK(Instant(int64_t{106762939} * 86400 + 86399, 999999000) ==
          "+294276-12-31T23:59:59.999999Z");
}

TEST_CASE("instants are printed in UTC with Z") {
    CHECK(Instant(k20240101 * 86400, 0) == "2024-01-01T00:00:00Z");
    CHECK(Instant(k20240101 * 86400 + 1, 500000000) == "2024-01-01T00:00:01.5Z");
}

TEST_CASE("an instant in UTC reads back as itself") {
    IsoInstant i;
    REQUIRE(ParseIsoInstant("2024-01-01T00:00:00Z", &i));
    CHECK(i.epoch_seconds == k20240101 * 86400);
    CHECK(i.nanos == 0);
    CHECK(i.offset_seconds == 0);
    CHECK(Normalised("2024-03-01T04:45:30.123Z") == "2024-03-01T04:45:30.123Z");
}

TEST_CASE("a positive offset is subtracted: 09:00+09:00 is midnight UTC") {
    IsoInstant i;
    REQUIRE(ParseIsoInstant("2024-01-01T09:00:00+09:00", &i));
    CHECK(i.epoch_seconds == k20240101 * 86400);
    CHECK(i.offset_seconds == 9 * 3600);
    CHECK(Normalised("2024-03-01T02:00:00+05:00") == "2024-02-29T21:00:00Z");
}

TEST_CASE("negative offsets move the instant forward, across the year") {
    CHECK(Normalised("2023-12-31T19:00:00-05:00") == "2024-01-01T00:00:00Z");
    IsoInstant i;
    REQUIRE(ParseIsoInstant("2023-12-31T23:30:00-00:30", &i));
    CHECK(i.epoch_seconds == k20240101 * 86400);
    CHECK(i.offset_seconds == -1800);
}

TEST_CASE("offsets with seconds are exact") {
    CHECK(Normalised("2024-01-01T05:30:15+05:30:15") == "2024-01-01T00:00:00Z");
    CHECK(Normalised("2023-12-31T23:00:00-01:00:30") == "2024-01-01T00:00:30Z");
    CHECK(Normalised("2024-01-01T05:00:00+05") == "2024-01-01T00:00:00Z");
}

TEST_CASE("fractions keep up to nine digits and convert toward negative infinity") {
    IsoInstant i;
    REQUIRE(ParseIsoInstant("2024-01-01T00:00:00.123456789Z", &i));
    CHECK(i.nanos == 123456789);
    CHECK(IsoInstantToUnits(i, 1000000) == k20240101 * 86400000000 + 123456);
    CHECK(IsoInstantToUnits(i, 1000) == k20240101 * 86400000 + 123);
    CHECK(IsoInstantToUnits(i, 1000000000) == k20240101 * 86400000000000 + 123456789);
    CHECK(Micros("1969-12-31T23:59:59.999999Z") == -1);
    REQUIRE(ParseIsoInstant("1969-12-31T23:59:59.9999999Z", &i));
    CHECK(IsoInstantToUnits(i, 1000000) == -1);
    CHECK(IsoInstantToUnits(i, 1000) == -1);
    CHECK(IsoInstantToUnits(i, 1) == -1);
}

TEST_CASE("instants before year 0 and after 9999 read back") {
    CHECK(Micros("-0001-01-01T00:00:00Z") == int64_t{-719893} * 86400000000);
    CHECK(Micros("0000-01-01T00:00:00Z") == int64_t{-719528} * 86400000000);
    CHECK(Micros("+10000-01-01T00:00:00Z") == int64_t{2932897} * 86400000000);
    CHECK(Micros("10000-01-01T00:00:00Z") == int64_t{2932897} * 86400000000);
    CHECK(Normalised("-4713-11-24T12:00:00+12:00") == "-4713-11-24T00:00:00Z");
}

TEST_CASE("instants beyond int64 microseconds clamp") {
    CHECK(Micros("+294276-12-31T23:59:59.999999Z") == INT64_MAX);
    CHECK(Micros("-290309-01-01T00:00:00Z") == INT64_MIN);
    CHECK(Normalised("+294276-12-31T23:59:59.999999Z") == "+294276-12-31T23:59:59.999999Z");
}

TEST_CASE("malformed instants are rejected") {
    CHECK(Rejected(""));
    CHECK(Rejected("infinity"));
    CHECK(Rejected("2024-01-01"));
    CHECK(Rejected("2024-01-01T00:00:00"));        // no offset
    CHECK(Rejected("2024-01-01 00:00:00Z"));       // space for T
    CHECK(Rejected("24-01-01T00:00:00Z"));         // two-digit year
    CHECK(Rejected("1234567890-01-01T00:00:00Z"));  // ten-digit year
    CHECK(Rejected("2024-1-01T00:00:00Z"));
    CHECK(Rejected("2024-13-01T00:00:00Z"));
    CHECK(Rejected("2024-00-01T00:00:00Z"));
    CHECK(Rejected("2024-01-00T00:00:00Z"));
    CHECK(Rejected("2023-02-29T00:00:00Z"));  // not a leap year
    CHECK(Rejected("2024-04-31T00:00:00Z"));
    CHECK(Rejected("2024-01-01T24:00:00Z"));
    CHECK(Rejected("2024-01-01T00:60:00Z"));
    CHECK(Rejected("2024-01-01T00:00:60Z"));
    CHECK(Rejected("2024-01-01T00:00:00.Z"));
    CHECK(Rejected("2024-01-01T00:00:00.1234567890Z"));  // ten fraction digits
    CHECK(Rejected("2024-01-01T00:00:00Zjunk"));
    CHECK(Rejected("2024-01-01T00:00:00+1"));
    CHECK(Rejected("2024-01-01T00:00:00+0530"));
    CHECK(Rejected("2024-01-01T00:00:00+05:3"));
    CHECK(Rejected("2024-01-01T00:00:00+05:60"));
    CHECK(Rejected("2024-01-01T00:00:00+05:30:60"));
    CHECK(Rejected("2024-01-01T00:00:00+19:00"));
    CHECK(Rejected("2024-01-01T00:00:00+18:00:01"));
    CHECK(!Rejected("2024-01-01T00:00:00-18:00"));
}

TEST_CASE("a UTC offset reads as seconds east of UTC and stops where it ends") {
    auto read = [](std::string_view text, int64_t *seconds) {
        const char *p = text.data();
        bool ok = ReadUtcOffset(p, text.data() + text.size(), seconds);
        return ok ? std::string(p, text.data() + text.size()) : std::string("<rejected>");
    };
    int64_t s = 0;
    CHECK(read("+05", &s) == "");
    CHECK(s == 18000);
    CHECK(read("-01:00:30 BC", &s) == " BC");
    CHECK(s == -3630);
    CHECK(read("+05:30", &s) == "");
    CHECK(s == 19800);
    CHECK(read("05:00", &s) == "<rejected>");
    CHECK(read("+5", &s) == "<rejected>");
    CHECK(read("+053", &s) == "<rejected>");
    CHECK(read("+05:", &s) == "<rejected>");
}
