#include "core/json/envelope_encoder.h"

#include <charconv>
#include <cstring>

#include "core/error.h"

namespace cdcctl {

using namespace std::string_view_literals;

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
    out->append(R"({"type":"struct","fields":[)"sv);
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
        out->append(R"(,"field":)"sv);
        json::AppendString(out, field_name);
    }
    out->push_back('}');
}

void AppendEnvelopeSchema(std::string *out, const TableSchema &table) {
    out->append(R"({"type":"struct","fields":[)"sv);
    AppendValueSchema(out, table, true, "before", false);
    out->push_back(',');
    AppendValueSchema(out, table, true, "after", false);
    out->push_back(',');
    out->append(kSourceSchema);
    out->push_back(',');
    out->append(kTransactionSchema);
    out->push_back(',');
    out->append(kEnvelopeTailSchema);
    out->append(R"(],"optional":false,"name":)"sv);
    json::AppendString(out, table.topic + ".Envelope");
    out->append(R"(,"version":2})"sv);
}

// A row-format truncate has no columns, only the metadata fields.
void AppendTruncateRowSchema(std::string *out, const TableSchema &table) {
    out->append(R"({"type":"struct","fields":[)"sv);
    out->append(kRowMetaSchema);
    out->append(R"(],"optional":false,"name":)"sv);
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

// Debezium's sequence: a JSON array of two decimal LSN strings, itself sent as a string. Written
// already escaped: ["1","2"] becomes "[\"1\",\"2\"]".
void AppendSequence(std::string *out, uint64_t last_commit_lsn, uint64_t lsn) {
    char buf[80];
    char *p = buf;
    *p++ = '"';
    *p++ = '[';
    auto put = [&p](uint64_t v) {
        if (v == 0) {
            std::memcpy(p, "null", 4);
            p += 4;
            return;
        }
        char digits[20];  // UINT64_MAX has 20
        auto n = static_cast<size_t>(std::to_chars(digits, digits + sizeof(digits), v).ptr - digits);
        std::memcpy(p, "\\\"", 2);
        std::memcpy(p + 2, digits, n);
        std::memcpy(p + 2 + n, "\\\"", 2);
        p += n + 4;
    };
    put(last_commit_lsn);
    *p++ = ',';
    put(lsn);
    *p++ = ']';
    *p++ = '"';
    out->append(buf, static_cast<size_t>(p - buf));
}

// ts_us / ts_ns derived from milliseconds; null (they are optional) where int64 cannot hold them,
// which for nanoseconds is after the year 2262.
void AppendScaledTime(std::string *out, int64_t ts_ms, int64_t factor) {
    int64_t scaled;
    if (__builtin_mul_overflow(ts_ms, factor, &scaled)) out->append("null", 4);
    else json::AppendInt(out, scaled);
}

void AppendOptionalLsn(std::string *out, uint64_t lsn) {
    if (lsn == 0) out->append("null", 4);
    else json::AppendUint(out, lsn);
}

// One value written where a JsonWriter would write it right after a key (no separator): scalars
// directly, arrays, structs and TOAST placeholders through WriteFieldValue with a fresh writer,
// which also writes no separator before its first value.
inline void AppendValue(std::string *out, const FieldSchema &schema, const Value &value) {
    switch (value.kind()) {
        case Value::Kind::kNull: out->append("null", 4); return;
        case Value::Kind::kBool:
            if (value.as_bool()) out->append("true", 4);
            else out->append("false", 5);
            return;
        case Value::Kind::kInt: json::AppendInt(out, value.as_int()); return;
        case Value::Kind::kDouble:
            if (schema.type == FieldType::kFloat32) json::AppendFloat(out, static_cast<float>(value.as_double()));
            else json::AppendDouble(out, value.as_double());
            return;
        case Value::Kind::kString: json::AppendString(out, value.as_string()); return;
        case Value::Kind::kBytes: json::AppendBase64(out, value.as_string()); return;
        default: {
            json::JsonWriter w(out);
            WriteFieldValue(w, schema, value);
            return;
        }
    }
}

// A one-character JSON string for the op code.
void AppendOp(std::string *out, Op op) {
    char c = static_cast<char>(op);
    json::AppendString(out, std::string_view(&c, 1));
}

}  // namespace

void AppendFieldSchemaJson(std::string *out, const FieldSchema &schema, std::string_view field_name) {
    // Member order is JsonConverter's: type, fields/items, optional, name, version, doc,
    // parameters, field.
    out->append(R"({"type":)"sv);
    json::AppendString(out, FieldTypeName(schema.type));
    if (schema.type == FieldType::kStruct) {
        out->append(R"(,"fields":[)"sv);
        for (size_t i = 0; i < schema.fields.size(); ++i) {
            if (i > 0) out->push_back(',');
            AppendFieldSchemaJson(out, schema.fields[i], schema.fields[i].name);
        }
        out->push_back(']');
    } else if (schema.type == FieldType::kArray && !schema.fields.empty()) {
        out->append(R"(,"items":)"sv);
        AppendFieldSchemaJson(out, schema.fields[0], {});
    }
    out->append(schema.optional ? R"(,"optional":true)" : R"(,"optional":false)");
    if (!schema.semantic.empty()) {
        out->append(R"(,"name":)"sv);
        json::AppendString(out, schema.semantic);
    }
    if (schema.version != 0) {
        out->append(R"(,"version":)"sv);
        json::AppendInt(out, schema.version);
    }
    // FieldSchema has no doc; VariableScaleDecimal is the one Debezium schema that carries one.
    if (schema.semantic == semantic::kVariableScaleDecimal) out->append(R"(,"doc":"Variable scaled decimal")"sv);
    if (!schema.parameters.empty()) {
        out->append(R"(,"parameters":{)"sv);
        for (size_t i = 0; i < schema.parameters.size(); ++i) {
            if (i > 0) out->push_back(',');
            json::AppendString(out, schema.parameters[i].first);
            out->push_back(':');
            json::AppendString(out, schema.parameters[i].second);
        }
        out->push_back('}');
    }
    if (!field_name.empty()) {
        out->append(R"(,"field":)"sv);
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

EnvelopeEncoder::EnvelopeEncoder(EnvelopeEncoderConfig config) : config_(std::move(config)) {
    source_head_ = R"(,"source":{"version":)";
    json::AppendString(&source_head_, config_.version);
    source_head_ += R"(,"connector":)";
    json::AppendString(&source_head_, config_.connector);
    source_head_ += R"(,"name":)";
    json::AppendString(&source_head_, config_.topic_prefix);
    source_head_ += R"(,"ts_ms":)";
}

EnvelopeEncoder::CachedSchema &EnvelopeEncoder::EntryFor(const TableSchemaPtr &table) {
    if (table.get() == last_table_) return *last_entry_;
    auto it = cache_.find(table.get());
    if (it == cache_.end()) {
        last_table_ = nullptr;
        last_entry_ = nullptr;
        // A new TableSchema for a topic replaces the one cached before, so the cache holds one
        // entry per table however often its columns change.
        auto [topic_it, inserted] = cache_by_topic_.try_emplace(table->topic, table.get());
        if (!inserted) {
            if (source_memo_.table == topic_it->second) source_memo_.table = nullptr;
            cache_.erase(topic_it->second);
            topic_it->second = table.get();
        }
        CachedSchema entry;
        entry.table = table;
        if (config_.schemas) {
            if (config_.format == EventFormat::kEnvelope) AppendEnvelopeSchema(&entry.json, *table);
            else AppendValueSchema(&entry.json, *table, false, {}, true);
        }
        entry.keys.reserve(table->columns.size());
        for (const FieldSchema &column : table->columns) {
            std::string key = ",";
            json::AppendString(&key, column.name);
            key.push_back(':');
            entry.keys.push_back(std::move(key));
        }
        entry.source_db = R"(,"db":)";
        json::AppendString(&entry.source_db, table->database);
        entry.source_db += R"(,"sequence":)";
        entry.source_table = R"(,"schema":)";
        json::AppendString(&entry.source_table, table->schema);
        entry.source_table += R"(,"table":)";
        json::AppendString(&entry.source_table, table->table);
        entry.source_table += R"(,"txId":)";
        entry.row_table = R"(,"__table":")";
        json::AppendEscaped(&entry.row_table, table->schema);
        json::AppendEscaped(&entry.row_table, ".");
        json::AppendEscaped(&entry.row_table, table->table);
        entry.row_table += R"(","__lsn":)";
        it = cache_.emplace(table.get(), std::move(entry)).first;
    }
    last_table_ = table.get();
    last_entry_ = &it->second;
    return it->second;
}

void EnvelopeEncoder::Encode(const ChangeEvent &event, std::string *out) {
    if (event.table == nullptr) throw Error("encoder", "a change event reached the encoder without a table schema");
    const CachedSchema &entry = EntryFor(event.table);
    if (!config_.schemas) {
        if (config_.format == EventFormat::kEnvelope) AppendEnvelope(out, entry, event);
        else AppendRowFormat(out, entry, event);
        return;
    }
    out->append(R"({"schema":)"sv);
    if (config_.format == EventFormat::kRow && event.op == Op::kTruncate) {
        // Truncates are rare: render their metadata-only schema each time.
        truncate_schema_.clear();
        AppendTruncateRowSchema(&truncate_schema_, *event.table);
        out->append(truncate_schema_);
    } else {
        out->append(entry.json);
    }
    out->append(R"(,"payload":)"sv);
    if (config_.format == EventFormat::kEnvelope) AppendEnvelope(out, entry, event);
    else AppendRowFormat(out, entry, event);
    out->push_back('}');
}

// The column members of a row object, each after its pre-rendered key; the caller opens and
// closes the object. A short row (a source bug) reads as nulls instead of out of bounds.
void EnvelopeEncoder::AppendRowMembers(std::string *out, const CachedSchema &entry, const TableSchema &table,
                                       const Row &row) {
    size_t n = table.columns.size();
    for (size_t i = 0; i < n; ++i) {
        const std::string &key = entry.keys[i];
        if (i == 0) out->append(key.data() + 1, key.size() - 1);
        else out->append(key);
        if (i < row.size()) AppendValue(out, table.columns[i], row[i]);
        else out->append("null", 4);
    }
}

void EnvelopeEncoder::AppendEnvelope(std::string *out, const CachedSchema &entry, const ChangeEvent &event) {
    const TableSchema &table = *event.table;
    bool rows = event.op != Op::kTruncate;
    auto append_row = [&](bool present, const Row &row) {
        if (!rows || !present) {
            out->append("null", 4);
            return;
        }
        out->push_back('{');
        AppendRowMembers(out, entry, table, row);
        out->push_back('}');
    };
    out->append(R"({"before":)"sv);
    append_row(event.has_before, event.before);
    out->append(R"(,"after":)"sv);
    append_row(event.has_after, event.after);
    AppendSource(out, entry, event);
    TailMemo &m = tail_memo_;
    if (!m.valid || m.op != event.op || m.ts_ms != event.ts_ms) {
        m.valid = false;
        m.text.clear();
        m.text += R"(,"transaction":null,"op":)"sv;
        AppendOp(&m.text, event.op);
        m.text += R"(,"ts_ms":)"sv;
        json::AppendInt(&m.text, event.ts_ms);
        m.text += R"(,"ts_us":)"sv;
        AppendScaledTime(&m.text, event.ts_ms, 1000);
        m.text += R"(,"ts_ns":)"sv;
        AppendScaledTime(&m.text, event.ts_ms, 1000000);
        m.text += '}';
        m.op = event.op;
        m.ts_ms = event.ts_ms;
        m.valid = true;
    }
    out->append(m.text);
}

void EnvelopeEncoder::AppendSource(std::string *out, const CachedSchema &entry, const ChangeEvent &event) {
    const SourceInfo &s = event.source;
    SourceMemo &m = source_memo_;
    if (m.table == event.table.get() && m.source.ts_ms == s.ts_ms && m.source.snapshot == s.snapshot &&
        m.source.tx_id == s.tx_id && m.source.lsn == s.lsn && m.source.last_commit_lsn == s.last_commit_lsn) {
        out->append(m.text);
        return;
    }
    m.table = nullptr;
    std::string &t = m.text;
    t.clear();
    t += source_head_;  // ,"source":{"version":..,"connector":..,"name":..,"ts_ms":
    json::AppendInt(&t, s.ts_ms);
    t += R"(,"snapshot":)"sv;
    json::AppendString(&t, SnapshotMarkerName(s.snapshot));
    t += entry.source_db;  // ,"db":..,"sequence":
    if (s.lsn == 0) t += "null"sv;
    else AppendSequence(&t, s.last_commit_lsn, s.lsn);
    t += R"(,"ts_us":)"sv;
    AppendScaledTime(&t, s.ts_ms, 1000);
    t += R"(,"ts_ns":)"sv;
    AppendScaledTime(&t, s.ts_ms, 1000000);
    t += entry.source_table;  // ,"schema":..,"table":..,"txId":
    if (s.tx_id < 0) t += "null"sv;
    else json::AppendInt(&t, s.tx_id);
    t += R"(,"lsn":)"sv;
    AppendOptionalLsn(&t, s.lsn);
    t += R"(,"xmin":null})"sv;
    m.source = s;
    m.table = event.table.get();
    out->append(t);
}

void EnvelopeEncoder::AppendRowFormat(std::string *out, const CachedSchema &entry, const ChangeEvent &event) {
    const TableSchema &table = *event.table;
    const Row *row = nullptr;
    if (event.op == Op::kDelete) {
        if (event.has_before) row = &event.before;
    } else if (event.op != Op::kTruncate && event.has_after) {
        row = &event.after;
    }
    out->push_back('{');
    bool members = false;
    if (row != nullptr) {
        AppendRowMembers(out, entry, table, *row);
        members = !table.columns.empty();
    } else if (event.op != Op::kTruncate) {
        // A delete without a before image still names every column of the schema (as nulls).
        static const Row kNoRow;
        AppendRowMembers(out, entry, table, kNoRow);
        members = !table.columns.empty();
    }
    std::string_view op_key = R"(,"__op":)";
    if (!members) op_key.remove_prefix(1);
    out->append(op_key);
    AppendOp(out, event.op);
    out->append(entry.row_table);  // ,"__table":"<schema>.<table>","__lsn":
    AppendOptionalLsn(out, event.source.lsn);
    out->append(R"(,"__ts_ms":)"sv);
    json::AppendInt(out, event.ts_ms);
    out->push_back('}');
}

}  // namespace cdcctl
