#include "core/json/envelope_encoder.h"

#include <charconv>
#include <cstring>

#include "core/error.h"

namespace cdcctl {

using namespace std::string_view_literals;

namespace {

constexpr std::string_view kUnavailable = "__debezium_unavailable_value";

// Debezium's snapshot marker: an io.debezium.data.Enum with its allowed values and default.
constexpr std::string_view kSnapshotFieldSchema =
    R"({"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,)"
    R"("parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},)"
    R"("default":"false","field":"snapshot"})";

// The connector's source struct, as JsonConverter renders it.
std::string SourceSchemaJson(const SourceBlock &block) {
    std::string out = R"({"type":"struct","fields":[)";
    for (size_t i = 0; i < block.fields.size(); ++i) {
        const SourceField &f = block.fields[i];
        if (i > 0) out.push_back(',');
        if (f.from == SourceFieldFrom::kSnapshot) {
            out.append(kSnapshotFieldSchema);
            continue;
        }
        out.append(R"({"type":)");
        json::AppendString(&out, FieldTypeName(f.type));
        out.append(f.optional ? R"(,"optional":true,"field":)" : R"(,"optional":false,"field":)");
        json::AppendString(&out, f.name);
        out.push_back('}');
    }
    out.append(R"(],"optional":false,"name":)");
    json::AppendString(&out, block.schema_name);
    out.append(R"(,"field":"source"})");
    return out;
}

// The row format's metadata fields: __op, __table, the connector's position, __ts_ms.
std::string RowMetaSchemaJson(const SourceBlock &block) {
    std::string out = R"({"type":"string","optional":true,"field":"__op"},)"
                      R"({"type":"string","optional":true,"field":"__table"},)";
    if (!block.row_position_field.empty()) {
        FieldType type = FieldType::kString;
        for (const SourceField &f : block.fields) {
            if (f.from == SourceFieldFrom::kValue && f.value == block.row_position_value) type = f.type;
        }
        out.append(R"({"type":)");
        json::AppendString(&out, FieldTypeName(type));
        out.append(R"(,"optional":true,"field":)");
        json::AppendString(&out, block.row_position_field);
        out.append("},");
    }
    out.append(R"({"type":"int64","optional":true,"field":"__ts_ms"})");
    return out;
}

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

// The "<topic>.Value" struct of a table's columns.
void AppendValueSchema(std::string *out, const TableSchema &table, bool optional, std::string_view field_name,
                       std::string_view row_meta) {
    out->append(R"({"type":"struct","fields":[)"sv);
    for (size_t i = 0; i < table.columns.size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendFieldSchemaJson(out, table.columns[i], table.columns[i].name);
    }
    if (!row_meta.empty()) {
        if (!table.columns.empty()) out->push_back(',');
        out->append(row_meta);
    }
    out->append(optional ? R"(],"optional":true,"name":)" : R"(],"optional":false,"name":)");
    json::AppendString(out, table.topic + ".Value");
    if (!field_name.empty()) {
        out->append(R"(,"field":)"sv);
        json::AppendString(out, field_name);
    }
    out->push_back('}');
}

void AppendEnvelopeSchema(std::string *out, const TableSchema &table, std::string_view source_schema) {
    out->append(R"({"type":"struct","fields":[)"sv);
    AppendValueSchema(out, table, true, "before", {});
    out->push_back(',');
    AppendValueSchema(out, table, true, "after", {});
    out->push_back(',');
    out->append(source_schema);
    out->push_back(',');
    out->append(kTransactionSchema);
    out->push_back(',');
    out->append(kEnvelopeTailSchema);
    out->append(R"(],"optional":false,"name":)"sv);
    json::AppendString(out, table.topic + ".Envelope");
    out->append(R"(,"version":2})"sv);
}

// A row-format truncate has no columns, only the metadata fields.
void AppendTruncateRowSchema(std::string *out, const TableSchema &table, std::string_view row_meta) {
    out->append(R"({"type":"struct","fields":[)"sv);
    out->append(row_meta);
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

// ts_us / ts_ns derived from milliseconds; null (they are optional) where int64 cannot hold them,
// which for nanoseconds is after the year 2262.
void AppendScaledTime(std::string *out, int64_t ts_ms, int64_t factor) {
    int64_t scaled;
    if (__builtin_mul_overflow(ts_ms, factor, &scaled)) out->append("null", 4);
    else json::AppendInt(out, scaled);
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
    if (config_.source_block == nullptr) throw Error("encoder", "the envelope encoder needs the source's SourceBlock");
    source_schema_ = SourceSchemaJson(*config_.source_block);
    row_meta_schema_ = RowMetaSchemaJson(*config_.source_block);
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
            if (config_.format == EventFormat::kEnvelope) AppendEnvelopeSchema(&entry.json, *table, source_schema_);
            else AppendValueSchema(&entry.json, *table, false, {}, row_meta_schema_);
        }
        entry.keys.reserve(table->columns.size());
        for (const FieldSchema &column : table->columns) {
            std::string key = ",";
            json::AppendString(&key, column.name);
            key.push_back(':');
            entry.keys.push_back(std::move(key));
        }
        // The source block: constant members are rendered into the text before the next
        // per-event member.
        const SourceBlock &block = *config_.source_block;
        std::string text = R"(,"source":{)";
        for (size_t i = 0; i < block.fields.size(); ++i) {
            const SourceField &f = block.fields[i];
            if (i > 0) text.push_back(',');
            json::AppendString(&text, f.name);
            text.push_back(':');
            switch (f.from) {
                case SourceFieldFrom::kVersion: json::AppendString(&text, config_.version); break;
                case SourceFieldFrom::kConnector: json::AppendString(&text, block.connector); break;
                case SourceFieldFrom::kName: json::AppendString(&text, config_.topic_prefix); break;
                case SourceFieldFrom::kDatabase: json::AppendString(&text, table->database); break;
                case SourceFieldFrom::kSchema: json::AppendString(&text, table->schema); break;
                case SourceFieldFrom::kTable: json::AppendString(&text, table->table); break;
                case SourceFieldFrom::kNull: text += "null"sv; break;
                default:
                    entry.source_parts.push_back({std::move(text), f.from, f.value});
                    text.clear();
                    break;
            }
        }
        text.push_back('}');
        entry.source_end = std::move(text);
        entry.row_table = R"(,"__table":")";
        json::AppendEscaped(&entry.row_table, table->schema);
        json::AppendEscaped(&entry.row_table, ".");
        json::AppendEscaped(&entry.row_table, table->table);
        entry.row_table.push_back('"');
        if (!block.row_position_field.empty()) {
            entry.row_table.push_back(',');
            json::AppendString(&entry.row_table, block.row_position_field);
            entry.row_table.push_back(':');
        }
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
        AppendTruncateRowSchema(&truncate_schema_, *event.table, row_meta_schema_);
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
    if (m.table == event.table.get() && m.source == s) {
        out->append(m.text);
        return;
    }
    m.table = nullptr;
    std::string &t = m.text;
    t.clear();
    for (const SourcePart &part : entry.source_parts) {
        t += part.text;
        switch (part.from) {
            case SourceFieldFrom::kTsMs: json::AppendInt(&t, s.ts_ms); break;
            case SourceFieldFrom::kTsUs: AppendScaledTime(&t, s.ts_ms, 1000); break;
            case SourceFieldFrom::kTsNs: AppendScaledTime(&t, s.ts_ms, 1000000); break;
            case SourceFieldFrom::kSnapshot: json::AppendString(&t, SnapshotMarkerName(s.snapshot)); break;
            case SourceFieldFrom::kSequence:
                if (s.sequence.empty()) t += "null"sv;
                else json::AppendString(&t, s.sequence);
                break;
            case SourceFieldFrom::kValue:
                if (part.value < s.values.size()) AppendValue(&t, FieldSchema{}, s.values[part.value]);
                else t += "null"sv;
                break;
            default: t += "null"sv; break;
        }
    }
    t += entry.source_end;
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
    const SourceBlock &block = *config_.source_block;
    if (!block.row_position_field.empty()) {
        const auto &values = event.source.values;
        if (block.row_position_value < values.size()) AppendValue(out, FieldSchema{}, values[block.row_position_value]);
        else out->append("null", 4);
    }
    out->append(R"(,"__ts_ms":)"sv);
    json::AppendInt(out, event.ts_ms);
    out->push_back('}');
}

}  // namespace cdcctl
