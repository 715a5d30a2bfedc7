#include "core/json/envelope_encoder.h"

#include <charconv>

#include "core/error.h"

namespace cdcctl {

namespace {

constexpr std::string_view kUnavailable = "__debezium_unavailable_value";

// io.debezium.connector.postgresql.Source, as JsonConverter renders it.
constexpr std::string_view kSourceSchema =
    R"({"type":"struct","fields":[)"
    R"({"type":"string","optional":false,"field":"version"},)"
    R"({"type":"string","optional":false,"field":"connector"},)"
    R"({"type":"string","optional":false,"field":"name"},)"
    R"({"type":"int64","optional":false,"field":"ts_ms"},)"
    R"({"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,)"
    R"("parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},)"
    R"("default":"false","field":"snapshot"},)"
    R"({"type":"string","optional":false,"field":"db"},)"
    R"({"type":"string","optional":true,"field":"sequence"},)"
    R"({"type":"int64","optional":true,"field":"ts_us"},)"
    R"({"type":"int64","optional":true,"field":"ts_ns"},)"
    R"({"type":"string","optional":false,"field":"schema"},)"
    R"({"type":"string","optional":false,"field":"table"},)"
    R"({"type":"int64","optional":true,"field":"txId"},)"
    R"({"type":"int64","optional":true,"field":"lsn"},)"
    R"({"type":"int64","optional":true,"field":"xmin"}],)"
    R"("optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"})";

constexpr std::string_view kTransactionSchema =
    R"({"type":"struct","fields":[)"
    R"({"type":"string","optional":false,"field":"id"},)"
    R"({"type":"int64","optional":false,"field":"total_order"},)"
    R"({"type":"int64","optional":false,"field":"data_collection_order"}],)"
    R"("optional":true,"name":"event.block","version":1,"field":"transaction"})";

constexpr std::string_view kEnvelopeTailSchema =
    R"({"type":"string","optional":false,"field":"op"},)"
    R"({"type":"int64","optional":true,"field":"ts_ms"},)"
    R"({"type":"int64","optional":true,"field":"ts_us"},)"
    R"({"type":"int64","optional":true,"field":"ts_ns"})";

constexpr std::string_view kRowMetaSchema =
    R"({"type":"string","optional":true,"field":"__op"},)"
    R"({"type":"string","optional":true,"field":"__table"},)"
    R"({"type":"int64","optional":true,"field":"__lsn"},)"
    R"({"type":"int64","optional":true,"field":"__ts_ms"})";

// The "<topic>.Value" struct of a table's columns.
void AppendValueSchema(std::string *out, const TableSchema &table, bool optional, std::string_view field_name,
                       bool with_row_meta) {
    out->append(R"({"type":"struct","fields":[)");
    for (size_t i = 0; i < table.columns.size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendFieldSchemaJson(out, table.columns[i], table.columns[i].name);
    }
    if (with_row_meta) {
        if (!table.columns.empty()) out->push_back(',');
        out->append(kRowMetaSchema);
    }
    out->append(optional ? R"(],"optional":true,"name":)" : R"(],"optional":false,"name":)");
    json::AppendString(out, table.topic + ".Value");
    if (!field_name.empty()) {
        out->append(R"(,"field":)");
        json::AppendString(out, field_name);
    }
    out->push_back('}');
}

void AppendEnvelopeSchema(std::string *out, const TableSchema &table) {
    out->append(R"({"type":"struct","fields":[)");
    AppendValueSchema(out, table, true, "before", false);
    out->push_back(',');
    AppendValueSchema(out, table, true, "after", false);
    out->push_back(',');
    out->append(kSourceSchema);
    out->push_back(',');
    out->append(kTransactionSchema);
    out->push_back(',');
    out->append(kEnvelopeTailSchema);
    out->append(R"(],"optional":false,"name":)");
    json::AppendString(out, table.topic + ".Envelope");
    out->append(R"(,"version":2})");
}

// A row-format truncate has no columns, only the metadata fields.
void AppendTruncateRowSchema(std::string *out, const TableSchema &table) {
    out->append(R"({"type":"struct","fields":[)");
    out->append(kRowMetaSchema);
    out->append(R"(],"optional":false,"name":)");
    json::AppendString(out, table.topic + ".Value");
    out->push_back('}');
}

void WriteUnavailable(json::JsonWriter &w, const FieldSchema &schema) {
    if (schema.type == FieldType::kBytes) w.Base64(kUnavailable);
    else w.String(kUnavailable);
}

void WriteArrayItems(json::JsonWriter &w, const FieldSchema &item_schema, const std::vector<Value> &items) {
    w.BeginArray();
    for (const Value &item : items) {
        // A multi-dimensional PostgreSQL array nests arrays of the same item type.
        if (item.kind() == Value::Kind::kArray) WriteArrayItems(w, item_schema, item.items());
        else WriteFieldValue(w, item_schema, item);
    }
    w.EndArray();
}

// Debezium's sequence: a JSON array of two decimal LSN strings, itself sent as a string.
void WriteSequence(json::JsonWriter &w, uint64_t last_commit_lsn, uint64_t lsn) {
    char buf[64];
    char *p = buf;
    *p++ = '[';
    auto put = [&p, &buf](uint64_t v) {
        if (v == 0) {
            for (char c : std::string_view("null")) *p++ = c;
            return;
        }
        *p++ = '"';
        p = std::to_chars(p, buf + sizeof(buf), v).ptr;
        *p++ = '"';
    };
    put(last_commit_lsn);
    *p++ = ',';
    put(lsn);
    *p++ = ']';
    w.String(std::string_view(buf, p - buf));
}

// ts_us / ts_ns derived from milliseconds; null (they are optional) where int64 cannot hold them,
// which for nanoseconds is after the year 2262.
void WriteScaledTime(json::JsonWriter &w, int64_t ts_ms, int64_t factor) {
    int64_t scaled;
    if (__builtin_mul_overflow(ts_ms, factor, &scaled)) w.Null();
    else w.Int(scaled);
}

void WriteOptionalLsn(json::JsonWriter &w, uint64_t lsn) {
    if (lsn == 0) w.Null();
    else w.Uint(lsn);
}

}  // namespace

void AppendFieldSchemaJson(std::string *out, const FieldSchema &schema, std::string_view field_name) {
    // Member order is JsonConverter's: type, fields/items, optional, name, version, doc,
    // parameters, field.
    out->append(R"({"type":)");
    json::AppendString(out, FieldTypeName(schema.type));
    if (schema.type == FieldType::kStruct) {
        out->append(R"(,"fields":[)");
        for (size_t i = 0; i < schema.fields.size(); ++i) {
            if (i > 0) out->push_back(',');
            AppendFieldSchemaJson(out, schema.fields[i], schema.fields[i].name);
        }
        out->push_back(']');
    } else if (schema.type == FieldType::kArray && !schema.fields.empty()) {
        out->append(R"(,"items":)");
        AppendFieldSchemaJson(out, schema.fields[0], {});
    }
    out->append(schema.optional ? R"(,"optional":true)" : R"(,"optional":false)");
    if (!schema.semantic.empty()) {
        out->append(R"(,"name":)");
        json::AppendString(out, schema.semantic);
    }
    if (schema.version != 0) {
        out->append(R"(,"version":)");
        json::AppendInt(out, schema.version);
    }
    // FieldSchema has no doc; VariableScaleDecimal is the one Debezium schema that carries one.
    if (schema.semantic == semantic::kVariableScaleDecimal) out->append(R"(,"doc":"Variable scaled decimal")");
    if (!schema.parameters.empty()) {
        out->append(R"(,"parameters":{)");
        for (size_t i = 0; i < schema.parameters.size(); ++i) {
            if (i > 0) out->push_back(',');
            json::AppendString(out, schema.parameters[i].first);
            out->push_back(':');
            json::AppendString(out, schema.parameters[i].second);
        }
        out->push_back('}');
    }
    if (!field_name.empty()) {
        out->append(R"(,"field":)");
        json::AppendString(out, field_name);
    }
    out->push_back('}');
}

void WriteFieldValue(json::JsonWriter &w, const FieldSchema &schema, const Value &value) {
    switch (value.kind()) {
        case Value::Kind::kNull: w.Null(); return;
        case Value::Kind::kUnavailable:
            if (schema.type == FieldType::kArray && !schema.fields.empty()) {
                // Debezium's placeholder for an unchanged array is a one-item list.
                w.BeginArray();
                WriteUnavailable(w, schema.fields[0]);
                w.EndArray();
            } else {
                WriteUnavailable(w, schema);
            }
            return;
        case Value::Kind::kBool: w.Bool(value.as_bool()); return;
        case Value::Kind::kInt: w.Int(value.as_int()); return;
        case Value::Kind::kDouble:
            if (schema.type == FieldType::kFloat32) w.Float(static_cast<float>(value.as_double()));
            else w.Double(value.as_double());
            return;
        case Value::Kind::kString: w.String(value.as_string()); return;
        case Value::Kind::kBytes: w.Base64(value.as_string()); return;
        case Value::Kind::kArray: {
            const FieldSchema &item_schema =
                schema.type == FieldType::kArray && !schema.fields.empty() ? schema.fields[0] : schema;
            WriteArrayItems(w, item_schema, value.items());
            return;
        }
        case Value::Kind::kStruct: {
            w.BeginObject();
            const auto &items = value.items();
            for (size_t i = 0; i < items.size(); ++i) {
                // A struct value longer than its schema is a caller bug; name the extra members
                // rather than read past the schema.
                if (i < schema.fields.size()) {
                    w.Key(schema.fields[i].name);
                    WriteFieldValue(w, schema.fields[i], items[i]);
                } else {
                    char key[32] = "field";
                    auto r = std::to_chars(key + 5, key + sizeof(key), i);
                    w.Key(std::string_view(key, r.ptr - key));
                    WriteFieldValue(w, FieldSchema{}, items[i]);
                }
            }
            w.EndObject();
            return;
        }
    }
}

namespace {

// The column members of a row object; the caller opens and closes the object.
void WriteRowMembers(json::JsonWriter &w, const TableSchema &table, const Row &row) {
    for (size_t i = 0; i < table.columns.size(); ++i) {
        w.Key(table.columns[i].name);
        // A short row (a source bug) reads as nulls instead of out of bounds.
        if (i < row.size()) WriteFieldValue(w, table.columns[i], row[i]);
        else w.Null();
    }
}

}  // namespace

void WriteRowObject(json::JsonWriter &w, const TableSchema &table, const Row &row) {
    w.BeginObject();
    WriteRowMembers(w, table, row);
    w.EndObject();
}

EnvelopeEncoder::EnvelopeEncoder(EnvelopeEncoderConfig config) : config_(std::move(config)) {}

const std::string &EnvelopeEncoder::SchemaFor(const TableSchemaPtr &table) {
    auto it = cache_.find(table.get());
    if (it != cache_.end()) return it->second.json;
    // A new TableSchema for a topic replaces the one cached before, so the cache holds one
    // entry per table however often its columns change.
    auto [topic_it, inserted] = cache_by_topic_.try_emplace(table->topic, table.get());
    if (!inserted) {
        cache_.erase(topic_it->second);
        topic_it->second = table.get();
    }
    CachedSchema entry;
    entry.table = table;
    if (config_.format == EventFormat::kEnvelope) AppendEnvelopeSchema(&entry.json, *table);
    else AppendValueSchema(&entry.json, *table, false, {}, true);
    return cache_.emplace(table.get(), std::move(entry)).first->second.json;
}

void EnvelopeEncoder::Encode(const ChangeEvent &event, std::string *out) {
    if (event.table == nullptr) throw Error("encoder", "a change event reached the encoder without a table schema");
    json::JsonWriter w(out);
    if (!config_.schemas) {
        if (config_.format == EventFormat::kEnvelope) WriteEnvelope(w, event);
        else WriteRowFormat(w, event);
        return;
    }
    w.BeginObject();
    w.Key("schema");
    if (config_.format == EventFormat::kRow && event.op == Op::kTruncate) {
        // Truncates are rare: render their metadata-only schema each time.
        truncate_schema_.clear();
        AppendTruncateRowSchema(&truncate_schema_, *event.table);
        w.Raw(truncate_schema_);
    } else {
        w.Raw(SchemaFor(event.table));
    }
    w.Key("payload");
    if (config_.format == EventFormat::kEnvelope) WriteEnvelope(w, event);
    else WriteRowFormat(w, event);
    w.EndObject();
}

void EnvelopeEncoder::WriteEnvelope(json::JsonWriter &w, const ChangeEvent &event) {
    const TableSchema &table = *event.table;
    bool rows = event.op != Op::kTruncate;
    w.BeginObject();
    w.Key("before");
    if (rows && event.has_before) WriteRowObject(w, table, event.before);
    else w.Null();
    w.Key("after");
    if (rows && event.has_after) WriteRowObject(w, table, event.after);
    else w.Null();
    w.Key("source");
    WriteSource(w, event);
    w.Key("transaction");
    w.Null();
    w.Key("op");
    char op = static_cast<char>(event.op);
    w.String(std::string_view(&op, 1));
    w.Key("ts_ms");
    w.Int(event.ts_ms);
    w.Key("ts_us");
    WriteScaledTime(w, event.ts_ms, 1000);
    w.Key("ts_ns");
    WriteScaledTime(w, event.ts_ms, 1000000);
    w.EndObject();
}

void EnvelopeEncoder::WriteSource(json::JsonWriter &w, const ChangeEvent &event) {
    const TableSchema &table = *event.table;
    const SourceInfo &s = event.source;
    w.BeginObject();
    w.Key("version");
    w.String(config_.version);
    w.Key("connector");
    w.String(config_.connector);
    w.Key("name");
    w.String(config_.topic_prefix);
    w.Key("ts_ms");
    w.Int(s.ts_ms);
    w.Key("snapshot");
    w.String(SnapshotMarkerName(s.snapshot));
    w.Key("db");
    w.String(table.database);
    w.Key("sequence");
    if (s.lsn == 0) w.Null();
    else WriteSequence(w, s.last_commit_lsn, s.lsn);
    w.Key("ts_us");
    WriteScaledTime(w, s.ts_ms, 1000);
    w.Key("ts_ns");
    WriteScaledTime(w, s.ts_ms, 1000000);
    w.Key("schema");
    w.String(table.schema);
    w.Key("table");
    w.String(table.table);
    w.Key("txId");
    if (s.tx_id < 0) w.Null();
    else w.Int(s.tx_id);
    w.Key("lsn");
    WriteOptionalLsn(w, s.lsn);
    w.Key("xmin");
    w.Null();
    w.EndObject();
}

void EnvelopeEncoder::WriteRowFormat(json::JsonWriter &w, const ChangeEvent &event) {
    const TableSchema &table = *event.table;
    const Row *row = nullptr;
    if (event.op == Op::kDelete) {
        if (event.has_before) row = &event.before;
    } else if (event.op != Op::kTruncate && event.has_after) {
        row = &event.after;
    }
    w.BeginObject();
    if (row != nullptr) {
        WriteRowMembers(w, table, *row);
    } else if (event.op != Op::kTruncate) {
        // A delete without a before image still names every column of the schema (as nulls).
        WriteRowMembers(w, table, Row{});
    }
    w.Key("__op");
    char op = static_cast<char>(event.op);
    w.String(std::string_view(&op, 1));
    w.Key("__table");
    w.JoinedString(table.schema, '.', table.table);
    w.Key("__lsn");
    WriteOptionalLsn(w, event.source.lsn);
    w.Key("__ts_ms");
    w.Int(event.ts_ms);
    w.EndObject();
}

}  // namespace cdcctl
