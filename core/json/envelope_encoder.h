// ChangeEvent -> one JSON object, as Debezium's PostgreSQL connector and Kafka Connect's
// JsonConverter would write the record value.
//
// Envelope format (Debezium 2.7+ value layout):
//   {"before":{..}|null,"after":{..}|null,
//    "source":{"version","connector","name","ts_ms","snapshot","db","sequence","ts_us","ts_ns",
//              "schema","table","txId","lsn","xmin"},
//    "transaction":null,"op":"c","ts_ms":..,"ts_us":..,"ts_ns":..}
// source.sequence is Debezium's JSON-array-in-a-string ["<last commit lsn>","<lsn>"] of decimal
// LSNs (null entries where the LSN is 0, and null altogether when the event has no LSN); the
// *_us/*_ns timestamps are derived from the millisecond ones cdcctl carries.
//
// Row format (Debezium's ExtractNewRecordState with add.fields=op,table,lsn,ts_ms): the after
// state (deletes: the before state, at least the key) plus "__op", "__table" ("schema.table"),
// "__lsn" (null when 0) and "__ts_ms". Truncates carry only those four fields.
//
// schemas=true wraps either form as JsonConverter does: {"schema":{..},"payload":{..}}.
//
// Values follow the column schema: Decimal and bytes as base64, float32 printed as a float,
// NaN/Infinity as strings, unchanged TOASTed values (Value::kUnavailable) as Debezium's
// "__debezium_unavailable_value" (base64 of it for bytes columns).
//
// Allocation: after warm-up an Encode call allocates nothing. It appends to the caller's reused
// string and reuses the schema JSON rendered once per TableSchema (keyed by the schema object,
// which is immutable; a table's new version replaces its old cache entry).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "core/event/change_event.h"
#include "core/json/json_writer.h"

namespace cdcctl {

enum class EventFormat { kEnvelope, kRow };

struct EnvelopeEncoderConfig {
    EventFormat format = EventFormat::kEnvelope;
    bool schemas = false;
    std::string topic_prefix;              // source.name
    std::string connector = "postgresql";  // source.connector
    std::string version = "cdcctl-" CDCCTL_VERSION;  // source.version
};

class EnvelopeEncoder {
public:
    explicit EnvelopeEncoder(EnvelopeEncoderConfig config);

    // Appends exactly one JSON object for `event` to `out` (no newline).
    void Encode(const ChangeEvent &event, std::string *out);

private:
    struct CachedSchema {
        TableSchemaPtr table;  // keeps the key's address from being reused while cached
        std::string json;
    };

    const std::string &SchemaFor(const TableSchemaPtr &table);
    void WriteEnvelope(json::JsonWriter &w, const ChangeEvent &event);
    void WriteRowFormat(json::JsonWriter &w, const ChangeEvent &event);
    void WriteSource(json::JsonWriter &w, const ChangeEvent &event);

    EnvelopeEncoderConfig config_;
    std::unordered_map<const TableSchema *, CachedSchema> cache_;
    std::unordered_map<std::string, const TableSchema *> cache_by_topic_;
    std::string truncate_schema_;
};

// Writes `row` as a JSON object with one member per column, in schema order.
void WriteRowObject(json::JsonWriter &w, const TableSchema &table, const Row &row);
// Writes one value the way JsonConverter writes it for `schema`.
void WriteFieldValue(json::JsonWriter &w, const FieldSchema &schema, const Value &value);
// Appends the JsonConverter schema of one field; `field_name` non-empty adds "field":name.
void AppendFieldSchemaJson(std::string *out, const FieldSchema &schema, std::string_view field_name);

}  // namespace cdcctl
