// Parquet value and level encodings (Encodings.md).
//
// RLE/bit-packed hybrid (used for definition and repetition levels, and for dictionary indices):
//   run            := rle-run | bit-packed-run
//   rle-run        := varint(count << 1), then the repeated value in ceil(bit_width / 8) bytes,
//                     little-endian
//   bit-packed-run := varint(groups << 1 | 1), then groups * 8 values packed bit_width bits each,
//                     least significant bit first (groups * bit_width bytes)
// Only the last bit-packed run of a stream may be padded (with zeros) up to a multiple of eight
// values: the reader knows the real count from the page header and ignores the rest, but padding
// in the middle would insert values. So a literal stretch is cut at a multiple of eight before an
// RLE run starts, taking a few values from the run if needed.
//
// In a data page v1 the levels are prefixed by their byte length (4 bytes little-endian, written
// by the caller); RLE_DICTIONARY values are one byte holding the bit width followed by the hybrid
// stream without a length.
//
// PLAIN BOOLEAN is a plain bit-packing, LSB first, 1 bit per value.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "sinks/parquet/format/buffer.h"

namespace cdcctl::parquet {

// Bits needed for values 0..max_value (0 for 0).
inline int BitWidth(uint64_t max_value) {
    return 64 - std::countl_zero(max_value);
}

// Appends the hybrid encoding of values[0..n) at `bit_width` (1..32) to out.
void EncodeRleHybrid(const uint16_t *values, size_t n, int bit_width, Buffer *out);
void EncodeRleHybrid(const uint32_t *values, size_t n, int bit_width, Buffer *out);

// Packs booleans LSB first; bits beyond `count` in the last byte are zero.
class BitWriter {
public:
    void Put(bool v) {
        if ((count_ & 7) == 0) bytes_.PushByte(0);
        bytes_.data()[bytes_.size() - 1] |= static_cast<uint8_t>(v) << (count_ & 7);
        ++count_;
    }
    size_t count() const { return count_; }
    const Buffer &bytes() const { return bytes_; }
    void clear() {
        bytes_.clear();
        count_ = 0;
    }

private:
    Buffer bytes_;
    size_t count_ = 0;
};

// The dictionary of one column chunk: its entries PLAIN-encoded back to back (which is exactly
// the dictionary page's payload, so the page needs no second copy) and an open-addressing hash
// table from value to entry index. A value is looked up by its PLAIN bytes, so the table is the
// same for every physical type; for BYTE_ARRAY the entry's offset into the PLAIN bytes is kept
// because entries have different lengths. Offsets rather than pointers keep the table valid when
// the PLAIN buffer grows.
class Dictionary {
public:
    // `fixed_width` > 0: every entry is that many bytes (INT32, INT64, FLOAT, DOUBLE, FLBA);
    // 0: BYTE_ARRAY, each entry a 4-byte length and the bytes.
    explicit Dictionary(size_t fixed_width) : fixed_width_(fixed_width) {}

    // The index of `value` (its bytes without a length prefix), inserting it when new.
    // `inserted` tells the caller whether the dictionary grew.
    uint32_t Insert(std::string_view value, bool *inserted);

    uint32_t size() const { return count_; }
    // Appends entry `index` in its PLAIN form (with the length prefix for BYTE_ARRAY).
    void AppendPlain(uint32_t index, Buffer *out) const {
        if (fixed_width_ > 0) {
            out->Append(plain_.data() + static_cast<size_t>(index) * fixed_width_, fixed_width_);
        } else {
            std::string_view e = Entry(index);
            out->Append(e.data() - 4, e.size() + 4);
        }
    }
    // Size of the dictionary page's payload.
    size_t plain_bytes() const { return plain_.size(); }
    const Buffer &plain() const { return plain_; }
    void clear();

private:
    std::string_view Entry(uint32_t index) const;
    void Rehash(size_t new_slots);

    size_t fixed_width_;
    Buffer plain_;
    std::vector<uint32_t> offsets_;  // BYTE_ARRAY: where entry i's length prefix starts
    // slot: high 32 bits a hash tag, low 32 bits index + 1 (0 = empty).
    std::vector<uint64_t> slots_;
    uint32_t count_ = 0;
};

uint64_t HashBytes(const void *data, size_t n);

}  // namespace cdcctl::parquet
