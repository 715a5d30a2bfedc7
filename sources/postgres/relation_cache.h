// pgoutput describes a table once per session, and again after DDL, in a Relation message; every
// change after it names the table only by its relid. So the stream keeps what each Relation
// message said, turned into the TableSchema its events carry and one text converter per column,
// until the next Relation message for the same relid replaces it. pgoutput resends Relation
// messages in every session and after DDL that changes nothing events carry; the cached schema
// (and its version) is then kept, because a sink starts a new file for a new schema object.
//
// A Relation message lacks what Debezium schemas need (nullability, the primary key as opposed
// to the replica identity, the labels of an enum), so it is completed from the catalog. The
// snapshot and `cdcctl discover` build their schemas from the catalog alone, here as well, so
// that a snapshot row and a streamed row of one table carry the same schema.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event/schema.h"
#include "sources/postgres/catalog.h"
#include "sources/postgres/pg_connection.h"
#include "sources/postgres/pg_types.h"
#include "sources/postgres/pgoutput_decoder.h"
#include "sources/postgres/postgres_config.h"

namespace cdcctl::postgres {

struct Relation {
    TableSchemaPtr schema;
    std::vector<PgTextConverter> converters;  // one per column of schema
    bool captured = false;
};

class RelationCache {
public:
    // `conn` (a regular connection) answers the catalog lookups; `captured_tables` are the
    // schema.table names of the tables the pipeline captures. Both must outlive the cache.
    RelationCache(const PostgresSourceConfig &config, const pg::Connection &conn,
                  std::vector<std::string> captured_tables);

    // Looks up the user-defined types the tables' columns use (enums, arrays of them).
    void RegisterTypes(const std::vector<pg::TableInfo> &tables);
    TableSchemaPtr BuildSchema(const pg::TableInfo &table, uint64_t version) const;
    static std::vector<PgTextConverter> MakeConverters(const TableSchema &schema);

    // Takes a Relation message: caches the relation, and a new schema version when its columns
    // changed. A relation outside the captured tables is cached as not captured.
    void Update(RelationMessage &&rel);
    // nullptr when pgoutput has not described `relid`.
    const Relation *Find(uint32_t relid) const;

private:
    void RegisterType(uint32_t oid, bool refresh_enums = false);

    const PostgresSourceConfig &config_;
    const pg::Connection &conn_;
    std::vector<std::string> captured_tables_;
    PgTypeRegistry types_;
    std::unordered_map<uint32_t, Relation> relations_;
};

}  // namespace cdcctl::postgres
