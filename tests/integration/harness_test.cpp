// The test harness itself: if these fail, every other integration test is suspect.
//
// Server tests group their checks in plain blocks rather than SUBCASEs, because doctest reruns the
// whole test case, server start included, for every SUBCASE.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "tests/servers/postgres_server.h"
#include "tests/servers/process.h"

using namespace cdcctl::testing;

TEST_CASE("a PostgreSQL server stores and returns rows") {
    auto server = PostgresServer::Start();
    CHECK(server->port() > 0);
    CHECK(server->host() == "127.0.0.1");
    CHECK(std::filesystem::exists(server->data_dir() + "/PG_VERSION"));

    server->Exec(
        "CREATE TABLE items (id int PRIMARY KEY, name text);"
        "INSERT INTO items VALUES (1, 'one'), (2, NULL), (3, 'it''s three');");
    QueryRows rows = server->Query("SELECT id, name FROM items ORDER BY id");
    REQUIRE(rows.size() == 3);
    CHECK(rows[0][0] == "1");
    CHECK(rows[0][1] == "one");
    CHECK_FALSE(rows[1][1].has_value());
    CHECK(rows[2][1] == "it's three");
    CHECK(server->QueryValue("SELECT count(*) FROM items") == "3");
    CHECK(server->QueryValue("SHOW server_encoding") == "UTF8");
    CHECK(server->QueryValue("SHOW TimeZone") == "UTC");

    {  // errors carry the server's message
        try {
            server->Exec("INSERT INTO items VALUES (1, 'duplicate')");
            FAIL("a duplicate key was accepted");
        } catch (const std::runtime_error &e) {
            CHECK(std::string(e.what()).find("duplicate key value violates unique constraint") !=
                  std::string::npos);
        }
        CHECK_THROWS_WITH_AS(server->QueryValue("SELECT NULL"), doctest::Contains("NULL"),
                             std::runtime_error);
        CHECK_THROWS_AS(server->QueryValue("SELECT 1, 2"), std::runtime_error);
    }

    {  // other databases are reachable by name
        server->CreateDatabase("shop");
        server->Exec("CREATE TABLE orders (id int); INSERT INTO orders VALUES (7)", "shop");
        CHECK(server->QueryValue("SELECT id FROM orders", "shop") == "7");
        CHECK(server->QueryValue("SELECT current_database()", "shop") == "shop");
    }

    {  // TCP connections need the right password
        PgConn wrong(PQconnectdb(server->ConnInfo("postgres", "postgres", "wrong").c_str()));
        CHECK(PQstatus(wrong.get()) == CONNECTION_BAD);
        CHECK(std::string(PQerrorMessage(wrong.get())).find("password authentication failed") !=
              std::string::npos);

        server->Exec("CREATE ROLE app LOGIN PASSWORD 'app secret'");
        PgConn app(PQconnectdb(server->ConnInfo("postgres", "app", "app secret").c_str()));
        CHECK(PQstatus(app.get()) == CONNECTION_OK);
    }
}

TEST_CASE("wal_level is logical by default and can be changed by a restart") {
    auto server = PostgresServer::Start();
    CHECK(server->QueryValue("SHOW wal_level") == "logical");
    server->QueryValue("SELECT lsn FROM pg_create_logical_replication_slot('s', 'pgoutput')");
    CHECK(server->QueryValue("SELECT plugin FROM pg_replication_slots WHERE slot_name = 's'") ==
          "pgoutput");

    // A replication connection authenticates through the 'host replication' line of pg_hba.
    PgConn replication(PQconnectdb((server->ConnInfo() + " replication=database").c_str()));
    REQUIRE_MESSAGE(PQstatus(replication.get()) == CONNECTION_OK,
                    PQerrorMessage(replication.get()));
    PGresult *identify = PQexec(replication.get(), "IDENTIFY_SYSTEM");
    CHECK(PQresultStatus(identify) == PGRES_TUPLES_OK);
    PQclear(identify);
    replication.reset();

    // PostgreSQL refuses to start below 'logical' while a logical slot exists.
    server->Exec("SELECT pg_drop_replication_slot('s')");
    int port = server->port();
    PostgresServerOptions replica;
    replica.wal_level = "replica";
    server->Restart(replica);
    CHECK(server->port() == port);
    CHECK(server->QueryValue("SHOW wal_level") == "replica");
    CHECK_THROWS_WITH_AS(
        server->Exec("SELECT pg_create_logical_replication_slot('t', 'pgoutput')"),
        doctest::Contains("wal_level"), std::runtime_error);

    {  // extra_conf overrides the harness's settings
        PostgresServerOptions tuned;
        tuned.extra_conf = {"wal_sender_timeout = '5s'", "max_slot_wal_keep_size = '64MB'"};
        server->Restart(tuned);
        CHECK(server->QueryValue("SHOW wal_level") == "logical");
        CHECK(server->QueryValue("SHOW wal_sender_timeout") == "5s");
        CHECK(server->QueryValue("SHOW max_slot_wal_keep_size") == "64MB");
    }

    {  // a stopped server refuses connections and starts again with its data
        server->Exec("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)");
        server->Stop(StopMode::kImmediate);
        CHECK_FALSE(server->running());
        CHECK_THROWS_AS(server->Exec("SELECT 1"), std::runtime_error);
        server->StartAgain();
        CHECK(server->QueryValue("SELECT v FROM kept") == "42");
    }
}

TEST_CASE("two servers run at once on different ports") {
    auto first = PostgresServer::Start();
    auto second = PostgresServer::Start();
    CHECK(first->port() != second->port());
    CHECK(first->data_dir() != second->data_dir());
    first->Exec("CREATE TABLE only_first (v int)");
    CHECK(first->QueryValue("SELECT count(*) FROM pg_tables WHERE tablename = 'only_first'") ==
          "1");
    CHECK(second->QueryValue("SELECT count(*) FROM pg_tables WHERE tablename = 'only_first'") ==
          "0");
    CHECK(second->QueryValue("SELECT inet_server_port()") == std::to_string(second->port()));

    std::string base_dir = first->base_dir();
    first.reset();
    if (!KeepTestArtifacts()) CHECK_FALSE(std::filesystem::exists(base_dir));
    CHECK(second->QueryValue("SELECT 1") == "1");
}

TEST_CASE("RunProcess captures stdout, stderr and the exit code separately") {
    ProcessResult result = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
    CHECK(result.exit_code == 3);
    CHECK(result.term_signal == 0);
    CHECK_FALSE(result.timed_out);
    CHECK(result.out == "out\n");
    CHECK(result.err == "err\n");
}

TEST_CASE("RunProcess passes environment, working directory and stdin") {
    TempDir dir;
    ProcessResult result = RunShell("pwd; echo \"$CDCCTL_HARNESS_VAR\"; cat", {
        {"CDCCTL_HARNESS_VAR", "value with spaces"}}, 30s, dir.path(), "from stdin\n");
    CHECK(result.exit_code == 0);
    CHECK(result.out == std::filesystem::canonical(dir.path()).string() +
                            "\nvalue with spaces\nfrom stdin\n");
}

TEST_CASE("RunProcess does not deadlock on large output on both pipes and large input") {
    std::string input(4 << 20, 'x');
    ProcessResult result = RunShell("tee /dev/stderr | wc -c", {}, 60s, "", input);
    CHECK(result.exit_code == 0);
    CHECK(result.out == std::to_string(input.size()) + "\n");
    CHECK(result.err.size() == input.size());
}

TEST_CASE("RunProcess survives a child that stops reading its stdin") {
    std::string input(1 << 20, 'y');
    ProcessResult result = RunShell("head -c 10", {}, 30s, "", input);
    CHECK(result.exit_code == 0);
    CHECK(result.out == "yyyyyyyyyy");
}

TEST_CASE("pipelines see SIGPIPE as a shell would") {
    ProcessResult result = RunShell("yes | head -n 2", {}, 30s);
    CHECK(result.exit_code == 0);
    CHECK(result.out == "y\ny\n");
}

TEST_CASE("RunProcess kills a process that runs past its timeout") {
    auto started = std::chrono::steady_clock::now();
    ProcessResult result = RunShell("echo started; sleep 30", {}, 300ms);
    CHECK(result.timed_out);
    CHECK(result.term_signal == SIGKILL);
    CHECK(result.out == "started\n");
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(result.Describe().find("timed out") != std::string::npos);
}

TEST_CASE("RunProcess reports a program that does not exist") {
    CHECK_THROWS_WITH_AS(RunProcess({"cdcctl-no-such-program"}),
                         doctest::Contains("not found in PATH"), std::runtime_error);
    CHECK_THROWS_WITH_AS(RunProcess({"/bin/true"}, {}, 10s, "/nonexistent-dir"),
                         doctest::Contains("change directory"), std::runtime_error);
}

TEST_CASE("children inherit no descriptors beyond 0-2") {
    TempDir dir;
    std::string marker = dir.File("leak-marker");
    WriteFile(marker, "");
    int leaked = ::open(marker.c_str(), O_RDONLY);  // deliberately without O_CLOEXEC
    REQUIRE(leaked >= 3);
    BackgroundProcess child({"sleep", "30"});
    ::close(leaked);
    // Looked at from outside, by target: the child may briefly open files of its own (the
    // locale), and a shell listing its own fds would also see its pipeline's pipes.
    std::set<int> fds;
    for (const auto &entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(child.pid()) + "/fd")) {
        std::error_code gone;
        auto target = std::filesystem::read_symlink(entry.path(), gone);
        if (gone) continue;
        CHECK_MESSAGE(target.string() != marker, "fd ", entry.path().filename().string(),
                      " of the child is the parent's fd ", leaked);
        fds.insert(std::stoi(entry.path().filename().string()));
    }
    CHECK(fds.count(0) + fds.count(1) + fds.count(2) == 3);
}

TEST_CASE("a BackgroundProcess can be killed with SIGKILL") {
    BackgroundProcess process({"sh", "-c", "echo ready; echo on stderr >&2; exec sleep 60"});
    CHECK(process.pid() > 0);
    REQUIRE(process.WaitForStdout("ready", 10s));
    REQUIRE(process.WaitForStderr("on stderr", 10s));
    CHECK(process.Running());
    CHECK_FALSE(process.WaitFor(50ms).has_value());
    process.Kill(SIGKILL);
    ProcessResult result = process.Wait();
    CHECK(result.term_signal == 9);
    CHECK(result.exit_code == -1);
    CHECK(result.out == "ready\n");
    CHECK(result.err == "on stderr\n");
    CHECK_FALSE(process.Running());
}

TEST_CASE("a BackgroundProcess reports its exit code and output") {
    BackgroundProcess process({"sh", "-c", "echo done; exit 4"});
    auto result = process.WaitFor(10s);
    REQUIRE(result.has_value());
    CHECK(result->exit_code == 4);
    CHECK(result->out == "done\n");
    CHECK_FALSE(process.WaitForStdout("never printed", 1s));
}

TEST_CASE("WriteFile and ReadFile round-trip and fail clearly") {
    TempDir dir;
    WriteFile(dir.File("a.txt"), std::string("binary\0data", 11));
    CHECK(ReadFile(dir.File("a.txt")) == std::string("binary\0data", 11));
    CHECK_THROWS_WITH_AS(ReadFile(dir.File("missing")), doctest::Contains("missing"),
                         std::runtime_error);
    CHECK(ShellQuote("it's") == "'it'\\''s'");
}
