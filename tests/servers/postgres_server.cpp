#include "tests/servers/postgres_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "tests/servers/process.h"

namespace cdcctl::testing {
namespace {

constexpr const char *kDefaultBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char *kServerUser = "postgres";
constexpr const char *kSuperuserPassword = "postgres";
constexpr const char *kHarnessConf = "cdcctl_harness.conf";
// A port can be taken between choosing it and the server binding it, by a parallel test or by
// the ephemeral port of some client connection; then the harness picks another.
constexpr int kPortAttempts = 10;

struct PgResultDeleter {
    void operator()(PGresult *result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

int PickFreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket() failed: " + std::string(strerror(errno)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
        int err = errno;
        ::close(fd);
        throw std::runtime_error("cannot find a free port on 127.0.0.1: " +
                                 std::string(strerror(err)));
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

// A postgresql.conf string literal.
std::string ConfQuote(const std::string &value) {
    std::string quoted = "'";
    for (char c : value) {
        if (c == '\'') quoted += '\'';
        quoted += c;
    }
    return quoted + "'";
}

// A libpq conninfo value: bare when it can be, otherwise single-quoted with \ escapes.
std::string ConnInfoValue(const std::string &value) {
    bool plain = !value.empty() && value.find_first_of(" \t\n\r'\\") == std::string::npos;
    if (plain) return value;
    std::string quoted = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return quoted + "'";
}

std::string QuoteIdentifier(const std::string &name) {
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    return quoted + "\"";
}

bool RunningAsRoot() { return ::geteuid() == 0; }

// Gives path to the server user, who must own the data dir and write the log and socket.
void ChownToServerUser(const std::string &path) {
    if (!RunningAsRoot()) return;
    passwd *user = ::getpwnam(kServerUser);
    if (user == nullptr) {
        throw std::runtime_error(std::string("the harness runs as root but there is no system user '") +
                                 kServerUser + "' to run PostgreSQL as; install postgresql-15");
    }
    if (::chown(path.c_str(), user->pw_uid, user->pw_gid) != 0) {
        throw std::runtime_error("cannot chown '" + path + "' to '" + kServerUser +
                                 "': " + strerror(errno));
    }
}

std::string ShortSql(const std::string &sql) {
    constexpr size_t kMax = 300;
    return sql.size() > kMax ? sql.substr(0, kMax) + "..." : sql;
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::Start(PostgresServerOptions options) {
    // Owned from the first moment, so that a failure below still stops and cleans up.
    std::unique_ptr<PostgresServer> server(new PostgresServer());
    server->options_ = std::move(options);
    const char *bin_dir = std::getenv("CDCCTL_PG_BINDIR");
    server->bin_dir_ = bin_dir && *bin_dir ? bin_dir : kDefaultBinDir;
    if (::access(server->Tool("pg_ctl").c_str(), X_OK) != 0) {
        throw std::runtime_error("PostgreSQL server binaries not found in '" + server->bin_dir_ +
                                 "'; run scripts/setup (package postgresql-15) or set "
                                 "CDCCTL_PG_BINDIR");
    }
    server->base_dir_ = MakeTempDir("cdcctl-pg-");
    server->data_dir_ = server->base_dir_ + "/data";
    server->log_file_ = server->base_dir_ + "/postgres.log";
    ChownToServerUser(server->base_dir_);
    server->InitDb();

    for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
        server->port_ = PickFreePort();
        server->WriteConf();
        if (server->TryStart()) return server;
    }
    throw std::runtime_error("PostgreSQL could not bind a free port on 127.0.0.1 in " +
                             std::to_string(kPortAttempts) + " attempts; server log " +
                             server->log_file_ + " ends with:\n" + server->LogTail());
}

PostgresServer::~PostgresServer() {
    if (running_) {
        try {
            Stop(StopMode::kImmediate);
        } catch (const std::exception &e) {
            std::cerr << "could not stop the PostgreSQL server in " << base_dir_ << ": "
                      << e.what() << "\n";
        }
    }
    if (base_dir_.empty()) return;
    if (KeepTestArtifacts()) {
        std::cerr << "kept the PostgreSQL server dir " << base_dir_ << " (port " << port_
                  << ")\n";
        return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(base_dir_, ignored);
}

std::vector<std::string> PostgresServer::AsServerUser(std::vector<std::string> argv) const {
    if (!RunningAsRoot()) return argv;
    std::vector<std::string> wrapped = {"runuser", "-u", kServerUser, "--"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
}

namespace {

// initdb costs about a second of CPU per server while a copy of its result costs a tenth of that,
// so each test process runs initdb once, into a template, and copies it for every server.
class DataDirTemplate {
public:
    ~DataDirTemplate() {
        if (base_dir_.empty() || KeepTestArtifacts()) return;
        std::error_code ignored;
        std::filesystem::remove_all(base_dir_, ignored);
    }

    // The template's data dir, created by the first caller.
    std::string Get(const std::string &bin_dir,
                    const std::function<std::vector<std::string>(std::vector<std::string>)>
                        &as_server_user) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!data_dir_.empty()) return data_dir_;
        std::string base_dir = MakeTempDir("cdcctl-pg-template-");
        base_dir_ = base_dir;
        ChownToServerUser(base_dir);
        std::string data_dir = base_dir + "/data";
        std::string password_file = base_dir + "/superuser_password";
        WriteFile(password_file, std::string(kSuperuserPassword) + "\n");
        ChownToServerUser(password_file);
        // -N: no fsync, a test server does not outlive a crash of the machine.
        ProcessResult result = RunProcess(
            as_server_user({bin_dir + "/initdb", "-D", data_dir, "-U", kServerUser,
                            "--pwfile=" + password_file, "--auth-host=scram-sha-256",
                            "--auth-local=trust", "--encoding=UTF8", "--locale=C", "-N"}),
            {}, 120s, base_dir);
        std::filesystem::remove(password_file);
        if (result.exit_code != 0) {
            throw std::runtime_error("initdb failed for " + data_dir + ": " + result.Describe() +
                                     "\n" + result.out);
        }

        // Written out rather than left to initdb's defaults, because the tests depend on exactly
        // this: passwords over TCP (cdcctl's real path), trust on the private unix socket.
        std::string hba_file = data_dir + "/pg_hba.conf";
        WriteFile(hba_file,
                  "# Written by the cdcctl test harness.\n"
                  "local   all          all                  trust\n"
                  "local   replication  all                  trust\n"
                  "host    all          all   127.0.0.1/32   scram-sha-256\n"
                  "host    replication  all   127.0.0.1/32   scram-sha-256\n");
        ChownToServerUser(hba_file);
        std::string conf_file = data_dir + "/postgresql.conf";
        WriteFile(conf_file,
                  ReadFile(conf_file) + "\ninclude_if_exists = '" + kHarnessConf + "'\n");
        data_dir_ = data_dir;
        return data_dir_;
    }

private:
    std::mutex mutex_;
    std::string base_dir_;
    std::string data_dir_;
};

DataDirTemplate data_dir_template;

}  // namespace

void PostgresServer::InitDb() {
    std::string template_dir = data_dir_template.Get(
        bin_dir_, [this](std::vector<std::string> argv) { return AsServerUser(std::move(argv)); });
    // cp -a keeps the owner (the server user) and the 0700 mode PostgreSQL insists on.
    ProcessResult result = RunProcess({"cp", "-a", template_dir, data_dir_}, {}, 120s);
    if (result.exit_code != 0) {
        throw std::runtime_error("cannot copy the template data dir " + template_dir + " to " +
                                 data_dir_ + ": " + result.Describe());
    }
}

void PostgresServer::WriteConf() const {
    std::ostringstream conf;
    conf << "# Written by the cdcctl test harness; rewritten on every (re)start.\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port_ << "\n"
         << "unix_socket_directories = " << ConfQuote(base_dir_) << "\n"
         << "wal_level = " << ConfQuote(options_.wal_level) << "\n"
         << "max_replication_slots = " << options_.max_replication_slots << "\n"
         << "max_wal_senders = " << options_.max_wal_senders << "\n"
         << "max_connections = 50\n"
         // Small and unsynced: several servers share two cores and nothing must survive a crash
         // of the machine.
         << "shared_buffers = '16MB'\n"
         << "fsync = off\n"
         << "full_page_writes = off\n"
         << "huge_pages = off\n"
         << "wal_sender_timeout = '60s'\n"
         // Deterministic text for assertions: UTC timestamps and English messages.
         << "timezone = 'UTC'\n"
         << "log_timezone = 'UTC'\n"
         << "lc_messages = 'C'\n"
         << "logging_collector = off\n"
         << "log_line_prefix = '%m [%p] %q%u@%d '\n";
    for (const auto &line : options_.extra_conf) conf << line << "\n";
    std::string path = data_dir_ + "/" + kHarnessConf;
    WriteFile(path, conf.str());
    ChownToServerUser(path);
}

bool PostgresServer::TryStart() {
    size_t log_offset = std::filesystem::exists(log_file_) ? ReadFile(log_file_).size() : 0;
    ProcessResult result = RunProcess(
        AsServerUser({Tool("pg_ctl"), "-D", data_dir_, "-l", log_file_, "-w", "-t", "60", "start"}),
        {}, 90s, base_dir_);
    if (result.exit_code == 0) {
        running_ = true;
        return true;
    }
    std::string log = std::filesystem::exists(log_file_) ? ReadFile(log_file_) : "";
    std::string new_log = log.size() > log_offset ? log.substr(log_offset) : "";
    if (new_log.find("could not bind IPv4 address") != std::string::npos ||
        new_log.find("Address already in use") != std::string::npos) {
        return false;
    }
    throw std::runtime_error("PostgreSQL did not start on port " + std::to_string(port_) +
                             " (data dir " + data_dir_ + "): pg_ctl " + result.Describe() + "\n" +
                             result.out + "server log " + log_file_ + " ends with:\n" + LogTail());
}

void PostgresServer::Stop(StopMode mode) {
    if (!running_) return;
    ProcessResult result = RunProcess(
        AsServerUser({Tool("pg_ctl"), "-D", data_dir_, "-m",
                      mode == StopMode::kFast ? "fast" : "immediate", "-w", "-t", "60", "stop"}),
        {}, 90s, base_dir_);
    if (result.exit_code != 0) {
        // A server that is already gone (killed by a test) counts as stopped.
        bool gone = !std::filesystem::exists(data_dir_ + "/postmaster.pid");
        if (!gone) {
            throw std::runtime_error("pg_ctl stop failed for " + data_dir_ + ": " +
                                     result.Describe() + "\nserver log ends with:\n" + LogTail());
        }
    }
    running_ = false;
}

void PostgresServer::StartAgain() {
    if (running_) throw std::runtime_error("StartAgain: the server on port " +
                                           std::to_string(port_) + " is already running");
    WriteConf();
    if (!TryStart()) {
        throw std::runtime_error("PostgreSQL cannot start again: port " + std::to_string(port_) +
                                 " has been taken by another process meanwhile");
    }
}

void PostgresServer::Restart(PostgresServerOptions changed) {
    options_ = std::move(changed);
    Stop(StopMode::kFast);
    StartAgain();
}

std::string PostgresServer::ConnInfo(const std::string &db, const std::string &user,
                                     const std::string &password) const {
    return "host=" + host() + " port=" + std::to_string(port_) + " dbname=" + ConnInfoValue(db) +
           " user=" + ConnInfoValue(user) + " password=" + ConnInfoValue(password);
}

PgConn PostgresServer::Connect(const std::string &db) const {
    PgConn conn(PQconnectdb((ConnInfo(db) + " connect_timeout=10").c_str()));
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
        std::string message = conn ? PQerrorMessage(conn.get()) : "out of memory";
        throw std::runtime_error("cannot connect to PostgreSQL at 127.0.0.1:" +
                                 std::to_string(port_) + " database '" + db + "': " + message);
    }
    // Notices such as "table does not exist, skipping" are noise in test output.
    PQsetNoticeProcessor(conn.get(), [](void *, const char *) {}, nullptr);
    return conn;
}

void PostgresServer::Exec(const std::string &sql, const std::string &db) const {
    Query(sql, db);
}

QueryRows PostgresServer::Query(const std::string &sql, const std::string &db) const {
    PgConn conn = Connect(db);
    PgResult result(PQexec(conn.get(), sql.c_str()));
    ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        std::string message = result ? PQresultErrorMessage(result.get()) : "";
        if (message.empty()) message = PQerrorMessage(conn.get());
        throw std::runtime_error("SQL failed in database '" + db + "': " + message +
                                 "statement: " + ShortSql(sql));
    }
    QueryRows rows;
    int row_count = PQntuples(result.get());
    int column_count = PQnfields(result.get());
    rows.reserve(static_cast<size_t>(row_count));
    for (int row = 0; row < row_count; ++row) {
        auto &values = rows.emplace_back();
        values.reserve(static_cast<size_t>(column_count));
        for (int column = 0; column < column_count; ++column) {
            if (PQgetisnull(result.get(), row, column)) {
                values.emplace_back(std::nullopt);
            } else {
                values.emplace_back(std::string(PQgetvalue(result.get(), row, column),
                                                PQgetlength(result.get(), row, column)));
            }
        }
    }
    return rows;
}

std::string PostgresServer::QueryValue(const std::string &sql, const std::string &db) const {
    QueryRows rows = Query(sql, db);
    if (rows.size() != 1 || rows[0].size() != 1) {
        throw std::runtime_error("QueryValue expects one row with one column, got " +
                                 std::to_string(rows.size()) + " rows" +
                                 (rows.empty() ? "" : " of " + std::to_string(rows[0].size()) +
                                                          " columns") +
                                 ": " + ShortSql(sql));
    }
    if (!rows[0][0]) throw std::runtime_error("QueryValue got NULL: " + ShortSql(sql));
    return *rows[0][0];
}

void PostgresServer::CreateDatabase(const std::string &name) const {
    Exec("CREATE DATABASE " + QuoteIdentifier(name));
}

std::string PostgresServer::LogTail(size_t lines) const {
    if (!std::filesystem::exists(log_file_)) return "(no server log at " + log_file_ + ")\n";
    std::string log = ReadFile(log_file_);
    size_t start = log.size();
    size_t seen = 0;
    // Skip a trailing newline so that it does not count as an empty last line.
    size_t pos = log.size() > 0 && log.back() == '\n' ? log.size() - 1 : log.size();
    while (pos > 0) {
        --pos;
        if (log[pos] == '\n' && ++seen == lines) {
            start = pos + 1;
            break;
        }
        start = pos;
    }
    return log.substr(start);
}

}  // namespace cdcctl::testing
