#include "sources/postgres/pg_connection.h"

#include <sys/select.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/runtime/log.h"
#include "core/runtime/signals.h"

namespace cdcctl::pg {
namespace {

std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// The pipeline file is the whole configuration: libpq's own environment variables (PGHOSTADDR,
// PGUSER, PGDATESTYLE, PGSSLMODE, ...) would silently override or complete it, and some break the
// text formats the decoders read. They are removed from the process once, before the first
// connection; ${VAR} references in the pipeline file were resolved before that.
void ClearLibpqEnvironment() {
    static bool done = false;
    if (done) return;
    done = true;
    if (std::unique_ptr<PQconninfoOption, Free<PQconninfoFree>> opts{PQconndefaults()}) {
        for (PQconninfoOption *o = opts.get(); o->keyword; ++o) {
            if (o->envvar) unsetenv(o->envvar);
        }
    }
    for (const char *v : {"PGDATESTYLE", "PGTZ", "PGGEQO", "PGSERVICEFILE", "PGSYSCONFDIR",
                          "PGLOCALEDIR", "PGREQUIRESSL"}) {
        unsetenv(v);
    }
}

}  // namespace

std::string SqlState(const PGresult *res) {
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    return s ? s : "";
}

Connection Connection::Open(const PostgresSourceConfig &cfg, Kind kind) {
    ClearLibpqEnvironment();
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
    if (!cfg.sslrootcert.empty()) {
        keys.push_back("sslrootcert");
        vals.push_back(cfg.sslrootcert.c_str());
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
        const char *user = c.conn_ ? PQuser(c.conn_.get()) : nullptr;
        std::string who = user && *user ? user : cfg.user;
        throw ConnectError("postgres", log::Redact("cannot connect to PostgreSQL at " + where +
                                                   " as '" + who + "': " + msg));
    }
    return c;
}

// Queries go out asynchronously so that a stop request can cancel one that waits on the server
// (CREATE_REPLICATION_SLOT waits for running transactions; COPY waits for locks).
void Connection::WaitReady(const char *what) const {
    PGconn *c = conn_.get();
    while (PQisBusy(c)) {
        int fd = PQsocket(c);
        fd_set rfds;
        FD_ZERO(&rfds);
        FD_SET(fd, &rfds);
        timeval tv{0, 200000};
        select(fd + 1, &rfds, nullptr, nullptr, &tv);
        if (signals::StopRequested()) {
            if (std::unique_ptr<PGcancel, Free<PQfreeCancel>> cancel{PQgetCancel(c)}) {
                char err[256];
                PQcancel(cancel.get(), err, sizeof err);
            }
            throw InterruptedError("postgres", std::string("Stopped while ") + what + ".");
        }
        if (PQconsumeInput(c) == 0) {
            throw ConnectError("postgres", std::string("lost the connection to PostgreSQL while ") +
                                               what + ": " + Trim(PQerrorMessage(c)));
        }
    }
}

ResultPtr Connection::Collect(const char *what) const {
    ResultPtr last;
    while (true) {
        WaitReady(what);
        ResultPtr r(PQgetResult(conn_.get()));
        if (!r) break;
        ExecStatusType st = PQresultStatus(r.get());
        last = std::move(r);
        if (st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH || st == PGRES_COPY_IN) break;
    }
    ExecStatusType st = last ? PQresultStatus(last.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_OUT ||
        st == PGRES_COPY_BOTH) {
        return last;
    }
    std::string msg = last ? Trim(PQresultErrorMessage(last.get())) : "";
    if (msg.empty()) msg = Trim(PQerrorMessage(conn_.get()));
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
        throw ConnectError("postgres", std::string("lost the connection to PostgreSQL while ") + what + ": " + msg);
    }
    throw SqlError(std::string(what) + ": " + msg, SqlState(last.get()));
}

ResultPtr Connection::Exec(const std::string &sql, const char *what) const {
    if (PQsendQuery(conn_.get(), sql.c_str()) != 1) {
        throw ConnectError("postgres", std::string("cannot send a query to PostgreSQL while ") + what +
                                           ": " + Trim(PQerrorMessage(conn_.get())));
    }
    return Collect(what);
}

ResultPtr Connection::ExecParams(const std::string &sql,
                                 const std::vector<std::optional<std::string>> &params,
                                 const char *what) const {
    std::vector<const char *> values;
    for (const auto &p : params) values.push_back(p ? p->c_str() : nullptr);
    if (PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0) != 1) {
        throw ConnectError("postgres", std::string("cannot send a query to PostgreSQL while ") + what +
                                           ": " + Trim(PQerrorMessage(conn_.get())));
    }
    return Collect(what);
}

std::optional<std::string> Connection::Value(const std::string &sql, const char *what) const {
    ResultPtr res = Exec(sql, what);
    if (PQntuples(res.get()) == 0 || PQgetisnull(res.get(), 0, 0)) return std::nullopt;
    return std::string(PQgetvalue(res.get(), 0, 0));
}

std::string Connection::QuoteIdent(const std::string &ident) const {
    std::unique_ptr<char, Free<PQfreemem>> q(
        PQescapeIdentifier(conn_.get(), ident.c_str(), ident.size()));
    if (!q) throw Error("postgres", "cannot quote identifier '" + ident + "'");
    return std::string(q.get());
}

std::string Connection::QuoteLiteral(const std::string &lit) const {
    std::unique_ptr<char, Free<PQfreemem>> q(PQescapeLiteral(conn_.get(), lit.c_str(), lit.size()));
    if (!q) throw Error("postgres", "cannot quote literal");
    return std::string(q.get());
}

std::string Connection::User() const {
    const char *u = PQuser(conn_.get());
    return u ? u : "";
}

}  // namespace cdcctl::pg
