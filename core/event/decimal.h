// Kafka Connect's Decimal: an unscaled integer and a scale, value = unscaled * 10^-scale. The
// unscaled integer travels as big-endian two's-complement bytes, the minimal encoding Java's
// BigInteger.toByteArray produces (zero is one 0x00 byte; 128 is 0x00 0x80; -128 is 0x80).
// Debezium's VariableScaleDecimal is the same pair with the scale in the value.
//
// Conversions between those bytes and decimal text ("-123.45"), for the sources that read text
// and the sinks that write it. Neither direction allocates for values of up to 500 digits
// beyond the growth of the caller's buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/int_math.h"

namespace cdcctl {

// Appends the decimal text of unscaled * 10^-scale: exactly `scale` fractional digits for a
// positive scale ("0.00012", "-24.90", "0.00"), trailing zeros for a negative one ("1200").
// Empty bytes read as zero.
void AppendDecimalText(std::string *out, std::string_view unscaled, int32_t scale);

// The parts of decimal text [+-]digits[.digits] (at least one digit, no exponent).
struct DecimalDigits {
    bool negative = false;
    std::string_view int_digits;
    std::string_view frac_digits;
};
// False when `text` is not decimal text; `out`'s views point into `text`. (Inline, like
// FitToScale: the PostgreSQL decoder calls both for every numeric value.)
inline bool SplitDecimalText(std::string_view text, DecimalDigits *out);

// Why digits do not fit a fixed scale.
enum class ScaleFit : uint8_t {
    kOk,
    kTooManyFractionDigits,      // non-zero digits beyond the scale (1.234 at scale 2)
    kFractionWithNegativeScale,  // non-zero fractional digits at a negative scale
    kNotMultiple,                // not a multiple of 10^-scale at a negative scale (123 at -1)
};
// The unscaled integer of `digits` at `scale`, as its digits followed by *zeros zeros: digits
// "1.5" at scale 3 are int "1", frac "5" and 2 zeros (1500). Zero digits beyond the scale are
// dropped. *fitted views point into the same text as `digits`.
inline ScaleFit FitToScale(const DecimalDigits &digits, int32_t scale, DecimalDigits *fitted,
                           size_t *zeros);

// Replaces *out with the unscaled bytes of -/+ (int_digits frac_digits followed by `zeros`
// zeros), reusing its capacity. The digits must be decimal digits (SplitDecimalText checked).
void UnscaledFromDigits(const DecimalDigits &digits, size_t zeros, std::string *out);

// Decimal text at a fixed scale to unscaled bytes: SplitDecimalText, FitToScale,
// UnscaledFromDigits. False, and *out untouched, when the text is not decimal or does not fit.
bool UnscaledFromText(std::string_view text, int32_t scale, std::string *out);

// The unscaled value as an int64; false when it does not fit.
bool UnscaledToInt64(std::string_view unscaled, int64_t *out);

// The same integer in exactly `width` bytes (sign-extended, or redundant sign bytes dropped),
// into *out; false when it needs more than `width` bytes.
bool ResizeUnscaled(std::string_view unscaled, size_t width, std::string *out);

// The fewest bytes whose two's complement holds every integer of `precision` decimal digits
// (9 -> 4, 18 -> 8, 38 -> 16), as Parquet's FIXED_LEN_BYTE_ARRAY decimals size them.
int32_t UnscaledBytesForPrecision(int precision);

// ---------------------------------------------------------------------------------------------

namespace detail {
inline bool AllZeros(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }
}  // namespace detail

inline bool SplitDecimalText(std::string_view text, DecimalDigits *d) {
    const char *p = text.data();
    const char *end = p + text.size();
    d->negative = false;
    if (p < end && (*p == '-' || *p == '+')) {
        d->negative = *p == '-';
        ++p;
    }
    const char *start = p;
    while (p < end && IsDecimalDigit(*p)) ++p;
    d->int_digits = std::string_view(start, static_cast<size_t>(p - start));
    d->frac_digits = {};
    if (p < end && *p == '.') {
        ++p;
        start = p;
        while (p < end && IsDecimalDigit(*p)) ++p;
        d->frac_digits = std::string_view(start, static_cast<size_t>(p - start));
    }
    return p == end && !(d->int_digits.empty() && d->frac_digits.empty());
}

[[gnu::always_inline]] inline ScaleFit FitToScale(const DecimalDigits &d, int32_t scale,
                                                 DecimalDigits *fitted, size_t *zeros) {
    DecimalDigits f = d;
    if (scale >= 0) {
        const size_t s = static_cast<size_t>(scale);
        if (f.frac_digits.size() > s) {
            if (!detail::AllZeros(f.frac_digits.substr(s))) return ScaleFit::kTooManyFractionDigits;
            f.frac_digits = f.frac_digits.substr(0, s);
        }
        *zeros = s - f.frac_digits.size();
    } else {
        // A negative scale: the value is a multiple of 10^-scale.
        if (!detail::AllZeros(f.frac_digits)) return ScaleFit::kFractionWithNegativeScale;
        f.frac_digits = {};
        const size_t drop = static_cast<size_t>(-static_cast<int64_t>(scale));
        if (f.int_digits.size() <= drop) {
            if (!detail::AllZeros(f.int_digits)) return ScaleFit::kNotMultiple;
            f.int_digits = {};
        } else {
            if (!detail::AllZeros(f.int_digits.substr(f.int_digits.size() - drop))) return ScaleFit::kNotMultiple;
            f.int_digits.remove_suffix(drop);
        }
        *zeros = 0;
    }
    *fitted = f;
    return ScaleFit::kOk;
}

}  // namespace cdcctl
