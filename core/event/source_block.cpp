#include "core/event/source_block.h"

#include <charconv>

namespace cdcctl {

SourceBlock SourceBlock::WithCommonFields(std::string connector, std::string schema_name) {
    SourceBlock b;
    b.connector = std::move(connector);
    b.schema_name = std::move(schema_name);
    b.append_position = AppendDecimalPosition;
    b.AddField("version", FieldType::kString, false, SourceFieldFrom::kVersion);
    b.AddField("connector", FieldType::kString, false, SourceFieldFrom::kConnector);
    b.AddField("name", FieldType::kString, false, SourceFieldFrom::kName);
    b.AddField("ts_ms", FieldType::kInt64, false, SourceFieldFrom::kTsMs);
    b.AddField("snapshot", FieldType::kString, true, SourceFieldFrom::kSnapshot);
    b.AddField("db", FieldType::kString, false, SourceFieldFrom::kDatabase);
    b.AddField("sequence", FieldType::kString, true, SourceFieldFrom::kSequence);
    b.AddField("ts_us", FieldType::kInt64, true, SourceFieldFrom::kTsUs);
    b.AddField("ts_ns", FieldType::kInt64, true, SourceFieldFrom::kTsNs);
    return b;
}

uint8_t SourceBlock::AddValue(std::string name, FieldType type, bool optional) {
    SourceField f;
    f.name = std::move(name);
    f.type = type;
    f.optional = optional;
    f.from = SourceFieldFrom::kValue;
    f.value = static_cast<uint8_t>(value_count++);
    fields.push_back(std::move(f));
    return fields.back().value;
}

void SourceBlock::AddField(std::string name, FieldType type, bool optional, SourceFieldFrom from) {
    SourceField f;
    f.name = std::move(name);
    f.type = type;
    f.optional = optional;
    f.from = from;
    fields.push_back(std::move(f));
}

const SourceField *SourceBlock::Find(std::string_view name) const {
    for (const SourceField &f : fields) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

void AppendDecimalPosition(std::string *out, uint64_t position) {
    char buf[20];
    auto end = std::to_chars(buf, buf + sizeof buf, position).ptr;
    out->append(static_cast<size_t>(buf + sizeof buf - end), '0');
    out->append(buf, end);
}

}  // namespace cdcctl
