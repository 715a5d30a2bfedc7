#include "sources/postgres/catalog.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace cdcctl::pg {
namespace {

bool Match(std::string_view p, std::string_view t) {
    // Iterative glob match with backtracking on the last '*'.
    size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
    while (ti < t.size()) {
        if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
            ++pi;
            ++ti;
        } else if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = ti;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            ti = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*') ++pi;
    return pi == p.size();
}

std::string Qualify(std::string_view pattern) {
    if (pattern.find('.') == std::string_view::npos) return "public." + std::string(pattern);
    return std::string(pattern);
}

bool HasWildcard(std::string_view p) { return p.find_first_of("*?") != std::string_view::npos; }

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
    return Match(Qualify(pattern), text);
}

std::vector<TableInfo> ResolveTables(const Connection &conn, const std::vector<std::string> &include,
                                     const std::vector<std::string> &exclude) {
    ResultPtr res = conn.Exec(
        "SELECT c.oid, n.nspname, c.relname, c.relreplident, "
        "  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
        "  has_table_privilege(c.oid, 'SELECT'), c.reltuples "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "  AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' "
        "ORDER BY n.nspname, c.relname",
        "listing tables");
    std::vector<TableInfo> all;
    for (int r = 0; r < PQntuples(res.get()); ++r) {
        TableInfo t;
        t.oid = static_cast<uint32_t>(std::strtoul(PQgetvalue(res.get(), r, 0), nullptr, 10));
        t.schema = PQgetvalue(res.get(), r, 1);
        t.name = PQgetvalue(res.get(), r, 2);
        t.replica_identity = PQgetvalue(res.get(), r, 3)[0];
        t.has_primary_key = PQgetvalue(res.get(), r, 4)[0] == 't';
        t.can_select = PQgetvalue(res.get(), r, 5)[0] == 't';
        t.estimated_rows = std::strtod(PQgetvalue(res.get(), r, 6), nullptr);
        all.push_back(std::move(t));
    }
    std::vector<std::string> missing;
    for (const auto &pattern : include) {
        if (HasWildcard(pattern)) continue;
        std::string q = Qualify(pattern);
        bool found = std::any_of(all.begin(), all.end(),
                                 [&](const TableInfo &t) { return t.QualifiedName() == q; });
        if (!found) missing.push_back(q);
    }
    if (!missing.empty()) {
        std::string list;
        for (const auto &m : missing) list += (list.empty() ? "'" : ", '") + m + "'";
        throw ConfigError("postgres",
                          "source.tables: table " + list + " does not exist in database '" +
                              std::string(PQdb(conn.get())) + "' (or is not visible to role '" +
                              conn.User() + "'); check the name, or create the table first");
    }
    std::vector<TableInfo> selected;
    for (auto &t : all) {
        std::string qn = t.QualifiedName();
        bool in = std::any_of(include.begin(), include.end(),
                              [&](const std::string &p) { return GlobMatch(p, qn); });
        bool out = std::any_of(exclude.begin(), exclude.end(),
                               [&](const std::string &p) { return GlobMatch(p, qn); });
        if (in && !out) selected.push_back(std::move(t));
    }
    if (selected.empty()) {
        throw ConfigError("postgres", "source.tables: no table in database '" +
                                          std::string(PQdb(conn.get())) +
                                          "' matches the include and exclude lists");
    }
    for (auto &t : selected) LoadColumns(conn, &t);
    return selected;
}

void LoadColumns(const Connection &conn, TableInfo *table) {
    // Key columns: the primary key, else the replica identity index.
    ResultPtr res = conn.ExecParams(
        "SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, "
        "  COALESCE(a.attnum = ANY ((SELECT i.indkey FROM pg_index i WHERE i.indrelid = a.attrelid "
        "     AND i.indisprimary)::int2[]), false) AS pk, "
        "  COALESCE(a.attnum = ANY ((SELECT i.indkey FROM pg_index i WHERE i.indrelid = a.attrelid "
        "     AND i.indisreplident)::int2[]), false) AS ri "
        "FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
        "  AND a.attgenerated = '' ORDER BY a.attnum",
        {std::to_string(table->oid)}, "reading the columns of a table");
    table->columns.clear();
    bool any_pk = false;
    for (int r = 0; r < PQntuples(res.get()); ++r) {
        if (PQgetvalue(res.get(), r, 4)[0] == 't') any_pk = true;
    }
    for (int r = 0; r < PQntuples(res.get()); ++r) {
        ColumnInfo c;
        c.name = PQgetvalue(res.get(), r, 0);
        c.type_oid = static_cast<uint32_t>(std::strtoul(PQgetvalue(res.get(), r, 1), nullptr, 10));
        c.typmod = std::atoi(PQgetvalue(res.get(), r, 2));
        c.not_null = PQgetvalue(res.get(), r, 3)[0] == 't';
        c.key = any_pk ? PQgetvalue(res.get(), r, 4)[0] == 't' : PQgetvalue(res.get(), r, 5)[0] == 't';
        table->columns.push_back(std::move(c));
    }
}

std::optional<TypeInfo> LookupType(const Connection &conn, uint32_t oid) {
    ResultPtr res = conn.ExecParams(
        "SELECT n.nspname, t.typname, t.typtype, t.typelem, t.typbasetype, "
        "  ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid "
        "        ORDER BY e.enumsortorder)::text[] "
        "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1::oid",
        {std::to_string(oid)}, "looking up a data type");
    if (PQntuples(res.get()) == 0) return std::nullopt;
    TypeInfo t;
    t.oid = oid;
    t.schema = PQgetvalue(res.get(), 0, 0);
    t.name = PQgetvalue(res.get(), 0, 1);
    t.typtype = PQgetvalue(res.get(), 0, 2)[0];
    t.element = static_cast<uint32_t>(std::strtoul(PQgetvalue(res.get(), 0, 3), nullptr, 10));
    t.base_type = static_cast<uint32_t>(std::strtoul(PQgetvalue(res.get(), 0, 4), nullptr, 10));
    // Enum labels as a text[] literal; labels never contain the separators unquoted.
    std::string arr = PQgetvalue(res.get(), 0, 5);
    if (arr.size() > 2) {
        std::string cur;
        bool quoted = false;
        for (size_t i = 1; i + 1 < arr.size(); ++i) {
            char ch = arr[i];
            if (quoted) {
                if (ch == '\\' && i + 2 < arr.size()) cur += arr[++i];
                else if (ch == '"') quoted = false;
                else cur += ch;
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == ',') {
                t.enum_labels.push_back(cur);
                cur.clear();
            } else {
                cur += ch;
            }
        }
        t.enum_labels.push_back(cur);
    }
    return t;
}

}  // namespace cdcctl::pg
