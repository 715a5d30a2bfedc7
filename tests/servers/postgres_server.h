// A throwaway PostgreSQL server for integration tests.
//
// Each server lives in its own temp dir (data dir, unix socket, log file) and listens on a free
// TCP port on 127.0.0.1, so that tests can run in parallel. The superuser is "postgres" with
// password "postgres"; TCP connections, replication ones included, authenticate with
// scram-sha-256, the way a real deployment would, while the unix socket in the temp dir trusts
// everyone. When the harness runs as root, the server runs as the system user "postgres", because
// PostgreSQL refuses to run as root.
//
// The PostgreSQL binaries come from /usr/lib/postgresql/15/bin, or from $CDCCTL_PG_BINDIR.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cdcctl::testing {

struct PostgresServerOptions {
    std::string wal_level = "logical";
    int max_replication_slots = 10;
    int max_wal_senders = 10;
    // postgresql.conf lines written after the harness's own, so they override them:
    // {"wal_sender_timeout = '5s'", "max_slot_wal_keep_size = '1MB'"}.
    std::vector<std::string> extra_conf;
};

enum class StopMode {
    // Waits for clients to finish and checkpoints: a clean shutdown.
    kFast,
    // Kills the server without a checkpoint, as a crash or power loss would.
    kImmediate,
};

struct PgConnDeleter {
    void operator()(PGconn *conn) const { PQfinish(conn); }
};
using PgConn = std::unique_ptr<PGconn, PgConnDeleter>;

using QueryRows = std::vector<std::vector<std::optional<std::string>>>;

class PostgresServer {
public:
    // Creates, configures and starts a fresh server; throws std::runtime_error with the tail of
    // the server log when it does not come up.
    static std::unique_ptr<PostgresServer> Start(PostgresServerOptions options = {});
    // Stops the server (immediate mode) and removes the temp dir, unless
    // CDCCTL_KEEP_TEST_SERVERS=1.
    ~PostgresServer();
    PostgresServer(const PostgresServer &) = delete;
    PostgresServer &operator=(const PostgresServer &) = delete;

    int port() const { return port_; }
    std::string host() const { return "127.0.0.1"; }
    const std::string &data_dir() const { return data_dir_; }
    const std::string &log_file() const { return log_file_; }
    // The temp dir that holds the data dir, the log and the unix socket.
    const std::string &base_dir() const { return base_dir_; }
    // Where initdb, pg_ctl and pg_recvlogical come from.
    const std::string &bin_dir() const { return bin_dir_; }
    const PostgresServerOptions &options() const { return options_; }
    bool running() const { return running_; }

    // "host=127.0.0.1 port=N dbname=db user=user password=password", values quoted as libpq
    // requires when they contain spaces or quotes.
    std::string ConnInfo(const std::string &db = "postgres", const std::string &user = "postgres",
                         const std::string &password = "postgres") const;
    // A TCP connection as the superuser; throws with libpq's message when it fails.
    PgConn Connect(const std::string &db = "postgres") const;

    // Runs one or more statements; throws std::runtime_error with the server's message.
    void Exec(const std::string &sql, const std::string &db = "postgres") const;
    // The rows of the last statement's result as text; NULL is std::nullopt.
    QueryRows Query(const std::string &sql, const std::string &db = "postgres") const;
    // The single non-NULL value of a one-row, one-column result; throws otherwise.
    std::string QueryValue(const std::string &sql, const std::string &db = "postgres") const;
    void CreateDatabase(const std::string &name) const;

    // Rewrites the configuration with changed and restarts on the same port. Note that
    // PostgreSQL refuses to start with wal_level below 'logical' while a logical slot exists.
    void Restart(PostgresServerOptions changed);
    void Stop(StopMode mode = StopMode::kFast);
    // Starts a stopped server again with the current options, on the same port.
    void StartAgain();

    // The last lines of the server log, for failure messages.
    std::string LogTail(size_t lines = 40) const;

private:
    PostgresServer() = default;
    void InitDb();
    void WriteConf() const;
    // Starts the server on port_; returns false when the port was taken, throws otherwise.
    bool TryStart();
    std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;
    std::string Tool(const std::string &name) const { return bin_dir_ + "/" + name; }

    PostgresServerOptions options_;
    std::string bin_dir_;
    std::string base_dir_;
    std::string data_dir_;
    std::string log_file_;
    int port_ = 0;
    bool running_ = false;
};

}  // namespace cdcctl::testing
