// A connector's Debezium `source` struct, described once: its connector name, its Kafka Connect
// schema name and its fields in Debezium's order. Every sink writes the source block, positions
// and versions from this description and a SourceInfo, never from one connector's own fields,
// so a new connector needs no change in any sink.
//
// Debezium's common fields come first in every connector (version, connector, name, ts_ms,
// snapshot, db, sequence, ts_us, ts_ns); the connector's own follow (PostgreSQL: schema, table,
// txId, lsn, xmin; MySQL: table, server_id, gtid, file, pos, row, thread, query).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event/schema.h"

namespace cdcctl {

// Where a field of the source struct takes its value from.
enum class SourceFieldFrom : uint8_t {
    kVersion,    // "cdcctl-<version>"
    kConnector,  // SourceBlock::connector
    kName,       // the topic prefix
    kTsMs,       // SourceInfo::ts_ms
    kTsUs,       // derived from ts_ms
    kTsNs,       // derived from ts_ms
    kSnapshot,   // SourceInfo::snapshot, as Debezium's io.debezium.data.Enum
    kSequence,   // SourceInfo::sequence (null when empty)
    kDatabase,   // the event's TableSchema::database
    kSchema,     // TableSchema::schema
    kTable,      // TableSchema::table
    kValue,      // SourceInfo::values[SourceField::value]
    kNull,       // always null in cdcctl's events (PostgreSQL's xmin)
};

struct SourceField {
    std::string name;
    FieldType type = FieldType::kString;  // kString, kInt64, kInt32 or kBoolean
    bool optional = true;
    SourceFieldFrom from = SourceFieldFrom::kValue;
    uint8_t value = 0;  // kValue: the index into SourceInfo::values
};

struct SourceBlock {
    std::string connector;    // source.connector, e.g. "postgresql"
    std::string schema_name;  // the struct's Kafka Connect name
    std::vector<SourceField> fields;
    // The number of connector values (SourceInfo::values) a source fills.
    size_t value_count = 0;
    // The row format's position member after "__table" ("__lsn" for PostgreSQL) and the value it
    // shows; empty: none.
    std::string row_position_field;
    uint8_t row_position_value = 0;
    // Writes a position (SourceInfo::event_order) as text that sorts as the positions do: the
    // Parquet `_position` column and file names.
    void (*append_position)(std::string *out, uint64_t position) = nullptr;

    // A block with Debezium's common fields (version .. ts_ns) in their order.
    static SourceBlock WithCommonFields(std::string connector, std::string schema_name);
    // Appends a connector field read from SourceInfo::values; returns its value index.
    uint8_t AddValue(std::string name, FieldType type, bool optional = true);
    void AddField(std::string name, FieldType type, bool optional, SourceFieldFrom from);
    // The field with this name, or nullptr.
    const SourceField *Find(std::string_view name) const;
};

// Positions as 20-digit zero-padded decimals: the default for a connector whose positions have no
// text form of their own.
void AppendDecimalPosition(std::string *out, uint64_t position);

}  // namespace cdcctl
