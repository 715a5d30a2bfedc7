#include "sinks/parquet/row_layout.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "core/error.h"
#include "core/event/decimal.h"
#include "core/event/temporal.h"
#include "core/util/int_math.h"

namespace cdcctl {

using parquet::LogicalType;
using parquet::PhysicalType;
using parquet::Repetition;
using parquet::SchemaNode;
using parquet::TimeUnit;

namespace {

constexpr std::string_view kUnavailable = "__debezium_unavailable_value";

// Debezium's ZonedTimestamp text, in UTC or with any offset, as microseconds since the epoch.
// PostgreSQL accepts timestamptz values up to the year 294276, past what int64 microseconds
// hold: they clamp, as the source does for timestamp, rather than refuse the row forever.
bool ParseZonedTimestamp(std::string_view text, int64_t *micros) {
    if (text == "infinity") {
        *micros = std::numeric_limits<int64_t>::max();
        return true;
    }
    if (text == "-infinity") {
        *micros = -std::numeric_limits<int64_t>::max();
        return true;
    }
    IsoInstant instant;
    if (!ParseIsoInstant(text, &instant)) return false;
    *micros = IsoInstantToUnits(instant, 1000000);
    return true;
}

bool ParseUuid(std::string_view text, std::string *out) {
    out->clear();
    int high = -1;
    for (char c : text) {
        if (c == '-') continue;
        int v = HexDigitValue(c);
        if (v < 0) return false;
        if (high < 0) {
            high = v;
        } else {
            out->push_back(static_cast<char>(high << 4 | v));
            high = -1;
        }
    }
    return out->size() == 16 && high < 0;
}

}  // namespace

ParquetRowLayout::ParquetRowLayout(const TableSchema &table, ParquetContent content,
                                   const SourceBlock &source_block, std::string topic_prefix)
    : table_(table),
      content_(content),
      source_block_(source_block),
      topic_prefix_(std::move(topic_prefix)) {
    root_.name = "schema";
    root_.repetition = Repetition::kRequired;
    auto leaf = [](std::string name, bool optional, PhysicalType type, LogicalType logical = {}) {
        return SchemaNode::Leaf(std::move(name),
                                optional ? Repetition::kOptional : Repetition::kRequired, type,
                                logical);
    };
    uint32_t next_leaf = 0;
    if (content_ == ParquetContent::kRow) {
        for (const FieldSchema &f : table.columns) {
            if (f.name == "_op" || f.name == "_ts_ms" || f.name == "_position" ||
                f.name == "_snapshot") {
                throw ConfigError(
                    "parquet", "table '" + table.schema + "." + table.table +
                                   "' has a column named '" + f.name +
                                   "', which the Parquet sink's row content adds as a metadata "
                                   "column; use content: envelope for this table's pipeline");
            }
            SchemaNode node;
            columns_.push_back(Plan(f, f.name, true, &node));
            Levels(columns_.back(), 0, 0, &next_leaf);
            root_.children.push_back(std::move(node));
        }
        meta_leaf_ = next_leaf;
        root_.children.push_back(
            leaf("_op", false, PhysicalType::kByteArray, LogicalType::String()));
        root_.children.push_back(leaf("_ts_ms", false, PhysicalType::kInt64));
        root_.children.push_back(
            leaf("_position", true, PhysicalType::kByteArray, LogicalType::String()));
        root_.children.push_back(
            leaf("_snapshot", false, PhysicalType::kByteArray, LogicalType::String()));
        return;
    }
    for (int which = 0; which < 2; ++which) {
        Node &group = which == 0 ? before_ : after_;
        SchemaNode schema_group;
        schema_group.name = which == 0 ? "before" : "after";
        schema_group.repetition = Repetition::kOptional;
        group.conv = Conv::kStruct;
        group.optional = true;
        group.name = schema_group.name;
        for (const FieldSchema &f : table.columns) {
            SchemaNode node;
            group.children.push_back(Plan(f, f.name, which == 0, &node));
            schema_group.children.push_back(std::move(node));
        }
        if (schema_group.children.empty()) {
            // Parquet has no empty groups; a table without columns still gets its before/after.
            schema_group = leaf(schema_group.name, true, PhysicalType::kBoolean);
            group.conv = Conv::kBool;
        }
        Levels(group, 0, 0, &next_leaf);
        root_.children.push_back(std::move(schema_group));
    }
    meta_leaf_ = next_leaf;
    const auto string = LogicalType::String();
    // The source block's fields, but those derived from ts_ms (ts_us, ts_ns) and those cdcctl
    // always leaves null.
    std::vector<SchemaNode> source_fields;
    for (const SourceField &f : source_block_.fields) {
        if (f.from == SourceFieldFrom::kTsUs || f.from == SourceFieldFrom::kTsNs ||
            f.from == SourceFieldFrom::kNull)
            continue;
        source_fields_.push_back(f);
        switch (f.type) {
            case FieldType::kInt64: source_fields.push_back(leaf(f.name, f.optional, PhysicalType::kInt64)); break;
            case FieldType::kInt32: source_fields.push_back(leaf(f.name, f.optional, PhysicalType::kInt32)); break;
            case FieldType::kBoolean: source_fields.push_back(leaf(f.name, f.optional, PhysicalType::kBoolean)); break;
            default: source_fields.push_back(leaf(f.name, f.optional, PhysicalType::kByteArray, string)); break;
        }
    }
    root_.children.push_back(SchemaNode::Group("source", Repetition::kRequired, std::move(source_fields)));
    root_.children.push_back(leaf("op", false, PhysicalType::kByteArray, string));
    root_.children.push_back(leaf("ts_ms", false, PhysicalType::kInt64));
}

ParquetRowLayout::Node ParquetRowLayout::Plan(const FieldSchema &f, const std::string &name,
                                              bool force_optional, SchemaNode *out) {
    Node n;
    n.name = name;
    PhysicalType physical = PhysicalType::kByteArray;
    LogicalType logical;
    int32_t type_length = 0;
    const std::string &sem = f.semantic;
    switch (f.type) {
        case FieldType::kBoolean:
            n.conv = Conv::kBool;
            physical = PhysicalType::kBoolean;
            break;
        case FieldType::kInt8:
        case FieldType::kInt16:
            n.conv = Conv::kInt32;
            physical = PhysicalType::kInt32;
            logical = LogicalType::Integer(f.type == FieldType::kInt8 ? 8 : 16, true);
            break;
        case FieldType::kInt32:
            n.conv = Conv::kInt32;
            physical = PhysicalType::kInt32;
            if (sem == semantic::kDate || sem == semantic::kConnectDate)
                logical = LogicalType::Date();
            else if (sem == semantic::kTime || sem == semantic::kConnectTime)
                logical = LogicalType::Time(TimeUnit::kMillis, false);
            else
                logical = LogicalType::Integer(32, true);
            break;
        case FieldType::kInt64:
            n.conv = Conv::kInt64;
            physical = PhysicalType::kInt64;
            if (sem == semantic::kMicroTime)
                logical = LogicalType::Time(TimeUnit::kMicros, false);
            else if (sem == semantic::kNanoTime)
                logical = LogicalType::Time(TimeUnit::kNanos, false);
            else if (sem == semantic::kTimestamp || sem == semantic::kConnectTimestamp)
                logical = LogicalType::Timestamp(TimeUnit::kMillis, false);
            else if (sem == semantic::kMicroTimestamp)
                logical = LogicalType::Timestamp(TimeUnit::kMicros, false);
            else if (sem == semantic::kNanoTimestamp)
                logical = LogicalType::Timestamp(TimeUnit::kNanos, false);
            else if (sem.empty())
                logical = LogicalType::Integer(64, true);
            break;  // MicroDuration and unknown semantics: a plain INT64
        case FieldType::kFloat32:
            n.conv = Conv::kFloat;
            physical = PhysicalType::kFloat;
            break;
        case FieldType::kFloat64:
            n.conv = Conv::kDouble;
            physical = PhysicalType::kDouble;
            break;
        case FieldType::kString:
            if (sem == semantic::kUuid) {
                n.conv = Conv::kUuid;
                physical = PhysicalType::kFixedLenByteArray;
                type_length = 16;
                logical = LogicalType::Uuid();
            } else if (sem == semantic::kJson) {
                n.conv = Conv::kText;
                logical = LogicalType::Json();
            } else if (sem == semantic::kZonedTimestamp) {
                n.conv = Conv::kZonedTimestamp;
                physical = PhysicalType::kInt64;
                logical = LogicalType::Timestamp(TimeUnit::kMicros, true);
            } else {
                n.conv = Conv::kText;
                n.placeholder = true;
                logical = LogicalType::String();
            }
            break;
        case FieldType::kBytes: {
            if (sem != semantic::kDecimal) {
                n.conv = Conv::kBytes;
                n.placeholder = true;
                break;
            }
            const std::string *scale = f.Parameter("scale");
            const std::string *precision = f.Parameter("connect.decimal.precision");
            int s = scale ? std::atoi(scale->c_str()) : 0;
            int p = precision ? std::atoi(precision->c_str()) : 0;
            n.scale = s;
            if (precision == nullptr || p < 1 || p > 38 || s < 0 || s > p) {
                n.conv = Conv::kDecimalText;
                logical = LogicalType::String();
            } else if (p <= 9) {
                n.conv = Conv::kDecimalInt32;
                physical = PhysicalType::kInt32;
                logical = LogicalType::Decimal(p, s);
            } else if (p <= 18) {
                n.conv = Conv::kDecimalInt64;
                physical = PhysicalType::kInt64;
                logical = LogicalType::Decimal(p, s);
            } else {
                n.conv = Conv::kDecimalFixed;
                physical = PhysicalType::kFixedLenByteArray;
                type_length = n.fixed_len = UnscaledBytesForPrecision(p);
                logical = LogicalType::Decimal(p, s);
            }
            break;
        }
        case FieldType::kArray: {
            n.conv = Conv::kList;
            n.optional = true;
            SchemaNode element;
            FieldSchema text_item;  // an array without an item schema: its items as text
            const FieldSchema &item = f.fields.empty() ? text_item : f.fields[0];
            n.children.push_back(Plan(item, "element", true, &element));
            *out = SchemaNode::List(name, Repetition::kOptional, std::move(element));
            return n;
        }
        case FieldType::kStruct: {
            if (sem == semantic::kVariableScaleDecimal || f.fields.empty()) {
                n.conv = Conv::kVariableDecimalText;
                logical = LogicalType::String();
                break;
            }
            n.conv = Conv::kStruct;
            n.optional = true;
            out->name = name;
            out->repetition = Repetition::kOptional;
            out->children.clear();
            for (const FieldSchema &child : f.fields) {
                SchemaNode c;
                n.children.push_back(Plan(child, child.name, force_optional, &c));
                out->children.push_back(std::move(c));
            }
            return n;
        }
    }
    // REQUIRED only where a null can never arrive: a NOT NULL column of a type whose unchanged
    // TOAST value has a placeholder, or that PostgreSQL never TOASTs (fixed-size types). A
    // numeric is variable-size whatever decimal_handling_mode makes of it (double included).
    bool can_be_unavailable_null = n.conv == Conv::kDecimalInt32 || n.conv == Conv::kDecimalInt64 ||
                                   n.conv == Conv::kDecimalFixed || n.conv == Conv::kDecimalText ||
                                   n.conv == Conv::kVariableDecimalText ||
                                   (n.conv == Conv::kText && !n.placeholder) ||
                                   f.source_type == "numeric";
    n.optional = force_optional || f.optional || can_be_unavailable_null;
    *out = SchemaNode::Leaf(name, n.optional ? Repetition::kOptional : Repetition::kRequired,
                            physical, logical, type_length);
    return n;
}

void ParquetRowLayout::Levels(Node &node, int16_t parent_def, int16_t parent_rep,
                              uint32_t *next_leaf) {
    node.def = static_cast<int16_t>(parent_def + (node.optional ? 1 : 0));
    node.rep = parent_rep;
    node.leaf_begin = *next_leaf;
    if (node.conv == Conv::kList) {
        // The repeated middle group adds one definition level (a present element slot) and one
        // repetition level.
        Levels(node.children[0], static_cast<int16_t>(node.def + 1),
               static_cast<int16_t>(parent_rep + 1), next_leaf);
    } else if (node.conv == Conv::kStruct) {
        for (Node &child : node.children) Levels(child, node.def, parent_rep, next_leaf);
    } else {
        ++*next_leaf;
    }
    node.leaf_end = *next_leaf;
}

void ParquetRowLayout::WriteNulls(const Node &node, int16_t def, int16_t rep) {
    for (uint32_t i = node.leaf_begin; i < node.leaf_end; ++i) (*cols_)[i]->WriteNull(def, rep);
}

void ParquetRowLayout::Mismatch(const Node &node, const Value &value) const {
    throw SinkError("parquet", "column '" + node.name + "' of table '" + table_.schema + "." +
                                   table_.table +
                                   "' got a value its Parquet type cannot hold (value kind " +
                                   std::to_string(static_cast<int>(value.kind())) +
                                   "); this is a bug in cdcctl, please report it");
}

void ParquetRowLayout::WriteValue(const Node &node, const Value *value, int16_t rep) {
    const int16_t parent_def = static_cast<int16_t>(node.def - (node.optional ? 1 : 0));
    if (value == nullptr || value->kind() == Value::Kind::kNull ||
        (value->kind() == Value::Kind::kUnavailable && !node.placeholder)) {
        if (!node.optional) {
            throw SinkError(
                "parquet",
                "column '" + node.name + "' of table '" + table_.schema + "." + table_.table +
                    "' is NOT NULL in the source schema but an event carries a null for it");
        }
        WriteNulls(node, parent_def, rep);
        return;
    }
    switch (node.conv) {
        case Conv::kStruct: {
            if (value->kind() != Value::Kind::kStruct) Mismatch(node, *value);
            const auto &items = value->items();
            for (size_t i = 0; i < node.children.size(); ++i) {
                WriteValue(node.children[i], i < items.size() ? &items[i] : nullptr, rep);
            }
            return;
        }
        case Conv::kList: {
            if (value->kind() != Value::Kind::kArray) Mismatch(node, *value);
            const auto &items = value->items();
            const Node &element = node.children[0];
            bool nested = std::any_of(items.begin(), items.end(), [](const Value &v) {
                return v.kind() == Value::Kind::kArray;
            });
            if (!nested) {
                if (items.empty()) {
                    WriteNulls(element, node.def, rep);
                    return;
                }
                for (size_t i = 0; i < items.size(); ++i) {
                    WriteValue(element, &items[i],
                               i == 0 ? rep : static_cast<int16_t>(node.rep + 1));
                }
                return;
            }
            // A multi-dimensional array, flattened in row-major order (rare: allocates).
            std::vector<const Value *> flat;
            std::vector<const Value *> stack;
            for (auto it = items.rbegin(); it != items.rend(); ++it) stack.push_back(&*it);
            while (!stack.empty()) {
                const Value *v = stack.back();
                stack.pop_back();
                if (v->kind() == Value::Kind::kArray) {
                    for (auto it = v->items().rbegin(); it != v->items().rend(); ++it)
                        stack.push_back(&*it);
                } else {
                    flat.push_back(v);
                }
            }
            if (flat.empty()) {
                WriteNulls(element, node.def, rep);
                return;
            }
            for (size_t i = 0; i < flat.size(); ++i) {
                WriteValue(element, flat[i], i == 0 ? rep : static_cast<int16_t>(node.rep + 1));
            }
            return;
        }
        default:
            WriteLeaf(node, *value, rep);
            return;
    }
}

void ParquetRowLayout::WriteLeaf(const Node &node, const Value &value, int16_t rep) {
    parquet::ColumnWriter &col = *(*cols_)[node.leaf_begin];
    const Value::Kind kind = value.kind();
    if (kind == Value::Kind::kUnavailable) {  // node.placeholder: text or bytes
        col.WriteBytes(kUnavailable, rep);
        return;
    }
    switch (node.conv) {
        case Conv::kBool:
            if (kind != Value::Kind::kBool) Mismatch(node, value);
            col.WriteBool(value.as_bool(), rep);
            return;
        case Conv::kInt32:
            if (kind != Value::Kind::kInt) Mismatch(node, value);
            col.WriteInt32(static_cast<int32_t>(value.as_int()), rep);
            return;
        case Conv::kInt64:
            if (kind != Value::Kind::kInt) Mismatch(node, value);
            col.WriteInt64(value.as_int(), rep);
            return;
        case Conv::kFloat:
            if (kind == Value::Kind::kDouble)
                col.WriteFloat(static_cast<float>(value.as_double()), rep);
            else if (kind == Value::Kind::kInt)
                col.WriteFloat(static_cast<float>(value.as_int()), rep);
            else
                Mismatch(node, value);
            return;
        case Conv::kDouble:
            if (kind == Value::Kind::kDouble)
                col.WriteDouble(value.as_double(), rep);
            else if (kind == Value::Kind::kInt)
                col.WriteDouble(static_cast<double>(value.as_int()), rep);
            else
                Mismatch(node, value);
            return;
        case Conv::kText:
        case Conv::kBytes:
            if (kind != Value::Kind::kString && kind != Value::Kind::kBytes) Mismatch(node, value);
            col.WriteBytes(value.as_string(), rep);
            return;
        case Conv::kDecimalInt32:
        case Conv::kDecimalInt64: {
            int64_t v;
            if (kind != Value::Kind::kBytes || !UnscaledToInt64(value.as_string(), &v))
                Mismatch(node, value);
            if (node.conv == Conv::kDecimalInt32) {
                if (v < std::numeric_limits<int32_t>::min() ||
                    v > std::numeric_limits<int32_t>::max()) {
                    Mismatch(node, value);
                }
                col.WriteInt32(static_cast<int32_t>(v), rep);
            } else {
                col.WriteInt64(v, rep);
            }
            return;
        }
        case Conv::kDecimalFixed: {
            if (kind != Value::Kind::kBytes ||
                !ResizeUnscaled(value.as_string(), static_cast<size_t>(node.fixed_len), &fixed_)) {
                Mismatch(node, value);
            }
            col.WriteBytes(fixed_, rep);
            return;
        }
        case Conv::kDecimalText:
            if (kind != Value::Kind::kBytes) Mismatch(node, value);
            scratch_.clear();
            AppendDecimalText(&scratch_, value.as_string(), node.scale);
            col.WriteBytes(scratch_, rep);
            return;
        case Conv::kVariableDecimalText: {
            if (kind != Value::Kind::kStruct || value.items().size() != 2 ||
                value.items()[0].kind() != Value::Kind::kInt ||
                value.items()[1].kind() != Value::Kind::kBytes) {
                Mismatch(node, value);
            }
            scratch_.clear();
            AppendDecimalText(&scratch_, value.items()[1].as_string(),
                              static_cast<int32_t>(value.items()[0].as_int()));
            col.WriteBytes(scratch_, rep);
            return;
        }
        case Conv::kUuid:
            if (kind != Value::Kind::kString || !ParseUuid(value.as_string(), &fixed_))
                Mismatch(node, value);
            col.WriteBytes(fixed_, rep);
            return;
        case Conv::kZonedTimestamp: {
            int64_t micros;
            if (kind != Value::Kind::kString || !ParseZonedTimestamp(value.as_string(), &micros)) {
                Mismatch(node, value);
            }
            col.WriteInt64(micros, rep);
            return;
        }
        case Conv::kStruct:
        case Conv::kList:
            Mismatch(node, value);
    }
}

void ParquetRowLayout::WriteRow(const std::vector<Node> &nodes, const Row *row, int16_t rep) {
    for (size_t i = 0; i < nodes.size(); ++i) {
        WriteValue(nodes[i], row != nullptr && i < row->size() ? &(*row)[i] : nullptr, rep);
    }
}

void ParquetRowLayout::WriteEvent(const ChangeEvent &event,
                                  const std::vector<parquet::ColumnWriter *> &columns) {
    cols_ = &columns;
    const char op = static_cast<char>(event.op);
    const std::string_view op_text(&op, 1);
    const std::string_view snapshot = SnapshotMarkerName(event.source.snapshot);
    if (content_ == ParquetContent::kRow) {
        const Row *row = nullptr;
        if (event.op == Op::kDelete) {
            if (event.has_before) row = &event.before;
        } else if (event.op != Op::kTruncate && event.has_after) {
            row = &event.after;
        }
        WriteRow(columns_, row, 0);
        uint32_t m = meta_leaf_;
        columns[m]->WriteBytes(op_text);
        columns[m + 1]->WriteInt64(event.ts_ms);
        if (event.source.event_order == 0) {
            columns[m + 2]->WriteNull(0);
        } else {
            scratch_.clear();
            source_block_.append_position(&scratch_, event.source.event_order);
            columns[m + 2]->WriteBytes(scratch_);
        }
        columns[m + 3]->WriteBytes(snapshot);
        return;
    }
    const bool rows = event.op != Op::kTruncate;
    for (int which = 0; which < 2; ++which) {
        const Node &group = which == 0 ? before_ : after_;
        const bool present = rows && (which == 0 ? event.has_before : event.has_after);
        if (!present) {
            WriteNulls(group, 0, 0);
        } else if (group.conv == Conv::kBool) {
            columns[group.leaf_begin]->WriteBool(true);  // a table without columns
        } else {
            WriteRow(group.children, which == 0 ? &event.before : &event.after, 0);
        }
    }
    uint32_t m = meta_leaf_;
    const SourceInfo &s = event.source;
    for (const SourceField &f : source_fields_) {
        parquet::ColumnWriter *c = columns[m++];
        switch (f.from) {
            case SourceFieldFrom::kVersion: c->WriteBytes("cdcctl-" CDCCTL_VERSION); break;
            case SourceFieldFrom::kConnector: c->WriteBytes(source_block_.connector); break;
            case SourceFieldFrom::kName: c->WriteBytes(topic_prefix_); break;
            case SourceFieldFrom::kTsMs: c->WriteInt64(s.ts_ms); break;
            case SourceFieldFrom::kSnapshot: c->WriteBytes(snapshot); break;
            case SourceFieldFrom::kDatabase: c->WriteBytes(table_.database); break;
            case SourceFieldFrom::kSchema: c->WriteBytes(table_.schema); break;
            case SourceFieldFrom::kTable: c->WriteBytes(table_.table); break;
            case SourceFieldFrom::kSequence:
                if (s.sequence.empty()) c->WriteNull(0);
                else c->WriteBytes(s.sequence);
                break;
            case SourceFieldFrom::kValue: {
                const Value *v = f.value < s.values.size() ? &s.values[f.value] : nullptr;
                if (v == nullptr || v->is_null()) {
                    c->WriteNull(0);
                } else if (f.type == FieldType::kInt64 && v->kind() == Value::Kind::kInt) {
                    c->WriteInt64(v->as_int());
                } else if (f.type == FieldType::kInt32 && v->kind() == Value::Kind::kInt) {
                    c->WriteInt32(static_cast<int32_t>(v->as_int()));
                } else if (f.type == FieldType::kBoolean && v->kind() == Value::Kind::kBool) {
                    c->WriteBool(v->as_bool());
                } else if (f.type == FieldType::kString && v->kind() == Value::Kind::kString) {
                    c->WriteBytes(v->as_string());
                } else {
                    throw SinkError("parquet", "source." + f.name + " has a value of another type than " +
                                                   "its schema; this is a bug in the source connector");
                }
                break;
            }
            default: c->WriteNull(0); break;
        }
    }
    columns[m]->WriteBytes(op_text);
    columns[m + 1]->WriteInt64(event.ts_ms);
}

}  // namespace cdcctl
