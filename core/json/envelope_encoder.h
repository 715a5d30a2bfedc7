// ChangeEvent -> one JSON object, as Debezium's connectors and Kafka Connect's JsonConverter
// would write the record value.
//
// Envelope format (Debezium 2.7+ value layout):
//   {"before":{..}|null,"after":{..}|null,
//    "source":{<the connector's SourceBlock fields, e.g. for PostgreSQL "version","connector",
//              "name","ts_ms","snapshot","db","sequence","ts_us","ts_ns","schema","table","txId",
//              "lsn","xmin">},
//    "transaction":null,"op":"c","ts_ms":..,"ts_us":..,"ts_ns":..}
// source.sequence is the connector's string (PostgreSQL: ["<last commit lsn>","<lsn>"]), null
// when the event has none; the *_us/*_ns timestamps are derived from the millisecond ones cdcctl
// carries.
//
// Row format (Debezium's ExtractNewRecordState with add.fields=op,table,<position>,ts_ms): the
// after state (deletes: the before state, at least the key) plus "__op", "__table"
// ("schema.table"), the connector's position member (PostgreSQL: "__lsn", null when 0) and
// "__ts_ms". Truncates carry only those fields.
//
// schemas=true wraps either form as JsonConverter does: {"schema":{..},"payload":{..}}.
//
// Values follow the column schema: Decimal and bytes as base64, float32 printed as a float,
// NaN/Infinity as strings, unchanged TOASTed values (Value::kUnavailable) as Debezium's
// "__debezium_unavailable_value" (base64 of it for bytes columns).
//
// Allocation: after warm-up an Encode call allocates nothing. It appends to the caller's reused
// string and reuses what it rendered once per TableSchema (keyed by the schema object, which is
// immutable; a table's new version replaces its old cache entry): the schema JSON, each column's
// escaped `,"name":` key and the constant parts of the source block, so that per event only the
// values, timestamps, snapshot marker, sequence, txId and LSN are formatted.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/event/change_event.h"
#include "core/event/source_block.h"
#include "core/json/json_writer.h"

namespace cdcctl {

enum class EventFormat { kEnvelope, kRow };

struct EnvelopeEncoderConfig {
    EventFormat format = EventFormat::kEnvelope;
    bool schemas = false;
    std::string topic_prefix;                 // source.name
    const SourceBlock *source_block = nullptr;  // the connector's source struct; required
    std::string version = "cdcctl-" CDCCTL_VERSION;  // source.version
};

class EnvelopeEncoder {
public:
    explicit EnvelopeEncoder(EnvelopeEncoderConfig config);

    // Appends exactly one JSON object for `event` to `out` (no newline).
    void Encode(const ChangeEvent &event, std::string *out);

private:
    // One per-event member of the source block, after the constant text that precedes it.
    struct SourcePart {
        std::string text;
        SourceFieldFrom from;
        uint8_t value = 0;
    };
    // Everything about one table that does not change from event to event, pre-rendered.
    struct CachedSchema {
        TableSchemaPtr table;  // keeps the key's address from being reused while cached
        std::string json;      // the schema (schemas=true only)
        std::vector<std::string> keys;  // per column: ,"<escaped name>":
        // The source block: constant text (keys, names) before each per-event part.
        std::vector<SourcePart> source_parts;
        std::string source_end;  // the text after the last per-event part
        std::string row_table;   // ,"__table":"<schema>.<table>" and the position key
    };

    CachedSchema &EntryFor(const TableSchemaPtr &table);
    void AppendRowMembers(std::string *out, const CachedSchema &entry, const TableSchema &table,
                          const Row &row);
    void AppendEnvelope(std::string *out, const CachedSchema &entry, const ChangeEvent &event);
    void AppendRowFormat(std::string *out, const CachedSchema &entry, const ChangeEvent &event);
    void AppendSource(std::string *out, const CachedSchema &entry, const ChangeEvent &event);

    EnvelopeEncoderConfig config_;
    std::string source_schema_;    // the source struct's JsonConverter schema
    std::string row_meta_schema_;  // the row format's metadata fields' schemas
    std::unordered_map<const TableSchema *, CachedSchema> cache_;
    std::unordered_map<std::string, const TableSchema *> cache_by_topic_;
    // The entry of the last event's table: consecutive events mostly share a table.
    const TableSchema *last_table_ = nullptr;
    CachedSchema *last_entry_ = nullptr;
    // The last source block and envelope tail rendered, with what they were rendered from: in a
    // snapshot every event but the first and last has the same source block, and events read in
    // the same millisecond have the same tail.
    struct SourceMemo {
        const TableSchema *table = nullptr;  // reset whenever a cache entry is dropped
        SourceInfo source;
        std::string text;
    } source_memo_;
    struct TailMemo {
        bool valid = false;
        Op op = Op::kCreate;
        int64_t ts_ms = 0;
        std::string text;
    } tail_memo_;
    std::string truncate_schema_;
};

// Writes `row` as a JSON object with one member per column, in schema order.
void WriteRowObject(json::JsonWriter &w, const TableSchema &table, const Row &row);
// Writes one value the way JsonConverter writes it for `schema`.
void WriteFieldValue(json::JsonWriter &w, const FieldSchema &schema, const Value &value);
// Appends the JsonConverter schema of one field; `field_name` non-empty adds "field":name.
void AppendFieldSchemaJson(std::string *out, const FieldSchema &schema, std::string_view field_name);

}  // namespace cdcctl
