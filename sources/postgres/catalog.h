// What the source reads from the PostgreSQL catalog: which tables the include/exclude globs
// select, their columns, keys and replica identity, and the user-defined types they use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sources/postgres/pg_connection.h"

namespace cdcctl::pg {

struct ColumnInfo {
    std::string name;
    uint32_t type_oid = 0;
    int32_t typmod = -1;
    bool not_null = false;
    bool key = false;
};

struct TableInfo {
    uint32_t oid = 0;
    std::string schema;
    std::string name;
    char replica_identity = 'd';  // d default, n nothing, f full, i index
    bool has_primary_key = false;
    bool can_select = true;
    double estimated_rows = 0;  // pg_class.reltuples, -1 when never analyzed
    std::vector<ColumnInfo> columns;
    std::string QualifiedName() const { return schema + "." + name; }
};

struct TypeInfo {
    uint32_t oid = 0;
    std::string schema;
    std::string name;
    char typtype = 'b';      // b base, e enum, d domain, c composite, r range
    uint32_t element = 0;    // array element type, or 0
    uint32_t base_type = 0;  // domain base type, or 0
    std::vector<std::string> enum_labels;
};

// True when `text` ("schema.table") matches `pattern` with '*' (any run) and '?' (one char).
// A pattern without a dot applies to the public schema.
bool GlobMatch(std::string_view pattern, std::string_view text);

// The tables the globs select, sorted by schema and name, with columns loaded. A pattern without
// wildcards that names no table is a ConfigError naming it; so is a result with no table at all.
std::vector<TableInfo> ResolveTables(const Connection &conn, const std::vector<std::string> &include,
                                     const std::vector<std::string> &exclude);

// Columns (in attnum order, without dropped or generated columns) and keys of one table.
void LoadColumns(const Connection &conn, TableInfo *table);

// A user-defined type, or nullopt if the oid is unknown.
std::optional<TypeInfo> LookupType(const Connection &conn, uint32_t oid);

}  // namespace cdcctl::pg
