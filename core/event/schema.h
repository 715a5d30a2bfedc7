// Schemas in Kafka Connect's vocabulary with Debezium's semantic types, so that every sink and
// transform sees the same description of a column that Debezium users know.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cdcctl {

// Kafka Connect schema types.
enum class FieldType : uint8_t {
    kBoolean,
    kInt8,
    kInt16,
    kInt32,
    kInt64,
    kFloat32,
    kFloat64,
    kString,
    kBytes,
    kArray,
    kStruct,
};

// "boolean", "int8", ..., "struct": the names Kafka Connect's JsonConverter writes.
std::string_view FieldTypeName(FieldType type);

// Debezium / Kafka Connect semantic type names.
namespace semantic {
inline constexpr std::string_view kDate = "io.debezium.time.Date";
inline constexpr std::string_view kTime = "io.debezium.time.Time";
inline constexpr std::string_view kMicroTime = "io.debezium.time.MicroTime";
inline constexpr std::string_view kNanoTime = "io.debezium.time.NanoTime";
inline constexpr std::string_view kTimestamp = "io.debezium.time.Timestamp";
inline constexpr std::string_view kMicroTimestamp = "io.debezium.time.MicroTimestamp";
inline constexpr std::string_view kNanoTimestamp = "io.debezium.time.NanoTimestamp";
inline constexpr std::string_view kZonedTimestamp = "io.debezium.time.ZonedTimestamp";
inline constexpr std::string_view kZonedTime = "io.debezium.time.ZonedTime";
inline constexpr std::string_view kMicroDuration = "io.debezium.time.MicroDuration";
inline constexpr std::string_view kInterval = "io.debezium.time.Interval";
inline constexpr std::string_view kConnectDate = "org.apache.kafka.connect.data.Date";
inline constexpr std::string_view kConnectTime = "org.apache.kafka.connect.data.Time";
inline constexpr std::string_view kConnectTimestamp = "org.apache.kafka.connect.data.Timestamp";
inline constexpr std::string_view kDecimal = "org.apache.kafka.connect.data.Decimal";
inline constexpr std::string_view kVariableScaleDecimal = "io.debezium.data.VariableScaleDecimal";
inline constexpr std::string_view kUuid = "io.debezium.data.Uuid";
inline constexpr std::string_view kJson = "io.debezium.data.Json";
inline constexpr std::string_view kEnum = "io.debezium.data.Enum";
inline constexpr std::string_view kBits = "io.debezium.data.Bits";
}  // namespace semantic

struct FieldSchema {
    std::string name;
    FieldType type = FieldType::kString;
    bool optional = true;
    // Semantic (logical) type name, e.g. semantic::kMicroTimestamp; empty for none.
    std::string semantic;
    // Version of the semantic schema (Decimal and VariableScaleDecimal have 1); 0 for none.
    int version = 0;
    // Schema parameters in order, e.g. {"scale","2"}, {"connect.decimal.precision","10"},
    // {"allowed","a,b,c"} for enums.
    std::vector<std::pair<std::string, std::string>> parameters;
    // kStruct: the member fields. kArray: exactly one element, the item schema.
    std::vector<FieldSchema> fields;

    // What the source database calls the type ("int4", "numeric", "_text", ...).
    std::string source_type;
    uint32_t source_type_oid = 0;
    int32_t type_modifier = -1;

    const std::string *Parameter(std::string_view key) const {
        for (const auto &p : parameters) {
            if (p.first == key) return &p.second;
        }
        return nullptr;
    }
};

// One captured table. A new TableSchema (with a higher version) replaces the old one whenever the
// table's columns change; events keep a pointer to the schema they were decoded with.
struct TableSchema {
    std::string topic;     // <topic_prefix>.<schema>.<table>
    std::string database;  // database name
    std::string schema;    // namespace, e.g. "public"
    std::string table;
    std::vector<FieldSchema> columns;
    std::vector<size_t> key;  // indexes into columns: primary key, else replica identity columns
    uint64_t version = 0;

    int ColumnIndex(std::string_view name) const {
        for (size_t i = 0; i < columns.size(); ++i) {
            if (columns[i].name == name) return static_cast<int>(i);
        }
        return -1;
    }
};
using TableSchemaPtr = std::shared_ptr<const TableSchema>;

}  // namespace cdcctl
