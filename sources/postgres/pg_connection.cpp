#include "sources/postgres/pg_connection.h"

#include <cstring>

#include "core/error.h"
#include "core/runtime/log.h"

namespace cdcctl::pg {
namespace {

std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

std::string SqlState(const PGresult *res) {
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    return s ? s : "";
}

Connection Connection::Open(const PostgresSourceConfig &cfg, Kind kind) {
    std::vector<const char *> keys;
    std::vector<const char *> vals;
    std::string port = std::to_string(cfg.port);
    // The text decoders depend on these settings; pgoutput formats values in the walsender's
    // session, so the replication connection needs them too.
    static const char *kOptions =
        "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3 "
        "-c bytea_output=hex -c client_encoding=UTF8";
    if (!cfg.url.empty()) {
        keys.push_back("dbname");
        vals.push_back(cfg.url.value.c_str());
    } else {
        keys.push_back("host");
        vals.push_back(cfg.host.c_str());
        keys.push_back("port");
        vals.push_back(port.c_str());
        if (!cfg.user.empty()) {
            keys.push_back("user");
            vals.push_back(cfg.user.c_str());
        }
        if (!cfg.database.empty()) {
            keys.push_back("dbname");
            vals.push_back(cfg.database.c_str());
        }
        keys.push_back("sslmode");
        vals.push_back(cfg.sslmode.c_str());
    }
    if (!cfg.password.empty()) {
        keys.push_back("password");
        vals.push_back(cfg.password.value.c_str());
    }
    keys.push_back("application_name");
    vals.push_back("cdcctl");
    keys.push_back("options");
    vals.push_back(kOptions);
    keys.push_back("connect_timeout");
    vals.push_back("10");
    if (kind == Kind::kReplication) {
        keys.push_back("replication");
        vals.push_back("database");
    }
    keys.push_back(nullptr);
    vals.push_back(nullptr);

    Connection c;
    c.conn_.reset(PQconnectdbParams(keys.data(), vals.data(), cfg.url.empty() ? 0 : 1));
    if (!c.conn_ || PQstatus(c.conn_.get()) != CONNECTION_OK) {
        std::string msg = c.conn_ ? Trim(PQerrorMessage(c.conn_.get())) : "out of memory";
        std::string where = cfg.url.empty()
                                ? "'" + cfg.host + ":" + port + "' database '" + cfg.database + "'"
                                : "the configured url";
        throw ConnectError("postgres", log::Redact("cannot connect to PostgreSQL at " + where +
                                                   " as '" + cfg.user + "': " + msg));
    }
    return c;
}

ResultPtr Connection::Exec(const std::string &sql, const char *what) const {
    ResultPtr res(PQexec(conn_.get(), sql.c_str()));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_OUT ||
        st == PGRES_COPY_BOTH) {
        return res;
    }
    std::string msg = Trim(PQerrorMessage(conn_.get()));
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
        throw ConnectError("postgres", std::string("lost the connection to PostgreSQL while ") + what + ": " + msg);
    }
    throw SqlError(std::string(what) + ": " + msg, SqlState(res.get()));
}

ResultPtr Connection::ExecParams(const std::string &sql,
                                 const std::vector<std::optional<std::string>> &params,
                                 const char *what) const {
    std::vector<const char *> values;
    for (const auto &p : params) values.push_back(p ? p->c_str() : nullptr);
    ResultPtr res(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
    std::string msg = Trim(PQerrorMessage(conn_.get()));
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
        throw ConnectError("postgres", std::string("lost the connection to PostgreSQL while ") + what + ": " + msg);
    }
    throw SqlError(std::string(what) + ": " + msg, SqlState(res.get()));
}

std::optional<std::string> Connection::Value(const std::string &sql, const char *what) const {
    ResultPtr res = Exec(sql, what);
    if (PQntuples(res.get()) == 0 || PQgetisnull(res.get(), 0, 0)) return std::nullopt;
    return std::string(PQgetvalue(res.get(), 0, 0));
}

std::string Connection::QuoteIdent(const std::string &ident) const {
    char *q = PQescapeIdentifier(conn_.get(), ident.c_str(), ident.size());
    if (!q) throw Error("postgres", "cannot quote identifier '" + ident + "'");
    std::string out(q);
    PQfreemem(q);
    return out;
}

std::string Connection::QuoteLiteral(const std::string &lit) const {
    char *q = PQescapeLiteral(conn_.get(), lit.c_str(), lit.size());
    if (!q) throw Error("postgres", "cannot quote literal");
    std::string out(q);
    PQfreemem(q);
    return out;
}

std::string Connection::User() const {
    const char *u = PQuser(conn_.get());
    return u ? u : "";
}

}  // namespace cdcctl::pg
