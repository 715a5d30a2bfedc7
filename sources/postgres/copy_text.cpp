#include "sources/postgres/copy_text.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/error.h"
#include "core/util/int_math.h"

namespace cdcctl::pg {
namespace {

// The first tab or backslash in [p, end), or end. Reads 16 bytes at a time; it never reads
// outside [begin, end), where begin <= p is the start of the line: the last partial block is
// read as the line's last 16 bytes, with the bytes before p masked off.
inline const char *FindTabOrBackslash(const char *begin, const char *p, const char *end) {
#if defined(__SSE2__)
    const __m128i tab = _mm_set1_epi8('\t');
    const __m128i backslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
        auto mask = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, backslash))));
        if (mask != 0) return p + __builtin_ctz(mask);
        p += 16;
    }
    if (p == end) return end;
    if (end - begin >= 16) {
        const char *block = end - 16;
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(block));
        auto mask = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, backslash))));
        mask >>= static_cast<unsigned>(p - block);
        return mask != 0 ? p + __builtin_ctz(mask) : end;
    }
#else
    (void)begin;
#endif
    while (p < end && *p != '\t' && *p != '\\') ++p;
    return p;
}

}  // namespace

const std::vector<CopyField> &CopyTextSplitter::Split(std::string_view line, size_t expected_fields) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    fields_.clear();
    // Unescaped text is never longer than the raw line, so views into scratch_ stay valid.
    scratch_.clear();
    scratch_.reserve(line.size());
    const char *begin = line.data();
    const char *end = begin + line.size();
    const char *p = begin;
    while (true) {
        const char *start = p;
        bool escaped = false;
        // A backslash escapes the character after it, a tab among them; the field ends at the
        // first tab that is not escaped, or at the end of the line.
        while (true) {
            p = FindTabOrBackslash(begin, p, end);
            if (p == end || *p == '\t') break;
            escaped = true;
            p += 2;
            if (p >= end) {
                p = end;
                break;
            }
        }
        std::string_view raw(start, static_cast<size_t>(p - start));
        CopyField f;
        if (!escaped) {
            f.text = raw;
        } else if (raw == "\\N") {
            f.is_null = true;
        } else {
            size_t first = scratch_.size();
            for (size_t k = 0; k < raw.size(); ++k) {
                char c = raw[k];
                if (c != '\\') {
                    // Copy the run up to the next backslash in one go.
                    size_t next = raw.find('\\', k);
                    if (next == std::string_view::npos) next = raw.size();
                    scratch_.append(raw.data() + k, next - k);
                    k = next - 1;
                    continue;
                }
                if (++k >= raw.size()) throw ProtocolError("postgres", "COPY row ends inside an escape");
                char e = raw[k];
                switch (e) {
                    case 'b': scratch_ += '\b'; break;
                    case 'f': scratch_ += '\f'; break;
                    case 'n': scratch_ += '\n'; break;
                    case 'r': scratch_ += '\r'; break;
                    case 't': scratch_ += '\t'; break;
                    case 'v': scratch_ += '\v'; break;
                    case 'x': {
                        int v = 0, n = 0;
                        while (n < 2 && k + 1 < raw.size() && HexDigitValue(raw[k + 1]) >= 0) {
                            v = v * 16 + HexDigitValue(raw[++k]);
                            ++n;
                        }
                        if (n == 0) scratch_ += 'x';
                        else scratch_ += static_cast<char>(v);
                        break;
                    }
                    default:
                        if (e >= '0' && e <= '7') {
                            int v = e - '0', n = 1;
                            while (n < 3 && k + 1 < raw.size() && raw[k + 1] >= '0' && raw[k + 1] <= '7') {
                                v = v * 8 + (raw[++k] - '0');
                                ++n;
                            }
                            scratch_ += static_cast<char>(v);
                        } else {
                            scratch_ += e;  // \\ and any other character stand for themselves
                        }
                }
            }
            f.text = std::string_view(scratch_).substr(first);
        }
        fields_.push_back(f);
        if (p == end) break;
        ++p;  // the tab
    }
    if (fields_.size() != expected_fields) {
        throw ProtocolError("postgres", "COPY row has " + std::to_string(fields_.size()) +
                                            " fields, expected " + std::to_string(expected_fields));
    }
    return fields_;
}

}  // namespace cdcctl::pg
