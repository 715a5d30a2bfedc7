// Integer helpers every decoder and encoder needs: floor division (time arithmetic before the
// epoch), saturation and overflow checks (values that can exceed int64), big-endian loads and
// stores (wire formats), and hex digits.
//
// Saturation rather than failure is deliberate where it is used: a legal source value beyond
// int64 (an interval of millions of years, a timestamp after 294247-01-10 in microseconds) would
// otherwise stop a pipeline for good on a row it can never pass; Debezium's Java conversions
// clamp the same way.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace cdcctl {

// a / b rounded toward negative infinity (C++ rounds toward zero). b must not be 0.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// a - FloorDiv(a, b) * b: in [0, b) for b > 0.
constexpr int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

constexpr __int128 FloorDiv128(__int128 a, int64_t b) {
    __int128 q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Clamps to [INT64_MIN, INT64_MAX].
constexpr int64_t SaturateToInt64(__int128 v) {
    if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
    if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(v);
}

// a + b, clamped to int64.
constexpr int64_t SaturatingAdd(int64_t a, int64_t b) {
    int64_t out;
    if (__builtin_add_overflow(a, b, &out)) {
        return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
    }
    return out;
}

// *out = a * b + c; false (and *out unspecified) when that overflows int64.
constexpr bool CheckedMulAdd(int64_t a, int64_t b, int64_t c, int64_t *out) {
    int64_t m = 0;
    if (__builtin_mul_overflow(a, b, &m)) return false;
    return !__builtin_add_overflow(m, c, out);
}

// Reverses the bytes of an unsigned integer (std::byteswap is C++23).
template <typename T>
constexpr T ByteSwap(T v) {
    static_assert(std::is_unsigned_v<T>);
    if constexpr (sizeof(T) == 1) return v;
    if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) return __builtin_bswap64(v);
}

// An unsigned integer stored big-endian ("network byte order") at p, which need not be aligned.
template <typename T>
T LoadBigEndian(const char *p) {
    static_assert(std::is_unsigned_v<T>);
    T v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) v = ByteSwap(v);
    return v;
}

// Stores v big-endian at p, which need not be aligned.
template <typename T>
void StoreBigEndian(char *p, T v) {
    static_assert(std::is_unsigned_v<T>);
    if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) v = ByteSwap(v);
    std::memcpy(p, &v, sizeof v);
}

// The value of a hex digit (either case), or -1.
constexpr int HexDigitValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr bool IsDecimalDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace cdcctl
