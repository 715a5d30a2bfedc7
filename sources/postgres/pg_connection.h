// libpq connections for the PostgreSQL source: a regular connection (catalog, snapshot, checks)
// or a replication connection (replication=database: slots and START_REPLICATION). Every session
// gets the settings the text decoders rely on (TimeZone=UTC, DateStyle=ISO, ...).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/util/handle.h"
#include "sources/postgres/postgres_config.h"

namespace cdcctl::pg {

// Callers spell it pg::Free<PQfreemem>.
using cdcctl::Free;
using ConnPtr = Handle<PGconn, PQfinish>;
using ResultPtr = Handle<PGresult, PQclear>;

class Connection {
public:
    enum class Kind { kRegular, kReplication };

    // Throws ConnectError with libpq's message (secrets redacted by the logger, never included).
    static Connection Open(const PostgresSourceConfig &cfg, Kind kind);

    PGconn *get() const { return conn_.get(); }
    // Runs a command or query; throws ConnectError (connection lost) or Error (SQL failure) with
    // `what` naming the operation.
    ResultPtr Exec(const std::string &sql, const char *what) const;
    ResultPtr ExecParams(const std::string &sql, const std::vector<std::optional<std::string>> &params,
                         const char *what) const;
    // The first column of the first row, or nullopt.
    std::optional<std::string> Value(const std::string &sql, const char *what) const;
    std::string QuoteIdent(const std::string &ident) const;
    std::string QuoteLiteral(const std::string &lit) const;
    int ServerVersion() const { return PQserverVersion(conn_.get()); }
    std::string User() const;

private:
    void WaitReady(const char *what) const;
    ResultPtr Collect(const char *what) const;

    ConnPtr conn_;
};

// SQLSTATE of a failed result ("42501" insufficient_privilege, ...), or "".
std::string SqlState(const PGresult *res);

// A SQL error from the server, with its SQLSTATE.
class SqlError : public std::runtime_error {
public:
    SqlError(const std::string &msg, std::string sqlstate)
        : std::runtime_error(msg), sqlstate_(std::move(sqlstate)) {}
    const std::string &SqlState() const { return sqlstate_; }

private:
    std::string sqlstate_;
};

}  // namespace cdcctl::pg
