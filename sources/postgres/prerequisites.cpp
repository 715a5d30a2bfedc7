// The prerequisite checks and the advice each failure carries; see prerequisites.h.
#include "sources/postgres/prerequisites.h"

#include <optional>
#include <string>

#include "core/error.h"
#include "sources/postgres/common.h"
#include "sources/postgres/publication.h"
#include "sources/postgres/slot.h"

namespace cdcctl::postgres {

std::vector<pg::TableInfo> CheckPrerequisites(const pg::Connection &conn,
                                              const PostgresSourceConfig &config,
                                              std::vector<CheckResult> *results,
                                              bool throw_on_failure) {
    auto report = [&](std::string name, bool ok, std::string detail) {
        if (!ok && throw_on_failure) throw ConnectError(kComponent, detail);
        results->push_back(CheckResult{std::move(name), ok, std::move(detail)});
    };
    int version = conn.ServerVersion();
    report("server version", version >= 100000,
           version >= 100000
               ? "PostgreSQL " + std::to_string(version / 10000) + "." + std::to_string(version % 10000)
               : "PostgreSQL " + std::to_string(version) +
                     " has no pgoutput; cdcctl needs PostgreSQL 10 or later");
    std::string wal_level = conn.Value("SHOW wal_level", "reading wal_level").value_or("");
    report("wal_level", wal_level == "logical",
           wal_level == "logical"
               ? "logical"
               : "wal_level is '" + wal_level +
                     "'; cdcctl needs 'logical'. Set wal_level = logical in postgresql.conf and "
                     "restart PostgreSQL.");
    pg::ResultPtr role = conn.Exec(
        "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user",
        "reading the role's attributes");
    bool repl = PQntuples(role.get()) == 1 && (PQgetvalue(role.get(), 0, 0)[0] == 't' ||
                                               PQgetvalue(role.get(), 0, 1)[0] == 't');
    std::string user = conn.User();
    report("replication role", repl,
           repl ? "role '" + user + "' may replicate"
                : "role '" + user + "' lacks the REPLICATION attribute. Run as a superuser: ALTER "
                                    "ROLE " + conn.QuoteIdent(user) + " WITH REPLICATION;");
    std::vector<pg::TableInfo> tables;
    try {
        tables = pg::ResolveTables(conn, config.tables, config.exclude_tables);
        std::vector<std::string> names;
        for (const auto &t : tables) names.push_back(t.QualifiedName());
        report("tables", true, Join(names, ", "));
    } catch (const ConfigError &e) {
        if (throw_on_failure) throw;
        report("tables", false, e.what());
    }
    for (const auto &t : tables) {
        std::string qn = t.QualifiedName();
        report("select " + qn, t.can_select,
               t.can_select ? "readable"
                            : "role '" + user + "' cannot SELECT from " + qn + ". Run: GRANT SELECT ON " +
                                  conn.QuoteIdent(t.schema) + "." + conn.QuoteIdent(t.name) + " TO " +
                                  conn.QuoteIdent(user) + ";");
        bool identity_ok = t.replica_identity == 'f' || t.replica_identity == 'i' ||
                           (t.replica_identity == 'd' && t.has_primary_key);
        std::string detail;
        if (t.replica_identity == 'f') detail = "REPLICA IDENTITY FULL";
        else if (t.replica_identity == 'i') detail = "REPLICA IDENTITY USING INDEX";
        else if (identity_ok) detail = "primary key";
        else if (t.replica_identity == 'n')
            detail = "table " + qn + " has REPLICA IDENTITY NOTHING; updates and deletes cannot be "
                     "captured. Run: ALTER TABLE " + qn + " REPLICA IDENTITY DEFAULT; (with a primary "
                     "key) or REPLICA IDENTITY FULL;";
        else
            detail = "table " + qn + " has no primary key and REPLICA IDENTITY DEFAULT; updates and "
                     "deletes cannot be captured. Add a primary key or run: ALTER TABLE " + qn +
                     " REPLICA IDENTITY FULL;";
        report("replica identity " + qn, identity_ok, detail);
    }
    CheckResult publication = CheckPublication(conn, config.publication, tables);
    report(std::move(publication.name), publication.ok, std::move(publication.detail));
    return tables;
}

std::vector<CheckResult> RunChecks(const PostgresSourceConfig &config) {
    std::vector<CheckResult> results;
    std::optional<pg::Connection> conn;
    try {
        conn.emplace(pg::Connection::Open(config, pg::Connection::Kind::kRegular));
        results.push_back({"connect", true, "connected"});
    } catch (const ConnectError &e) {
        results.push_back({"connect", false, e.what()});
        return results;
    }
    CheckPrerequisites(*conn, config, &results, false);
    results.push_back(CheckSlot(*conn, config.slot));
    try {
        pg::Connection repl = pg::Connection::Open(config, pg::Connection::Kind::kReplication);
        repl.Exec("IDENTIFY_SYSTEM", "identifying the system");
        results.push_back({"replication connection", true, "accepted"});
    } catch (const Error &e) {
        results.push_back({"replication connection", false,
                           std::string(e.what()) + " (check pg_hba.conf allows replication "
                                                   "connections for this role and database)"});
    } catch (const pg::SqlError &e) {
        results.push_back({"replication connection", false, e.what()});
    }
    return results;
}

}  // namespace cdcctl::postgres
