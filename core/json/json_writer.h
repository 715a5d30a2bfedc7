// A JSON writer that appends into a caller-owned, reused std::string. It writes what Kafka
// Connect's JsonConverter (Jackson) writes for the same values, so that cdcctl output diffs
// cleanly against Debezium's:
//   - strings escape '"', '\\' and control characters (\b \t \n \f \r, else \u00XX with upper-case
//     hex); invalid UTF-8 becomes U+FFFD so the output is always valid JSON;
//   - doubles print like Java's Double.toString (shortest round-trip digits, "1.0", "1.0E10"),
//     floats like Float.toString; NaN and the infinities become the strings "NaN", "Infinity"
//     and "-Infinity", as JsonConverter does;
//   - bytes are standard base64 with padding.
// Nothing here allocates beyond growing the output string, which keeps its capacity across
// events.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cdcctl::json {

namespace detail {

// 1 for the bytes a JSON string may hold as they are: printable ASCII other than '"' and '\\'.
struct PlainTable {
    bool plain[256];
    constexpr PlainTable() : plain() {
        for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
    }
};
inline constexpr PlainTable kPlain{};

// The length of the longest prefix of [p, end) that needs no escaping. Eight bytes at a time
// (a byte needs escaping when it is below 0x20, '"', '\\' or 0x80 and above), then the table.
inline size_t PlainPrefix(const unsigned char *p, const unsigned char *end) {
    const unsigned char *start = p;
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t x;
        std::memcpy(&x, p, 8);
        uint64_t quote = x ^ (kOnes * '"');
        uint64_t slash = x ^ (kOnes * '\\');
        // The high bit of a byte lane is set where the byte is below 0x20 (x - 0x20 wraps), is
        // '"' or '\\' (the xor is 0, minus 1 wraps) or is 0x80 and above. The subtractions may
        // also flag bytes that are 0x80 and above (special anyway) and, through a borrow, lanes
        // above a lane that wrapped; the lowest flagged lane is therefore always a real one.
        uint64_t special = ((x - kOnes * 0x20) | (quote - kOnes) | (slash - kOnes) | x) & kHigh;
        if (special != 0) {
            // x86-64 and AArch64 are little-endian: the lowest lane is the first byte.
            return static_cast<size_t>(p - start) + (static_cast<unsigned>(__builtin_ctzll(special)) >> 3);
        }
        p += 8;
    }
    while (p < end && kPlain.plain[*p]) ++p;
    return static_cast<size_t>(p - start);
}

}  // namespace detail

// Appends the escaped contents of a JSON string, without the quotes.
inline void AppendEscaped(std::string *out, std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    const auto *end = p + s.size();
    while (p < end) {
        // Copy the longest run that needs no escaping in one go.
        size_t run = detail::PlainPrefix(p, end);
        if (run > 0) {
            out->append(reinterpret_cast<const char *>(p), run);
            p += run;
        }
        if (p == end) break;
        unsigned char c = *p;
        if (c < 0x80) {
            out->push_back('\\');
            switch (c) {
                case '"': out->push_back('"'); break;
                case '\\': out->push_back('\\'); break;
                case '\b': out->push_back('b'); break;
                case '\t': out->push_back('t'); break;
                case '\n': out->push_back('n'); break;
                case '\f': out->push_back('f'); break;
                case '\r': out->push_back('r'); break;
                default:
                    out->append("u00", 3);
                    out->push_back(kHex[c >> 4]);
                    out->push_back(kHex[c & 0xF]);
            }
            ++p;
            continue;
        }
        // A multi-byte sequence: copy it when it is well-formed UTF-8 (no overlongs, no
        // surrogates, at most U+10FFFF), else replace one byte with U+FFFD and resynchronise.
        size_t len = 0;
        uint32_t min = 0;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
        bool ok = len != 0 && static_cast<size_t>(end - p) >= len;
        if (ok) {
            uint32_t cp = c & (0xFF >> (len + 1));
            for (size_t i = 1; i < len; ++i) {
                if ((p[i] & 0xC0) != 0x80) { ok = false; break; }
                cp = (cp << 6) | (p[i] & 0x3F);
            }
            ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (ok) {
            out->append(reinterpret_cast<const char *>(p), len);
            p += len;
        } else {
            out->append("\xEF\xBF\xBD", 3);
            ++p;
        }
    }
}

// Appends `s` as a quoted JSON string.
inline void AppendString(std::string *out, std::string_view s) {
    out->push_back('"');
    AppendEscaped(out, s);
    out->push_back('"');
}

inline void AppendInt(std::string *out, int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr - buf);
}

inline void AppendUint(std::string *out, uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr - buf);
}

namespace detail {

// std::to_chars's scientific form "[-]d[.ddd]e(+|-)XX", split into its parts.
struct SciParts {
    bool negative = false;
    char digits[32];  // the significant digits, without the decimal point
    size_t nd = 0;
    int exp = 0;
};

inline void ParseSci(const char *p, const char *end, SciParts *s) {
    s->negative = *p == '-';
    if (s->negative) ++p;
    s->nd = 0;
    s->digits[s->nd++] = *p++;
    if (*p == '.') {
        ++p;
        while (*p != 'e' && s->nd < sizeof(s->digits)) s->digits[s->nd++] = *p++;
    }
    ++p;  // 'e'
    bool exp_negative = *p == '-';
    if (*p == '-' || *p == '+') ++p;
    int exp = 0;
    while (p < end) exp = exp * 10 + (*p++ - '0');
    s->exp = exp_negative ? -exp : exp;
}

// Lays the digits out the way Java's Double.toString / Float.toString does: plain notation with
// at least one fractional digit for 1e-3 <= |v| < 1e7, else "d.dddE<exp>". One append.
inline void AppendJavaStyle(std::string *out, const SciParts &s) {
    char buf[64];
    char *w = buf;
    const char *digits = s.digits;
    size_t nd = s.nd;
    int exp = s.exp;
    if (s.negative) *w++ = '-';
    if (exp >= -3 && exp < 7) {
        if (exp < 0) {
            *w++ = '0';
            *w++ = '.';
            for (int i = 0; i < -exp - 1; ++i) *w++ = '0';
            std::memcpy(w, digits, nd);
            w += nd;
        } else {
            size_t int_digits = static_cast<size_t>(exp) + 1;
            if (nd <= int_digits) {
                std::memcpy(w, digits, nd);
                w += nd;
                for (size_t i = nd; i < int_digits; ++i) *w++ = '0';
                *w++ = '.';
                *w++ = '0';
            } else {
                std::memcpy(w, digits, int_digits);
                w += int_digits;
                *w++ = '.';
                std::memcpy(w, digits + int_digits, nd - int_digits);
                w += nd - int_digits;
            }
        }
    } else {
        *w++ = digits[0];
        *w++ = '.';
        if (nd > 1) {
            std::memcpy(w, digits + 1, nd - 1);
            w += nd - 1;
        } else {
            *w++ = '0';
        }
        *w++ = 'E';
        w = std::to_chars(w, buf + sizeof(buf), exp).ptr;
    }
    out->append(buf, static_cast<size_t>(w - buf));
}

// Java needs at least two significant digits in computerized scientific notation ("d.dE<exp>",
// exponent outside [-3, 7)) and takes the two-digit decimal closest to the value, which for
// subnormals is not the shortest single digit plus ".0": Double.MIN_VALUE prints as 4.9E-324
// where the shortest digit is 5e-324, Float.MIN_VALUE as 1.4E-45. For normal values the two
// agree.
template <typename T>
inline void AppendJavaFloating(std::string *out, T v) {
    char buf[40];
    auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    SciParts parts;
    ParseSci(buf, r.ptr, &parts);
    if (parts.nd == 1 && (parts.exp < -3 || parts.exp >= 7)) {
        r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific, 1);
        ParseSci(buf, r.ptr, &parts);
    }
    AppendJavaStyle(out, parts);
}

inline bool AppendNonFinite(std::string *out, double v) {
    if (std::isnan(v)) { out->append("\"NaN\"", 5); return true; }
    if (std::isinf(v)) {
        if (v > 0) out->append("\"Infinity\"", 10);
        else out->append("\"-Infinity\"", 11);
        return true;
    }
    return false;
}

}  // namespace detail

inline void AppendDouble(std::string *out, double v) {
    if (detail::AppendNonFinite(out, v)) return;
    if (v == 0) {
        out->append(std::signbit(v) ? "-0.0" : "0.0");
        return;
    }
    detail::AppendJavaFloating(out, v);
}

// A Kafka Connect float32: the shortest digits that round-trip the float, not the double.
inline void AppendFloat(std::string *out, float v) {
    if (detail::AppendNonFinite(out, v)) return;
    if (v == 0) {
        out->append(std::signbit(v) ? "-0.0" : "0.0");
        return;
    }
    detail::AppendJavaFloating(out, v);
}

// Appends the quoted standard base64 (RFC 4648, with padding) of `bytes`.
inline void AppendBase64(std::string *out, std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
    size_t n = bytes.size();
    size_t start = out->size();
    out->resize(start + 2 + (n + 2) / 3 * 4);
    char *w = out->data() + start;
    *w++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
        *w++ = kAlphabet[v >> 18];
        *w++ = kAlphabet[(v >> 12) & 63];
        *w++ = kAlphabet[(v >> 6) & 63];
        *w++ = kAlphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = uint32_t(p[i]) << 16;
        if (i + 1 < n) v |= uint32_t(p[i + 1]) << 8;
        *w++ = kAlphabet[v >> 18];
        *w++ = kAlphabet[(v >> 12) & 63];
        *w++ = i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    *w++ = '"';
}

// Structural writing with automatic commas. Keys and values are appended directly to `out`.
class JsonWriter {
public:
    explicit JsonWriter(std::string *out) : out_(out) {}

    void BeginObject() { Open('{'); }
    void EndObject() { Close('}'); }
    void BeginArray() { Open('['); }
    void EndArray() { Close(']'); }

    void Key(std::string_view key) {
        Separate();
        AppendString(out_, key);
        out_->push_back(':');
        after_key_ = true;
    }

    void Null() { BeforeValue(); out_->append("null", 4); }
    void Bool(bool b) { BeforeValue(); out_->append(b ? "true" : "false"); }
    void Int(int64_t v) { BeforeValue(); AppendInt(out_, v); }
    void Uint(uint64_t v) { BeforeValue(); AppendUint(out_, v); }
    void Double(double v) { BeforeValue(); AppendDouble(out_, v); }
    void Float(float v) { BeforeValue(); AppendFloat(out_, v); }
    void String(std::string_view s) { BeforeValue(); AppendString(out_, s); }
    // One string value made of `a`, `separator` and `b`, without joining them first.
    void JoinedString(std::string_view a, char separator, std::string_view b) {
        BeforeValue();
        out_->push_back('"');
        AppendEscaped(out_, a);
        AppendEscaped(out_, std::string_view(&separator, 1));
        AppendEscaped(out_, b);
        out_->push_back('"');
    }
    void Base64(std::string_view bytes) { BeforeValue(); AppendBase64(out_, bytes); }
    // A value that is already valid JSON (a pre-rendered schema, for instance).
    void Raw(std::string_view json) { BeforeValue(); out_->append(json); }

private:
    // Nesting deeper than this cannot come from a table schema or a PostgreSQL array (at most
    // six dimensions), so hitting it means a bug in the caller.
    static constexpr int kMaxDepth = 64;

    void Separate() {
        if (depth_ > 0) {
            uint64_t bit = uint64_t{1} << (depth_ - 1);
            if (has_items_ & bit) out_->push_back(',');
            has_items_ |= bit;
        }
    }
    void BeforeValue() {
        if (after_key_) after_key_ = false;
        else Separate();
    }
    void Open(char c) {
        BeforeValue();
        if (depth_ == kMaxDepth) throw std::length_error("JSON nesting deeper than 64 levels");
        out_->push_back(c);
        ++depth_;
        has_items_ &= ~(uint64_t{1} << (depth_ - 1));
    }
    void Close(char c) {
        out_->push_back(c);
        if (depth_ > 0) --depth_;
    }

    std::string *out_;
    int depth_ = 0;
    uint64_t has_items_ = 0;  // bit d-1: the container at depth d already has an item
    bool after_key_ = false;
};

}  // namespace cdcctl::json
