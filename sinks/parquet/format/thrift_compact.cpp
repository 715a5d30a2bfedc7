#include "sinks/parquet/format/thrift_compact.h"

namespace cdcctl::parquet::thrift {

void CompactWriter::FieldHeader(int16_t id, CType type) {
    int16_t &last = last_ids_.back();
    int delta = id - last;
    if (delta > 0 && delta <= 15) {
        out_->PushByte(static_cast<uint8_t>((delta << 4) | static_cast<int>(type)));
    } else {
        out_->PushByte(static_cast<uint8_t>(type));
        out_->AppendUleb128(ZigZag64(id));
    }
    last = id;
}

void CompactWriter::StructEnd() {
    out_->PushByte(0);
    last_ids_.pop_back();
}

void CompactWriter::FieldI8(int16_t id, int8_t v) {
    FieldHeader(id, CType::kByte);
    out_->PushByte(static_cast<uint8_t>(v));
}

void CompactWriter::FieldI32(int16_t id, int32_t v) {
    FieldHeader(id, CType::kI32);
    out_->AppendUleb128(ZigZag64(v));
}

void CompactWriter::FieldI64(int16_t id, int64_t v) {
    FieldHeader(id, CType::kI64);
    out_->AppendUleb128(ZigZag64(v));
}

void CompactWriter::FieldBinary(int16_t id, std::string_view v) {
    FieldHeader(id, CType::kBinary);
    ElemBinary(v);
}

void CompactWriter::ElemBinary(std::string_view v) {
    out_->AppendUleb128(v.size());
    out_->Append(v);
}

void CompactWriter::FieldStructBegin(int16_t id) {
    FieldHeader(id, CType::kStruct);
    last_ids_.push_back(0);
}

void CompactWriter::FieldListBegin(int16_t id, CType elem, uint32_t size) {
    FieldHeader(id, CType::kList);
    if (size < 15) {
        out_->PushByte(static_cast<uint8_t>((size << 4) | static_cast<uint32_t>(elem)));
    } else {
        out_->PushByte(static_cast<uint8_t>(0xF0 | static_cast<uint32_t>(elem)));
        out_->AppendUleb128(size);
    }
}

}  // namespace cdcctl::parquet::thrift
