#include "sinks/parquet/format/encoding.h"

#include <algorithm>
#include <cstring>

namespace cdcctl::parquet {

namespace {

template <typename T>
void EmitBitPacked(const T *values, size_t n, int bit_width, Buffer *out) {
    size_t groups = (n + 7) / 8;
    out->AppendUleb128((static_cast<uint64_t>(groups) << 1) | 1);
    uint8_t *p = out->Grow(groups * static_cast<size_t>(bit_width));
    // Eight values of w bits are exactly w bytes, so every group starts on a byte boundary and
    // the accumulator never holds more than 7 + 32 bits.
    uint64_t acc = 0;
    int bits = 0;
    size_t total = groups * 8;
    for (size_t i = 0; i < total; ++i) {
        uint64_t v = i < n ? static_cast<uint64_t>(values[i]) : 0;
        acc |= v << bits;
        bits += bit_width;
        while (bits >= 8) {
            *p++ = static_cast<uint8_t>(acc);
            acc >>= 8;
            bits -= 8;
        }
    }
}

template <typename T>
void EmitRle(T value, size_t count, int bit_width, Buffer *out) {
    out->AppendUleb128(static_cast<uint64_t>(count) << 1);
    uint32_t v = static_cast<uint32_t>(value);
    int bytes = (bit_width + 7) / 8;
    for (int i = 0; i < bytes; ++i) out->PushByte(static_cast<uint8_t>(v >> (8 * i)));
}

template <typename T>
void EncodeHybrid(const T *v, size_t n, int bit_width, Buffer *out) {
    size_t literal_start = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && v[j] == v[i]) ++j;
        size_t run = j - i;
        if (run >= 8) {
            size_t pending = i - literal_start;
            size_t pad = (8 - pending % 8) % 8;
            if (run - pad >= 8) {
                if (pending + pad > 0)
                    EmitBitPacked(v + literal_start, pending + pad, bit_width, out);
                EmitRle(v[i], run - pad, bit_width, out);
                literal_start = j;
            }
        }
        i = j;
    }
    if (literal_start < n) EmitBitPacked(v + literal_start, n - literal_start, bit_width, out);
}

inline uint64_t Mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

}  // namespace

void EncodeRleHybrid(const uint16_t *values, size_t n, int bit_width, Buffer *out) {
    EncodeHybrid(values, n, bit_width, out);
}

void EncodeRleHybrid(const uint32_t *values, size_t n, int bit_width, Buffer *out) {
    EncodeHybrid(values, n, bit_width, out);
}

uint64_t HashBytes(const void *data, size_t n) {
    const auto *p = static_cast<const uint8_t *>(data);
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0x100000001b3ULL);
    while (n >= 8) {
        uint64_t k;
        std::memcpy(&k, p, 8);
        h = (h ^ Mix(k)) * 0x9e3779b97f4a7c15ULL;
        h = (h << 29) | (h >> 35);
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t k = 0;
        std::memcpy(&k, p, n);
        h = (h ^ Mix(k ^ (static_cast<uint64_t>(n) << 56))) * 0x9e3779b97f4a7c15ULL;
    }
    return Mix(h);
}

std::string_view Dictionary::Entry(uint32_t index) const {
    const char *base = reinterpret_cast<const char *>(plain_.data());
    if (fixed_width_ > 0) return {base + static_cast<size_t>(index) * fixed_width_, fixed_width_};
    uint32_t off = offsets_[index];
    uint32_t len;
    std::memcpy(&len, base + off, 4);
    return {base + off + 4, len};
}

void Dictionary::Rehash(size_t new_slots) {
    std::vector<uint64_t> old;
    old.swap(slots_);
    slots_.assign(new_slots, 0);
    size_t mask = new_slots - 1;
    for (uint64_t s : old) {
        if (s == 0) continue;
        // The tag is the high half of the hash; the low half picked the slot, so recompute.
        std::string_view e = Entry(static_cast<uint32_t>(s) - 1);
        size_t pos = HashBytes(e.data(), e.size()) & mask;
        while (slots_[pos] != 0) pos = (pos + 1) & mask;
        slots_[pos] = s;
    }
}

uint32_t Dictionary::Insert(std::string_view value, bool *inserted) {
    if (slots_.empty()) slots_.assign(1024, 0);
    uint64_t h = HashBytes(value.data(), value.size());
    uint64_t tag = h & 0xffffffff00000000ULL;
    size_t mask = slots_.size() - 1;
    size_t pos = h & mask;
    while (true) {
        uint64_t s = slots_[pos];
        if (s == 0) break;
        if ((s & 0xffffffff00000000ULL) == tag) {
            uint32_t idx = static_cast<uint32_t>(s) - 1;
            std::string_view e = Entry(idx);
            if (e.size() == value.size() &&
                std::memcmp(e.data(), value.data(), value.size()) == 0) {
                *inserted = false;
                return idx;
            }
        }
        pos = (pos + 1) & mask;
    }
    uint32_t idx = count_++;
    if (fixed_width_ == 0) {
        offsets_.push_back(static_cast<uint32_t>(plain_.size()));
        plain_.AppendLE(static_cast<uint32_t>(value.size()));
    }
    plain_.Append(value);
    slots_[pos] = tag | (static_cast<uint64_t>(idx) + 1);
    // Keep the load under one half so that probe sequences stay short.
    if (static_cast<size_t>(count_) * 2 > slots_.size()) Rehash(slots_.size() * 2);
    *inserted = true;
    return idx;
}

void Dictionary::clear() {
    plain_.clear();
    offsets_.clear();
    count_ = 0;
    // A dictionary that grew large for one row group keeps its table; zeroing is cheaper than
    // regrowing it for the next.
    std::fill(slots_.begin(), slots_.end(), 0);
}

}  // namespace cdcctl::parquet
