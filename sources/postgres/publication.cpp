// Checking and creating the publication; see publication.h.
#include "sources/postgres/publication.h"

#include <set>

#include "core/error.h"
#include "core/runtime/log.h"
#include "sources/postgres/common.h"

namespace cdcctl::postgres {

CheckResult CheckPublication(const pg::Connection &conn, const std::string &publication,
                             const std::vector<pg::TableInfo> &tables) {
    // The publication: it exists and covers the tables, or we may create it.
    const std::string &pub = publication;
    std::string user = conn.User();
    pg::ResultPtr p = conn.ExecParams(
        "SELECT p.puballtables, p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate, "
        "  pg_has_role(p.pubowner, 'USAGE') FROM pg_publication p WHERE p.pubname = $1",
        {pub}, "reading the publication");
    if (PQntuples(p.get()) == 1) {
        bool all_ops = PQgetvalue(p.get(), 0, 1)[0] == 't';
        bool owner = PQgetvalue(p.get(), 0, 2)[0] == 't';
        std::vector<std::string> missing;
        if (PQgetvalue(p.get(), 0, 0)[0] != 't') {
            pg::ResultPtr pt = conn.ExecParams(
                "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1",
                {pub}, "reading the publication's tables");
            std::set<std::string> in;
            for (int r = 0; r < PQntuples(pt.get()); ++r) in.insert(PQgetvalue(pt.get(), r, 0));
            for (const auto &t : tables) {
                if (!in.count(t.QualifiedName())) missing.push_back(t.QualifiedName());
            }
        }
        bool ok = all_ops && (missing.empty() || owner);
        std::string detail = "publication '" + pub + "' exists";
        if (!all_ops)
            detail = "publication '" + pub + "' does not publish every operation; run: ALTER "
                     "PUBLICATION " + conn.QuoteIdent(pub) +
                     " SET (publish = 'insert, update, delete, truncate');";
        else if (!missing.empty() && !owner)
            detail = "publication '" + pub + "' lacks " + Join(missing, ", ") + " and role '" + user +
                     "' does not own it. Ask its owner to run: ALTER PUBLICATION " +
                     conn.QuoteIdent(pub) + " ADD TABLE " + Join(missing, ", ") + ";";
        else if (!missing.empty())
            detail += "; cdcctl will add " + Join(missing, ", ");
        return {"publication", ok, detail};
    }
    std::vector<std::string> not_owned;
    for (const auto &t : tables) {
        pg::ResultPtr o = conn.ExecParams(
            "SELECT pg_has_role(c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = $1::oid",
            {std::to_string(t.oid)}, "reading table ownership");
        if (PQntuples(o.get()) != 1 || PQgetvalue(o.get(), 0, 0)[0] != 't')
            not_owned.push_back(t.QualifiedName());
    }
    std::vector<std::string> names;
    for (const auto &t : tables) names.push_back(t.QualifiedName());
    bool can_create_in_db =
        conn.Value("SELECT has_database_privilege(current_database(), 'CREATE')",
                   "reading the database privileges")
            .value_or("f") == "t";
    std::string detail = "publication '" + pub + "' does not exist; cdcctl will create it";
    if (!not_owned.empty()) {
        detail = "publication '" + pub + "' does not exist and role '" + user +
                 "' cannot create it because it does not own " + Join(not_owned, ", ") +
                 ". Have the table owner run: CREATE PUBLICATION " + conn.QuoteIdent(pub) +
                 " FOR TABLE " + Join(names, ", ") + ";";
    } else if (!can_create_in_db) {
        detail = "publication '" + pub + "' does not exist and role '" + user +
                 "' cannot create it: it lacks CREATE on database '" + PQdb(conn.get()) +
                 "'. Run: GRANT CREATE ON DATABASE " + conn.QuoteIdent(PQdb(conn.get())) +
                 " TO " + conn.QuoteIdent(user) + "; or have the table owner run: CREATE "
                 "PUBLICATION " + conn.QuoteIdent(pub) + " FOR TABLE " + Join(names, ", ") + ";";
    }
    return {"publication", not_owned.empty() && can_create_in_db, detail};
}

void EnsurePublication(const pg::Connection &conn, const std::string &publication,
                       const std::vector<pg::TableInfo> &tables) {
    const std::string &pub = publication;
    bool exists = PQntuples(conn.ExecParams("SELECT 1 FROM pg_publication WHERE pubname = $1",
                                            {pub}, "reading the publication")
                                .get()) == 1;
    std::vector<std::string> quoted;
    std::vector<std::string> names;
    for (const auto &t : tables) {
        quoted.push_back(conn.QuoteIdent(t.schema) + "." + conn.QuoteIdent(t.name));
        names.push_back(t.QualifiedName());
    }
    try {
        if (!exists) {
            conn.Exec("CREATE PUBLICATION " + conn.QuoteIdent(pub) + " FOR TABLE " +
                          Join(quoted, ", "),
                      "creating the publication");
            log::Info(kComponent, "Created publication '" + pub + "' for " + Join(names, ", ") + ".");
            return;
        }
        pg::ResultPtr all = conn.ExecParams(
            "SELECT puballtables FROM pg_publication WHERE pubname = $1", {pub}, "reading the publication");
        if (PQgetvalue(all.get(), 0, 0)[0] == 't') return;
        pg::ResultPtr pt = conn.ExecParams(
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1",
            {pub}, "reading the publication's tables");
        std::set<std::string> in;
        for (int r = 0; r < PQntuples(pt.get()); ++r) in.insert(PQgetvalue(pt.get(), r, 0));
        std::vector<std::string> add;
        for (size_t i = 0; i < tables.size(); ++i) {
            if (!in.count(tables[i].QualifiedName())) add.push_back(quoted[i]);
        }
        if (add.empty()) return;
        conn.Exec("ALTER PUBLICATION " + conn.QuoteIdent(pub) + " ADD TABLE " + Join(add, ", "),
                  "adding tables to the publication");
        log::Info(kComponent, "Added " + Join(add, ", ") + " to publication '" + pub + "'.");
    } catch (const pg::SqlError &e) {
        throw ConnectError(kComponent,
                           std::string(e.what()) + ". Create the publication as the owner of the "
                           "tables: CREATE PUBLICATION " + conn.QuoteIdent(pub) + " FOR TABLE " +
                           Join(quoted, ", ") + ";");
    }
}

}  // namespace cdcctl::postgres
