#include "core/event/temporal.h"

#include <charconv>

#include "core/util/int_math.h"

namespace cdcctl {

namespace {

void AppendTwoDigits(std::string *out, int64_t v) {
    char buf[2] = {static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
    out->append(buf, 2);
}

// Exactly `count` decimal digits (count 1..18), into [p, p + count).
bool ReadFixedDigits(const char *&p, const char *end, int count, int64_t *v) {
    if (end - p < count) return false;
    int64_t n = 0;
    for (int i = 0; i < count; ++i) {
        if (!IsDecimalDigit(p[i])) return false;
        n = n * 10 + (p[i] - '0');
    }
    p += count;
    *v = n;
    return true;
}

bool Consume(const char *&p, const char *end, char c) {
    if (p == end || *p != c) return false;
    ++p;
    return true;
}

int DigitsOfUnits(int64_t units_per_second) {
    int digits = 0;
    for (int64_t u = units_per_second; u >= 10; u /= 10) ++digits;
    return digits;
}

}  // namespace

void AppendIsoYear(std::string *out, int64_t year, IsoYearSign sign) {
    // Through uint64, so that INT64_MIN has a magnitude too.
    uint64_t abs = year < 0 ? uint64_t{0} - static_cast<uint64_t>(year) : static_cast<uint64_t>(year);
    if (year < 0) out->push_back('-');
    else if (year > 9999 && sign == IsoYearSign::kJavaTime) out->push_back('+');
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), abs);
    size_t n = static_cast<size_t>(r.ptr - buf);
    if (n < 4) out->append(4 - n, '0');
    out->append(buf, n);
}

void AppendIsoDate(std::string *out, int64_t days, IsoYearSign sign) {
    int64_t year;
    unsigned month, day;
    CivilFromDays(days, &year, &month, &day);
    AppendIsoYear(out, year, sign);
    out->push_back('-');
    AppendTwoDigits(out, month);
    out->push_back('-');
    AppendTwoDigits(out, day);
}

void AppendIsoTimeOfDay(std::string *out, int64_t secs) {
    char buf[8] = {static_cast<char>('0' + secs / 36000), static_cast<char>('0' + secs / 3600 % 10),
                   ':',
                   static_cast<char>('0' + secs / 600 % 6), static_cast<char>('0' + secs / 60 % 10),
                   ':',
                   static_cast<char>('0' + secs % 60 / 10), static_cast<char>('0' + secs % 10)};
    out->append(buf, sizeof buf);
}

void AppendIsoFraction(std::string *out, int64_t fraction, int digits) {
    if (fraction == 0) return;
    while (fraction % 10 == 0) {
        fraction /= 10;
        --digits;
    }
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), fraction);
    int n = static_cast<int>(r.ptr - buf);
    out->push_back('.');
    if (n < digits) out->append(static_cast<size_t>(digits - n), '0');
    out->append(buf, static_cast<size_t>(n));
}

void AppendIsoTimestamp(std::string *out, int64_t value, int64_t units_per_second,
                        IsoYearSign sign) {
    int64_t secs = FloorDiv(value, units_per_second);
    int64_t frac = value - secs * units_per_second;
    int64_t days = FloorDiv(secs, kSecondsPerDay);
    AppendIsoDate(out, days, sign);
    out->push_back('T');
    AppendIsoTimeOfDay(out, secs - days * kSecondsPerDay);
    AppendIsoFraction(out, frac, DigitsOfUnits(units_per_second));
}

void AppendIsoInstant(std::string *out, int64_t epoch_seconds, uint32_t nanos) {
    int64_t days = FloorDiv(epoch_seconds, kSecondsPerDay);
    AppendIsoDate(out, days, IsoYearSign::kJavaTime);
    out->push_back('T');
    AppendIsoTimeOfDay(out, epoch_seconds - days * kSecondsPerDay);
    AppendIsoFraction(out, nanos, 9);
    out->push_back('Z');
}

bool ReadUtcOffset(const char *&p, const char *end, int64_t *seconds) {
    if (p >= end || (*p != '+' && *p != '-')) return false;
    int64_t sign = *p == '-' ? -1 : 1;
    const char *q = p + 1;
    int64_t h, m = 0, s = 0;
    if (!ReadFixedDigits(q, end, 2, &h)) return false;
    if (Consume(q, end, ':')) {
        if (!ReadFixedDigits(q, end, 2, &m)) return false;
        if (Consume(q, end, ':') && !ReadFixedDigits(q, end, 2, &s)) return false;
    }
    if (q < end && IsDecimalDigit(*q)) return false;  // more digits than a field has
    if (m > 59 || s > 59) return false;
    *seconds = sign * (h * 3600 + m * 60 + s);
    p = q;
    return true;
}

bool ParseIsoInstant(std::string_view text, IsoInstant *out) {
    const char *p = text.data();
    const char *end = p + text.size();
    bool negative_year = false;
    if (p < end && (*p == '+' || *p == '-')) negative_year = *p++ == '-';
    // 4 to 9 year digits: enough for every year a database stores, and seconds since the epoch
    // stay far inside int64.
    const char *year_start = p;
    int64_t year = 0;
    while (p < end && IsDecimalDigit(*p) && p - year_start < 9) year = year * 10 + (*p++ - '0');
    if (p - year_start < 4) return false;
    int64_t month, day, hour, minute, second;
    if (!Consume(p, end, '-') || !ReadFixedDigits(p, end, 2, &month) || !Consume(p, end, '-') ||
        !ReadFixedDigits(p, end, 2, &day) || !Consume(p, end, 'T') ||
        !ReadFixedDigits(p, end, 2, &hour) || !Consume(p, end, ':') ||
        !ReadFixedDigits(p, end, 2, &minute) || !Consume(p, end, ':') ||
        !ReadFixedDigits(p, end, 2, &second)) {
        return false;
    }
    int64_t nanos = 0;
    if (Consume(p, end, '.')) {
        const char *start = p;
        while (p < end && IsDecimalDigit(*p) && p - start < 9) nanos = nanos * 10 + (*p++ - '0');
        int digits = static_cast<int>(p - start);
        if (digits == 0 || (p < end && IsDecimalDigit(*p))) return false;
        for (int i = digits; i < 9; ++i) nanos *= 10;
    }
    int64_t offset = 0;
    if (!Consume(p, end, 'Z') && !ReadUtcOffset(p, end, &offset)) return false;
    if (p != end) return false;
    if (negative_year) year = -year;
    if (month < 1 || month > 12 || day < 1 ||
        day > DaysInMonth(year, static_cast<unsigned>(month)) || hour > 23 || minute > 59 ||
        second > 59 || offset > 18 * 3600 || offset < -18 * 3600) {
        return false;
    }
    int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    out->epoch_seconds = days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset;
    out->nanos = static_cast<uint32_t>(nanos);
    out->offset_seconds = static_cast<int32_t>(offset);
    return true;
}

int64_t IsoInstantToUnits(const IsoInstant &instant, int64_t units_per_second) {
    // nanos * units / 1e9 floors toward zero, which is toward negative infinity here: nanos and
    // the units are never negative.
    __int128 sub = static_cast<__int128>(instant.nanos) * units_per_second / 1000000000;
    return SaturateToInt64(static_cast<__int128>(instant.epoch_seconds) * units_per_second + sub);
}

}  // namespace cdcctl
