// A writer for the Thrift compact protocol, enough of it for Parquet's page headers and footer.
//
// Wire format (Thrift's compact protocol specification):
//   integers   i16/i32/i64 are zigzag-encoded ((n << 1) ^ (n >> 63)) and then written as ULEB128
//              varints; i8 ("byte") is one raw byte.
//   binary     a varint length, then the bytes (strings are UTF-8 binary).
//   field      a header byte (delta << 4) | type when the field id is 1..15 above the previous
//              field's id in the same struct; otherwise the type byte alone followed by the id as
//              a zigzag varint (the long form). Booleans carry their value in the type nibble
//              (1 = true, 2 = false) and have no payload.
//   struct     its fields, then a stop byte 0x00. The "previous id" restarts at 0 in every nested
//              struct, so the writer keeps a stack of them.
//   list       a header byte (size << 4) | element type for sizes 0..14, else 0xF0 | element type
//              followed by the size as a varint; then the elements without field headers.
//   union      a struct with exactly one field set.
// Element/field type codes: BOOL_TRUE 1, BOOL_FALSE 2, BYTE 3, I16 4, I32 5, I64 6, DOUBLE 7,
// BINARY 8, LIST 9, SET 10, MAP 11, STRUCT 12.
//
// The writer does not check that the calls form a valid message (the Parquet structs are written
// by code that mirrors parquet.thrift one field at a time); it only appends bytes.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "sinks/parquet/format/buffer.h"

namespace cdcctl::parquet::thrift {

enum class CType : uint8_t {
    kBoolTrue = 1,
    kBoolFalse = 2,
    kByte = 3,
    kI16 = 4,
    kI32 = 5,
    kI64 = 6,
    kDouble = 7,
    kBinary = 8,
    kList = 9,
    kSet = 10,
    kMap = 11,
    kStruct = 12,
};

inline uint64_t ZigZag64(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

class CompactWriter {
public:
    explicit CompactWriter(Buffer *out) : out_(out) {}

    // The outermost struct of a message (a PageHeader, the FileMetaData).
    void StructBegin() { last_ids_.push_back(0); }
    // Writes the stop byte of the current struct.
    void StructEnd();

    void FieldBool(int16_t id, bool v) {
        FieldHeader(id, v ? CType::kBoolTrue : CType::kBoolFalse);
    }
    void FieldI8(int16_t id, int8_t v);
    void FieldI32(int16_t id, int32_t v);
    void FieldI64(int16_t id, int64_t v);
    void FieldBinary(int16_t id, std::string_view v);
    // A struct-typed field (also a union-typed one); close it with StructEnd().
    void FieldStructBegin(int16_t id);
    // A list-typed field; follow with exactly `size` Elem* calls.
    void FieldListBegin(int16_t id, CType elem, uint32_t size);

    void ElemI32(int32_t v) { out_->AppendUleb128(ZigZag64(v)); }
    void ElemI64(int64_t v) { out_->AppendUleb128(ZigZag64(v)); }
    void ElemBinary(std::string_view v);
    // A struct element of a list; close it with StructEnd().
    void ElemStructBegin() { last_ids_.push_back(0); }

private:
    void FieldHeader(int16_t id, CType type);

    Buffer *out_;
    std::vector<int16_t> last_ids_;
};

}  // namespace cdcctl::parquet::thrift
