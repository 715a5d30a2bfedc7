// Relation messages and catalog rows into TableSchemas; see relation_cache.h.
#include "sources/postgres/relation_cache.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/runtime/log.h"
#include "sources/postgres/common.h"

namespace cdcctl::postgres {

RelationCache::RelationCache(const PostgresSourceConfig &config, const pg::Connection &conn,
                             std::vector<std::string> captured_tables)
    : config_(config), conn_(conn), captured_tables_(std::move(captured_tables)) {}

void RelationCache::RegisterType(uint32_t oid, bool refresh_enums) {
    if (const PgTypeInfo *known = types_.Find(oid)) {
        // Enum labels can grow (ALTER TYPE ... ADD VALUE): a Relation message re-reads them.
        bool user_type = known->kind != PgTypeInfo::Kind::kBase || oid >= 16384;
        if (!refresh_enums || !user_type) return;
    }
    auto info = pg::LookupType(conn_, oid);
    if (!info) return;
    if (info->typtype == 'e') {
        types_.AddEnum(oid, info->name, info->enum_labels);
    } else if (info->element != 0 && !info->name.empty() && info->name[0] == '_') {
        RegisterType(info->element, refresh_enums);
        types_.AddArray(oid, info->name, info->element);
    } else {
        types_.AddBase(oid, info->name);
    }
}

std::vector<PgTextConverter> RelationCache::MakeConverters(const TableSchema &schema) {
    std::vector<PgTextConverter> out;
    out.reserve(schema.columns.size());
    for (const auto &f : schema.columns) out.emplace_back(f);
    return out;
}

void RelationCache::RegisterTypes(const std::vector<pg::TableInfo> &tables) {
    for (const auto &t : tables) {
        for (const auto &c : t.columns) RegisterType(c.type_oid);
    }
}

TableSchemaPtr RelationCache::BuildSchema(const pg::TableInfo &table, uint64_t version) const {
    auto schema = std::make_shared<TableSchema>();
    schema->topic = config_.topic_prefix + "." + table.schema + "." + table.name;
    schema->database = PQdb(conn_.get());
    schema->schema = table.schema;
    schema->table = table.name;
    schema->version = version;
    for (size_t i = 0; i < table.columns.size(); ++i) {
        const auto &c = table.columns[i];
        schema->columns.push_back(MapColumn(c.name, c.type_oid, c.typmod, c.not_null, types_,
                                            config_.time_precision_mode,
                                            config_.decimal_handling_mode));
        if (c.key) schema->key.push_back(i);
    }
    return schema;
}

const Relation *RelationCache::Find(uint32_t relid) const {
    auto it = relations_.find(relid);
    return it == relations_.end() ? nullptr : &it->second;
}

void RelationCache::Update(RelationMessage &&rel) {
    std::string qn = rel.schema + "." + rel.name;
    Relation &r = relations_[rel.oid];
    bool was_captured = r.captured;
    r.captured = std::find(captured_tables_.begin(), captured_tables_.end(), qn) !=
                 captured_tables_.end();
    if (!r.captured) {
        if (was_captured) {
            log::Warn(kComponent, "Captured table " + (r.schema ? r.schema->schema + "." + r.schema->table : "") +
                                      " is now " + qn + ", which the pipeline does not include; its "
                                      "changes are no longer captured.");
        }
        return;
    }
    for (const auto &c : rel.columns) RegisterType(c.type_oid, true);
    // pgoutput does not send nullability: read it from the catalog, which a Relation message
    // follows (it is sent again after ALTER TABLE ... SET/DROP NOT NULL).
    // The key, too: with REPLICA IDENTITY FULL pgoutput flags every column, but events keep the
    // primary key as the snapshot does.
    std::map<std::string, bool> not_null;
    std::set<std::string> primary_key;
    pg::ResultPtr nn = conn_.ExecParams(
        "SELECT a.attname, a.attnotnull, COALESCE(a.attnum = ANY ((SELECT i.indkey FROM pg_index i "
        "  WHERE i.indrelid = a.attrelid AND i.indisprimary)::int2[]), false) "
        "FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped",
        {std::to_string(rel.oid)}, "reading the nullability of a table's columns");
    for (int i = 0; i < PQntuples(nn.get()); ++i) {
        not_null[PQgetvalue(nn.get(), i, 0)] = PQgetvalue(nn.get(), i, 1)[0] == 't';
        if (PQgetvalue(nn.get(), i, 2)[0] == 't') primary_key.insert(PQgetvalue(nn.get(), i, 0));
    }
    pg::TableInfo info;
    info.oid = rel.oid;
    info.schema = rel.schema;
    info.name = rel.name;
    for (const auto &c : rel.columns) {
        pg::ColumnInfo ci;
        ci.name = c.name;
        ci.type_oid = c.type_oid;
        ci.typmod = c.type_modifier;
        ci.key = primary_key.empty() ? c.IsKey() : primary_key.count(c.name) > 0;
        auto it = not_null.find(c.name);
        ci.not_null = it != not_null.end() && it->second;
        info.columns.push_back(std::move(ci));
    }
    uint64_t version = r.schema ? r.schema->version + 1 : 1;
    TableSchemaPtr schema = BuildSchema(info, version);
    if (r.schema && r.schema->columns.size() == schema->columns.size()) {
        bool same = true;
        for (size_t i = 0; i < schema->columns.size() && same; ++i) {
            same = r.schema->columns[i].name == schema->columns[i].name &&
                   r.schema->columns[i].source_type_oid == schema->columns[i].source_type_oid &&
                   r.schema->columns[i].type_modifier == schema->columns[i].type_modifier &&
                   r.schema->columns[i].optional == schema->columns[i].optional &&
                   r.schema->columns[i].parameters == schema->columns[i].parameters &&
                   r.schema->columns[i].fields.size() == schema->columns[i].fields.size();
        }
        if (same && r.schema->key == schema->key) return;  // unchanged: keep the cached schema
    }
    if (r.schema) {
        log::Info(kComponent, "The columns of " + qn + " changed; events now carry schema version " +
                                  std::to_string(version) + ".");
    }
    r.converters = MakeConverters(*schema);
    r.schema = std::move(schema);
}

}  // namespace cdcctl::postgres
