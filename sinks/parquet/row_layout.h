// How a table's change events become Parquet rows: the Parquet schema of a table's files, and the
// shredding of one event into the writer's leaf columns (definition and repetition levels, as
// the Dremel paper and parquet-format describe them).
//
// Types, from the column's Kafka Connect type and Debezium semantic name:
//   boolean                              BOOLEAN
//   int8 / int16 / int32 / int64         INT32 INT(8/16/32, signed) / INT64 INT(64, signed)
//   float32 / float64                    FLOAT / DOUBLE (NaN and the infinities kept)
//   string (also Enum, ZonedTime)        BYTE_ARRAY STRING
//   bytes                                BYTE_ARRAY
//   Json                                 BYTE_ARRAY JSON
//   Uuid                                 FIXED_LEN_BYTE_ARRAY(16) UUID
//   Decimal(p, s), 0 <= s <= p <= 38     DECIMAL(p, s) on INT32 (p <= 9), INT64 (p <= 18), else
//                                        FIXED_LEN_BYTE_ARRAY of the fewest bytes that hold p
//                                        digits
//   Decimal beyond that (p > 38, s < 0   BYTE_ARRAY STRING with the exact decimal text
//     or s > p), VariableScaleDecimal    ("-12.50"): Parquet's DECIMAL needs one fixed scale, and
//                                        readers stop at 38 digits
//   Date, connect Date                   INT32 DATE
//   Time, connect Time                   INT32 TIME(MILLIS, isAdjustedToUTC=false)
//   MicroTime / NanoTime                 INT64 TIME(MICROS / NANOS, false)
//   Timestamp, connect Timestamp         INT64 TIMESTAMP(MILLIS, false)
//   MicroTimestamp / NanoTimestamp       INT64 TIMESTAMP(MICROS / NANOS, false): no time zone
//   ZonedTimestamp (timestamptz)         INT64 TIMESTAMP(MICROS, true), parsed from Debezium's
//                                        ISO-8601 string, in UTC or with any offset (a
//                                        timezone converter's "2024-01-01T09:00:00+09:00" is
//                                        2024-01-01T00:00:00Z); "infinity"/"-infinity" become
//                                        INT64_MAX / -INT64_MAX (DuckDB's infinities)
//   MicroDuration (interval)             INT64, microseconds as Debezium counts them
//   array                                3-level LIST of the item type; a multi-dimensional
//                                        PostgreSQL array is written flattened in row-major order
//                                        (its type does not say how many dimensions it has)
//   struct                               a group of its fields
//
// Nullability: in row content every table column is OPTIONAL, because delete rows carry only the
// key and truncate rows no column at all. In envelope content `before` and `after` are optional
// groups; inside `after` a column is REQUIRED when its schema says it is not optional and it can
// never be null (an unchanged TOASTed value of a type without a placeholder is written as null,
// see below); every field of `before` is optional (with REPLICA IDENTITY DEFAULT it only has
// the key).
//
// Unchanged TOASTed values (Value::kUnavailable): string and enum columns get Debezium's
// placeholder "__debezium_unavailable_value", bytes columns its bytes, as Debezium's own
// JSON would carry them; every other type (JSON, arrays, decimals) is null, because the
// placeholder is not a value of that type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/event/change_event.h"
#include "core/event/source_block.h"
#include "sinks/parquet/format/parquet_writer.h"
#include "sinks/parquet/parquet_config.h"

namespace cdcctl {

class ParquetRowLayout {
public:
    // `source_block` (kept by reference: connectors' blocks are static) and `topic_prefix` shape
    // and fill the source group in envelope content, and write `_position` in row content.
    ParquetRowLayout(const TableSchema &table, ParquetContent content,
                     const SourceBlock &source_block, std::string topic_prefix);

    // The schema of a file of this table (its root group).
    const parquet::SchemaNode &schema() const { return root_; }
    // Shreds one event into `columns` (the writer's leaf columns, in schema order) as one row.
    // The caller counts the row (FileWriter::AddRows). Throws SinkError on a value the schema
    // cannot hold.
    void WriteEvent(const ChangeEvent &event, const std::vector<parquet::ColumnWriter *> &columns);

private:
    enum class Conv : uint8_t {
        kBool,
        kInt32,
        kInt64,
        kFloat,
        kDouble,
        kText,
        kBytes,
        kDecimalInt32,
        kDecimalInt64,
        kDecimalFixed,
        kDecimalText,          // Decimal bytes with a fixed scale -> text
        kVariableDecimalText,  // VariableScaleDecimal {scale, value} -> text
        kUuid,
        kZonedTimestamp,
        kStruct,
        kList,
    };
    struct Node {
        Conv conv = Conv::kText;
        bool optional = true;
        bool placeholder = false;  // kUnavailable -> Debezium's placeholder instead of null
        int16_t def = 0;           // definition level when this node holds a value
        int16_t rep = 0;           // repetition level of the nearest repeated ancestor
        uint32_t leaf_begin = 0, leaf_end = 0;
        int32_t scale = 0;           // decimals
        int32_t fixed_len = 0;       // kDecimalFixed
        std::string name;            // for messages
        std::vector<Node> children;  // kStruct: fields; kList: the element
    };

    // Builds the plan and the Parquet node of one field; `force_optional` for before/row columns.
    Node Plan(const FieldSchema &field, const std::string &name, bool force_optional,
              parquet::SchemaNode *out);
    void Levels(Node &node, int16_t parent_def, int16_t parent_rep, uint32_t *next_leaf);
    void WriteValue(const Node &node, const Value *value, int16_t rep);
    void WriteNulls(const Node &node, int16_t def, int16_t rep);
    void WriteLeaf(const Node &node, const Value &value, int16_t rep);
    void WriteRow(const std::vector<Node> &nodes, const Row *row, int16_t rep);
    [[noreturn]] void Mismatch(const Node &node, const Value &value) const;

    const TableSchema &table_;
    ParquetContent content_;
    const SourceBlock &source_block_;
    std::string topic_prefix_;
    std::vector<SourceField> source_fields_;  // envelope content: the source group's fields
    parquet::SchemaNode root_;

    // Row content: the columns, then _op, _ts_ms, _position, _snapshot.
    // Envelope content: before and after (groups whose children are the columns), source, op,
    // ts_ms.
    std::vector<Node> columns_;
    Node before_, after_;
    uint32_t meta_leaf_ = 0;  // the first leaf after the table's columns (or after before/after)

    const std::vector<parquet::ColumnWriter *> *cols_ = nullptr;
    std::string scratch_;          // reused: positions, decimal text
    std::string fixed_;            // reused: FIXED_LEN_BYTE_ARRAY decimals and UUIDs
};

}  // namespace cdcctl
