// The Thrift compact protocol writer and the RLE/bit-packed hybrid encoder of the Parquet writer,
// against byte sequences worked out by hand from the specifications: Thrift's compact protocol
// (thrift/doc/specs/thrift-compact-protocol.md) and Parquet's Encodings.md.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sinks/parquet/format/buffer.h"
#include "sinks/parquet/format/encoding.h"
#include "sinks/parquet/format/thrift_compact.h"

using namespace cdcctl::parquet;
using thrift::CompactWriter;
using thrift::CType;

namespace {

std::vector<int> Bytes(const Buffer &b) {
    return std::vector<int>(b.data(), b.data() + b.size());
}

}  // namespace

TEST_CASE("thrift: i32 fields are zigzag varints, short field header with a delta") {
    Buffer b;
    CompactWriter w(&b);
    w.StructBegin();
    w.FieldI32(1, 0);            // header 0x15: delta 1, type 5 (i32); zigzag(0) = 0
    w.FieldI32(2, -1);           // zigzag(-1) = 1
    w.FieldI32(3, 1);            // zigzag(1) = 2
    w.FieldI32(4, 300);          // zigzag(300) = 600 = 0b100_1011000 -> 0xD8 0x04
    w.FieldI32(5, -2147483648);  // zigzag = 2^32 - 1 -> ff ff ff ff 0f
    w.StructEnd();               // stop
    CHECK(Bytes(b) == std::vector<int>{0x15, 0x00, 0x15, 0x01, 0x15, 0x02, 0x15, 0xD8, 0x04, 0x15,
                                       0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00});
}

TEST_CASE("thrift: i64 fields, delta above one and the long form beyond fifteen") {
    Buffer b;
    CompactWriter w(&b);
    w.StructBegin();
    w.FieldI64(3, 150);                        // delta 3, type 6: 0x36; zigzag 300 -> 0xAC 0x02
    w.FieldI64(18, -9223372036854775807 - 1);  // delta 15: 0xF6; zigzag = 2^64 - 1
    w.FieldI64(40, 1);  // delta 22 > 15: type byte 0x06, then zigzag(40) = 80
    w.FieldI32(2, 7);   // a lower id: long form too, zigzag(2) = 4
    w.StructEnd();
    CHECK(Bytes(b) == std::vector<int>{0x36, 0xAC, 0x02, 0xF6, 0xFF, 0xFF, 0xFF,
                                       0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                                       0x06, 0x50, 0x02, 0x05, 0x04, 0x0E, 0x00});
}

TEST_CASE("thrift: bool fields carry their value in the type nibble") {
    Buffer b;
    CompactWriter w(&b);
    w.StructBegin();
    w.FieldBool(1, true);   // 0x11
    w.FieldBool(2, false);  // 0x12
    w.FieldI8(3, -3);       // i8 is one raw byte: 0x13 0xFD
    w.StructEnd();
    CHECK(Bytes(b) == std::vector<int>{0x11, 0x12, 0x13, 0xFD, 0x00});
}

TEST_CASE("thrift: binary is a varint length and the bytes") {
    Buffer b;
    CompactWriter w(&b);
    w.StructBegin();
    w.FieldBinary(4, "abc");  // 0x48
    w.FieldBinary(5, "");
    w.StructEnd();
    CHECK(Bytes(b) == std::vector<int>{0x48, 0x03, 'a', 'b', 'c', 0x18, 0x00, 0x00});
}

TEST_CASE("thrift: list headers, short form below fifteen elements and long form from fifteen") {
    Buffer b;
    CompactWriter w(&b);
    w.StructBegin();
    w.FieldListBegin(1, CType::kI32, 3);  // field 0x19, list header (3 << 4) | 5 = 0x35
    w.ElemI32(1);
    w.ElemI32(-2);
    w.ElemI32(3);
    w.FieldListBegin(2, CType::kBinary, 15);  // 0xF8, then varint 15
    for (int i = 0; i < 15; ++i) w.ElemBinary("x");
    w.FieldListBegin(3, CType::kStruct, 0);  // empty list of structs: 0x0C
    w.StructEnd();
    std::vector<int> want = {0x19, 0x35, 0x02, 0x03, 0x06, 0x19, 0xF8, 0x0F};
    for (int i = 0; i < 15; ++i) {
        want.push_back(0x01);
        want.push_back('x');
    }
    want.insert(want.end(), {0x19, 0x0C, 0x00});
    CHECK(Bytes(b) == want);
}

TEST_CASE("thrift: nested structs restart the field id delta and end with a stop byte") {
    Buffer b;
    CompactWriter w(&b);
    w.StructBegin();
    w.FieldI32(1, 1);                        // 0x15 0x02
    w.FieldStructBegin(5);                   // delta 4, type 12: 0x4C
    w.FieldI32(1, 2);                        // inside: delta from 0 again: 0x15 0x04
    w.FieldStructBegin(2);                   // 0x1C
    w.StructEnd();                           // empty struct: just its stop
    w.StructEnd();                           // 0x00
    w.FieldI32(6, 3);                        // back outside, delta from 5: 0x15 0x06
    w.FieldListBegin(7, CType::kStruct, 2);  // 0x19 0x2C
    w.ElemStructBegin();                     // list elements have no field header
    w.FieldI64(1, 4);                        // 0x16 0x08
    w.StructEnd();
    w.ElemStructBegin();
    w.FieldI64(2, 5);  // a fresh struct: delta 2 from 0: 0x26 0x0A
    w.StructEnd();
    w.StructEnd();
    CHECK(Bytes(b) == std::vector<int>{0x15, 0x02, 0x4C, 0x15, 0x04, 0x1C, 0x00, 0x00, 0x15, 0x06,
                                       0x19, 0x2C, 0x16, 0x08, 0x00, 0x26, 0x0A, 0x00, 0x00});
}

TEST_CASE("rle hybrid: the specification's bit-packing example, 0..7 at bit width 3") {
    // Encodings.md: values 0-7 bit-packed at width 3 are 10001000 11000110 11111010.
    const uint16_t v[] = {0, 1, 2, 3, 4, 5, 6, 7};
    Buffer b;
    EncodeRleHybrid(v, 8, 3, &b);
    // header: one group of eight, (1 << 1) | 1
    CHECK(Bytes(b) == std::vector<int>{0x03, 0x88, 0xC6, 0xFA});
}

TEST_CASE("rle hybrid: a run of eight or more equal values is an RLE run") {
    std::vector<uint16_t> v(100, 5);
    Buffer b;
    EncodeRleHybrid(v.data(), v.size(), 3, &b);
    // header varint(100 << 1) = 200 = 0xC8 0x01, then the value in ceil(3 / 8) = 1 byte
    CHECK(Bytes(b) == std::vector<int>{0xC8, 0x01, 0x05});

    std::vector<uint32_t> wide(10, 0x12345);
    Buffer w;
    EncodeRleHybrid(wide.data(), wide.size(), 17, &w);
    // width 17: the value takes 3 bytes, little-endian
    CHECK(Bytes(w) == std::vector<int>{0x14, 0x45, 0x23, 0x01});
}

TEST_CASE("rle hybrid: literals before a run are padded to eight by taking values from the run") {
    // 1, 2, 3 then thirteen 7s: a bit-packed group of 1 2 3 7 7 7 7 7, then an RLE run of
    // eight 7s
    std::vector<uint16_t> v = {1, 2, 3};
    v.insert(v.end(), 13, 7);
    Buffer b;
    EncodeRleHybrid(v.data(), v.size(), 3, &b);
    // 1,2,3,7,7,7,7,7 at width 3, LSB first: 11010001 11111110 11111111
    CHECK(Bytes(b) == std::vector<int>{0x03, 0xD1, 0xFE, 0xFF, 0x10, 0x07});
}

TEST_CASE("rle hybrid: a short tail is one bit-packed group padded with zeros") {
    const uint16_t v[] = {1, 0, 1};
    Buffer b;
    EncodeRleHybrid(v, 3, 1, &b);
    CHECK(Bytes(b) == std::vector<int>{0x03, 0x05});

    // Definition levels of a column without nulls: one run.
    std::vector<uint16_t> ones(1000, 1);
    Buffer r;
    EncodeRleHybrid(ones.data(), ones.size(), 1, &r);
    CHECK(Bytes(r) == std::vector<int>{0xD0, 0x0F, 0x01});  // varint(2000)
}

TEST_CASE("rle hybrid: a run too short to leave eight after padding stays in the literals") {
    // 1, then nine 2s: padding takes seven 2s, two remain, fewer than eight: all literal.
    std::vector<uint16_t> v = {1};
    v.insert(v.end(), 9, 2);
    Buffer b;
    EncodeRleHybrid(v.data(), v.size(), 2, &b);
    // two groups: 1 2 2 2 2 2 2 2 | 2 2 0 0 0 0 0 0 at width 2
    // group 1: bits 01 10 10 10 | 10 10 10 10 -> 0xA9 0xAA; group 2: 10 10 00 00 .. -> 0x0A 0x00
    CHECK(Bytes(b) == std::vector<int>{0x05, 0xA9, 0xAA, 0x0A, 0x00});
}

TEST_CASE("plain booleans are bit-packed least significant bit first") {
    BitWriter bits;
    for (bool v : {true, false, true, true, false, false, false, false, true}) bits.Put(v);
    CHECK(bits.count() == 9);
    CHECK(Bytes(bits.bytes()) == std::vector<int>{0x0D, 0x01});
}

TEST_CASE("dictionary: equal values share an index and the entries are PLAIN back to back") {
    Dictionary d(0);
    bool inserted = false;
    CHECK(d.Insert("b", &inserted) == 0);
    CHECK(inserted);
    CHECK(d.Insert("a", &inserted) == 1);
    CHECK(d.Insert("b", &inserted) == 0);
    CHECK(!inserted);
    CHECK(d.Insert("", &inserted) == 2);
    CHECK(d.size() == 3);
    CHECK(Bytes(d.plain()) == std::vector<int>{1, 0, 0, 0, 'b', 1, 0, 0, 0, 'a', 0, 0, 0, 0});
    // Growing past the table's first size keeps every index.
    for (int i = 0; i < 5000; ++i) d.Insert("k" + std::to_string(i), &inserted);
    CHECK(d.Insert("k4321", &inserted) == 3 + 4321);
    CHECK(!inserted);
    CHECK(d.Insert("a", &inserted) == 1);

    Dictionary ints(4);
    int32_t x = 7;
    CHECK(ints.Insert(std::string_view(reinterpret_cast<const char *>(&x), 4), &inserted) == 0);
    CHECK(Bytes(ints.plain()) == std::vector<int>{7, 0, 0, 0});
}
