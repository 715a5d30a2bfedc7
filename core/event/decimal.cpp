#include "core/event/decimal.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "core/util/int_math.h"

namespace cdcctl {

namespace {

constexpr uint32_t kLimbBase = 1000000000;  // base-10^9 limbs: nine decimal digits each
// Limbs kept on the stack: 576 digits, more than any numeric(p, s) a database declares.
constexpr size_t kStackLimbs = 64;

// Multiplies the little-endian magnitude in `mag` by `mul` and adds `add`.
[[gnu::always_inline]] inline void MulAddBytes(std::string *mag, uint32_t mul, uint32_t add) {
    uint64_t carry = add;
    for (char &ch : *mag) {
        uint64_t v = static_cast<uint64_t>(static_cast<unsigned char>(ch)) * mul + carry;
        ch = static_cast<char>(v & 0xFF);
        carry = v >> 8;
    }
    while (carry != 0) {
        mag->push_back(static_cast<char>(carry & 0xFF));
        carry >>= 8;
    }
}

// Accumulates decimal digits into the little-endian magnitude, seven at a time. Inlined into
// both of UnscaledFromDigits' calls: a numeric's digits are few, so the calls would show.
[[gnu::always_inline]] inline void FeedDigits(std::string *mag, std::string_view digits) {
    size_t i = 0;
    while (i < digits.size()) {
        uint32_t mul = 1, add = 0;
        for (int k = 0; k < 7 && i < digits.size(); ++k, ++i) {
            mul *= 10;
            add = add * 10 + static_cast<uint32_t>(digits[i] - '0');
        }
        MulAddBytes(mag, mul, add);
    }
}

void FeedZeros(std::string *mag, size_t count) {
    while (count > 0) {
        size_t k = count < 7 ? count : 7;
        uint32_t mul = 1;
        for (size_t j = 0; j < k; ++j) mul *= 10;
        MulAddBytes(mag, mul, 0);
        count -= k;
    }
}

// Turns the little-endian magnitude in `buf` into the minimal big-endian two's-complement
// encoding Java's BigInteger.toByteArray produces (zero is one 0x00 byte).
void FinishTwosComplement(std::string *buf, bool negative) {
    while (!buf->empty() && buf->back() == 0) buf->pop_back();
    if (buf->empty()) {
        buf->push_back(0);
        return;
    }
    if (negative) {
        bool carry = true;
        for (char &ch : *buf) {
            unsigned v = static_cast<unsigned char>(~static_cast<unsigned char>(ch));
            if (carry) {
                ++v;
                carry = v > 0xFF;
            }
            ch = static_cast<char>(v & 0xFF);
        }
        if ((static_cast<unsigned char>(buf->back()) & 0x80) == 0) buf->push_back(static_cast<char>(0xFF));
        // Negating can leave a redundant 0xFF sign byte (e.g. -128 -> 0xFF80 -> 0x80).
        while (buf->size() > 1 && static_cast<unsigned char>(buf->back()) == 0xFF &&
               (static_cast<unsigned char>((*buf)[buf->size() - 2]) & 0x80) != 0) {
            buf->pop_back();
        }
    } else if ((static_cast<unsigned char>(buf->back()) & 0x80) != 0) {
        buf->push_back(0);
    }
    std::reverse(buf->begin(), buf->end());
}

bool IsNegative(std::string_view unscaled) {
    return !unscaled.empty() && (static_cast<uint8_t>(unscaled[0]) & 0x80) != 0;
}

// Writes `limb` as exactly nine digits ending just before `end`.
void WriteNineDigits(char *end, uint32_t limb) {
    for (int i = 0; i < 9; ++i) {
        *--end = static_cast<char>('0' + limb % 10);
        limb /= 10;
    }
}

}  // namespace

void AppendDecimalText(std::string *out, std::string_view unscaled, int32_t scale) {
    // The magnitude in base-10^9 limbs, least significant first. A negative value's magnitude
    // is its bytes inverted plus one: the inverted bytes go in most significant first, the one
    // is added at the end.
    const bool negative = IsNegative(unscaled);
    const uint32_t flip = negative ? 0xFF : 0x00;
    // Every limb but the top one holds more than 29 bits.
    const size_t max_limbs = unscaled.size() * 8 / 29 + 2;
    uint32_t stack_limbs[kStackLimbs];
    uint32_t *limbs = stack_limbs;
    if (max_limbs > kStackLimbs) {
        thread_local std::vector<uint32_t> big;  // grows once per thread, for huge values only
        if (big.size() < max_limbs) big.resize(max_limbs);
        limbs = big.data();
    }
    size_t n = 0;
    for (char c : unscaled) {
        uint64_t carry = static_cast<uint8_t>(c) ^ flip;
        for (size_t i = 0; i < n; ++i) {
            uint64_t v = static_cast<uint64_t>(limbs[i]) * 256 + carry;
            limbs[i] = static_cast<uint32_t>(v % kLimbBase);
            carry = v / kLimbBase;
        }
        while (carry > 0) {
            limbs[n++] = static_cast<uint32_t>(carry % kLimbBase);
            carry /= kLimbBase;
        }
    }
    if (negative) {
        size_t i = 0;
        for (; i < n; ++i) {
            if (++limbs[i] < kLimbBase) break;
            limbs[i] = 0;
        }
        if (i == n) limbs[n++] = 1;
    }

    const bool zero = n == 0;
    char top[10];
    size_t top_len = 1;
    if (zero) {
        top[0] = '0';
    } else {
        top_len = static_cast<size_t>(std::to_chars(top, top + sizeof(top), limbs[n - 1]).ptr - top);
    }
    const size_t digits = top_len + 9 * (zero ? 0 : n - 1);
    auto append_digits = [&] {
        size_t at = out->size();
        out->resize(at + digits);
        char *p = out->data() + at;
        std::copy(top, top + top_len, p);
        char *end = p + digits;
        for (size_t i = 0; i + 1 < n; ++i, end -= 9) WriteNineDigits(end, limbs[i]);
    };

    if (negative && !zero) out->push_back('-');
    if (scale <= 0) {
        append_digits();
        if (!zero) out->append(static_cast<size_t>(-static_cast<int64_t>(scale)), '0');
        return;
    }
    const size_t s = static_cast<size_t>(scale);
    if (digits <= s) {
        out->append("0.", 2);
        out->append(s - digits, '0');
        append_digits();
        return;
    }
    append_digits();
    out->insert(out->size() - s, 1, '.');
}

void UnscaledFromDigits(const DecimalDigits &digits, size_t zeros, std::string *out) {
    out->clear();
    FeedDigits(out, digits.int_digits);
    FeedDigits(out, digits.frac_digits);
    FeedZeros(out, zeros);
    FinishTwosComplement(out, digits.negative);
}

bool UnscaledFromText(std::string_view text, int32_t scale, std::string *out) {
    DecimalDigits d, fitted;
    size_t zeros = 0;
    if (!SplitDecimalText(text, &d) || FitToScale(d, scale, &fitted, &zeros) != ScaleFit::kOk) {
        return false;
    }
    UnscaledFromDigits(fitted, zeros, out);
    return true;
}

bool UnscaledToInt64(std::string_view b, int64_t *out) {
    if (b.empty()) {
        *out = 0;
        return true;
    }
    const bool negative = IsNegative(b);
    const uint8_t sign = negative ? 0xFF : 0x00;
    while (b.size() > 8) {
        if (static_cast<uint8_t>(b[0]) != sign) return false;
        b.remove_prefix(1);
    }
    if (b.size() == 8 && IsNegative(b) != negative) return false;
    uint64_t v = negative ? ~uint64_t{0} : 0;
    for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
    *out = static_cast<int64_t>(v);
    return true;
}

bool ResizeUnscaled(std::string_view b, size_t width, std::string *out) {
    const bool negative = IsNegative(b);
    const char sign = negative ? static_cast<char>(0xFF) : 0;
    while (b.size() > width) {
        if (b[0] != sign) return false;
        b.remove_prefix(1);
    }
    // Dropping sign bytes must leave the sign where it was: 0x00 0x80 (128) is not 0x80 (-128).
    if (!b.empty() && IsNegative(b) != negative) return false;
    out->assign(width - b.size(), sign);
    out->append(b);
    return true;
}

int32_t UnscaledBytesForPrecision(int precision) {
    int bits = static_cast<int>(std::ceil(precision * std::log2(10.0))) + 1;
    return (bits + 7) / 8;
}

}  // namespace cdcctl
