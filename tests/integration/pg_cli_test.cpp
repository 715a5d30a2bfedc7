// The command line as a user meets it: exit codes and the key phrases of the messages for
// configuration mistakes, missing prerequisites, a second run, a closed pipe, secrets, a state
// file that disagrees with the server, and the small commands (state, discover, --version).
// Everything runs the real cdcctl binary, most of it against a real PostgreSQL 15.
#include <signal.h>

#include <filesystem>
#include <set>
#include <thread>

#include "core/state/state_store.h"
#include "sources/postgres/replication_messages.h"
#include "tests/integration/cdc_fixture.h"

using namespace cdcctl;
using namespace cdcctl::testing;

namespace {

bool Contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> Lines(const std::string &text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty()) out.push_back(line);
    }
    return out;
}


// cdcctl without a server: configuration and usage errors.
ProcessResult RunCdcctl(const std::vector<std::string> &args, const std::string &cwd,
                        const std::map<std::string, std::string> &env = {}) {
    std::vector<std::string> argv{CDCCTL_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, env, std::chrono::seconds(60), cwd);
}

// A pipeline file that is valid apart from what `extra_source` adds under source:.
std::string ConfigFile(const std::string &extra_source, const std::string &port = "5432") {
    return "pipeline: cfg\n"
           "source:\n"
           "  type: postgres\n"
           "  host: 127.0.0.1\n"
           "  port: " +
           port +
           "\n"
           "  database: shop\n"
           "  tables: [public.product]\n" +
           extra_source +
           "sink:\n"
           "  type: stdout\n";
}

// The "PASS|FAIL  name: detail" lines of `cdcctl check`, by name.
struct CheckLine {
    bool pass = false;
    std::string detail;
};

std::map<std::string, CheckLine> CheckLines(const std::string &out) {
    std::map<std::string, CheckLine> lines;
    for (const auto &line : Lines(out)) {
        bool pass = line.rfind("PASS  ", 0) == 0;
        bool fail = line.rfind("FAIL  ", 0) == 0;
        if (!pass && !fail) continue;
        size_t colon = line.find(": ", 6);
        REQUIRE_MESSAGE(colon != std::string::npos, "malformed check line: " << line);
        lines[line.substr(6, colon - 6)] = CheckLine{pass, line.substr(colon + 2)};
    }
    return lines;
}

// What `cdcctl check` reports for one table, public.product.
const std::set<std::string> kCheckItems = {
    "config",           "connect", "server version",        "wal_level",
    "replication role", "tables",  "select public.product", "replica identity public.product",
    "publication",      "slot",    "replication connection"};

// Checks that `check` printed every item, that exactly `failing` failed, and returns the lines.
std::map<std::string, CheckLine> ExpectCheck(const ProcessResult &r,
                                             const std::set<std::string> &failing) {
    auto lines = CheckLines(r.out);
    std::set<std::string> names;
    for (const auto &[name, line] : lines) {
        names.insert(name);
        if (failing.count(name)) {
            CHECK_MESSAGE(!line.pass, name << " passed: " << line.detail);
        } else {
            CHECK_MESSAGE(line.pass, name << " failed: " << line.detail);
        }
    }
    CHECK_MESSAGE(names == kCheckItems, r.out);
    CHECK_MESSAGE(r.exit_code == (failing.empty() ? 0 : 69), r.Describe());
    return lines;
}

std::set<long> IdSet(const std::vector<Event> &events, const std::string &op = "") {
    std::set<long> ids;
    for (const auto &e : events) {
        if (op.empty() || e.op == op) ids.insert(std::stol(e.Id()));
    }
    return ids;
}

std::set<long> Range(long from, long to) {
    std::set<long> out;
    for (long i = from; i <= to; ++i) out.insert(i);
    return out;
}

// `cdcctl run --once FILE | head -n 1` under bash, exiting with cdcctl's own exit code.
ProcessResult RunOnceIntoHead(CdcFixture &f, const std::string &file) {
    std::string pipeline = ShellQuote(CDCCTL_BINARY) + " run --once " + ShellQuote(file) +
                           " | head -n 1; exit \"${PIPESTATUS[0]}\"";
    return RunShell("bash -c " + ShellQuote(pipeline), f.Env(), std::chrono::seconds(120),
                    f.dir.path());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// 1. Configuration errors: exit 78, file:line:col, all at once

TEST_CASE("an unknown key is reported with its position and a suggestion, exit 78") {
    TempDir dir;
    WriteFile(dir.File("cfg.yaml"), ConfigFile("  slot_nme: orders\n"));
    ProcessResult r = RunCdcctl({"run", "cfg.yaml"}, dir.path());
    CHECK_MESSAGE(r.exit_code == 78, r.Describe());
    CHECK_MESSAGE(
        Contains(r.err, "cfg.yaml:8:3: source.slot_nme: unknown key (did you mean 'slot'?)"),
        r.err);
    CHECK(r.out.empty());
    // check and discover read the file the same way.
    for (const char *command : {"check", "discover", "state", "reset"}) {
        ProcessResult c = RunCdcctl({command, "cfg.yaml"}, dir.path());
        CHECK_MESSAGE(c.exit_code == 78, command << ": " << c.Describe());
        CHECK_MESSAGE(Contains(c.err, "cfg.yaml:8:3: source.slot_nme: unknown key"),
                      command << ": " << c.err);
    }
}

TEST_CASE("a value of the wrong type is reported at the value, exit 78") {
    TempDir dir;
    WriteFile(dir.File("cfg.yaml"), ConfigFile("", "abc"));
    ProcessResult r = RunCdcctl({"run", "cfg.yaml"}, dir.path());
    CHECK_MESSAGE(r.exit_code == 78, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "cfg.yaml:5:9: source.port: expected an integer"), r.err);
    CHECK_MESSAGE(Contains(r.err, "'abc'"), r.err);
}

TEST_CASE("an undefined ${VAR} names the variable, exit 78") {
    TempDir dir;
    WriteFile(dir.File("cfg.yaml"), ConfigFile("  password: ${CDCCTL_TEST_NEVER_SET}\n"));
    ProcessResult r = RunCdcctl({"run", "cfg.yaml"}, dir.path());
    CHECK_MESSAGE(r.exit_code == 78, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "cfg.yaml:8:13: source.password:"), r.err);
    CHECK_MESSAGE(Contains(r.err, "'CDCCTL_TEST_NEVER_SET'"), r.err);
    CHECK_MESSAGE(Contains(r.err, "not set"), r.err);

    // Defined, it is accepted: the same file then fails later, at the connection (port 1).
    WriteFile(dir.File("cfg.yaml"), ConfigFile("  password: ${CDCCTL_TEST_NEVER_SET}\n", "1"));
    ProcessResult ok = RunCdcctl({"run", "cfg.yaml"}, dir.path(), {{"CDCCTL_TEST_NEVER_SET", "x"}});
    CHECK_MESSAGE(ok.exit_code == 69, ok.Describe());
}

TEST_CASE("every error of a file is reported in one go, in file order") {
    TempDir dir;
    WriteFile(dir.File("cfg.yaml"),
              "pipeline: cfg\n"
              "source:\n"
              "  type: postgres\n"
              "  host: 127.0.0.1\n"
              "  port: abc\n"
              "  password: ${CDCCTL_TEST_NEVER_SET}\n"
              "  tables: [public.product]\n"
              "  slot_nme: orders\n"
              "sink:\n"
              "  type: stdot\n");
    ProcessResult r = RunCdcctl({"run", "cfg.yaml"}, dir.path());
    CHECK_MESSAGE(r.exit_code == 78, r.Describe());
    std::vector<std::string> lines = Lines(r.err);
    REQUIRE_MESSAGE(lines.size() == 5, r.err);
    CHECK(lines[0].rfind("cfg.yaml:2:1: source.database: required key is missing", 0) == 0);
    CHECK(lines[1].rfind("cfg.yaml:5:9: source.port: expected an integer", 0) == 0);
    CHECK(lines[2].rfind("cfg.yaml:6:13: source.password:", 0) == 0);
    CHECK(lines[3] == "cfg.yaml:8:3: source.slot_nme: unknown key (did you mean 'slot'?)");
    CHECK(lines[4] ==
          "cfg.yaml:10:9: sink.type: unknown sink type 'stdot' (did you mean 'stdout'?)");
}

TEST_CASE("a table that does not exist is a configuration error naming it, exit 78") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY)");
    std::string file = f.WritePipeline("nope", "[public.product, public.nope]");
    ProcessResult r = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 78, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "'public.nope'"), r.err);
    CHECK_MESSAGE(Contains(r.err, "does not exist in database 'shop'"), r.err);
    CHECK(r.out.empty());
    // Nothing was created on the server for a pipeline that cannot run.
    CHECK(f.Value("SELECT count(*) FROM pg_replication_slots") == "0");
    // check reports it as a failing item rather than stopping.
    ProcessResult c = f.Cdcctl({"check", file});
    CHECK_MESSAGE(c.exit_code == 69, c.Describe());
    auto lines = CheckLines(c.out);
    REQUIRE(lines.count("tables"));
    CHECK_FALSE(lines["tables"].pass);
    CHECK(Contains(lines["tables"].detail, "'public.nope'"));
}

// ---------------------------------------------------------------------------------------------
// 2. Prerequisites: exit 69 with what to do; check prints one PASS/FAIL line per item

TEST_CASE("wal_level replica: run exits 69 and says what to set; check fails that item only") {
    PostgresServerOptions options;
    options.wal_level = "replica";
    CdcFixture f(options);
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product VALUES (1, 'a')");
    std::string file = f.WritePipeline("walrep");
    ProcessResult r = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 69, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "wal_level is 'replica'; cdcctl needs 'logical'"), r.err);
    CHECK_MESSAGE(Contains(r.err, "wal_level = logical"), r.err);
    CHECK(r.out.empty());

    auto lines = ExpectCheck(f.Cdcctl({"check", file}), {"wal_level"});
    CHECK(Contains(lines["wal_level"].detail, "wal_level is 'replica'; cdcctl needs 'logical'"));
}

TEST_CASE("a role without REPLICATION: run exits 69 naming the attribute; check fails it") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("CREATE ROLE app LOGIN PASSWORD 'app-password'");
    f.Sql("GRANT SELECT ON product TO app");
    // The owner has created the publication, as cdcctl's message would tell them to.
    f.Sql("CREATE PUBLICATION cdcctl_norepl FOR TABLE product");
    f.user = "app";
    f.password = "app-password";
    std::string file = f.WritePipeline("norepl");
    ProcessResult r = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 69, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "role 'app' lacks the REPLICATION attribute"), r.err);
    CHECK_MESSAGE(Contains(r.err, "WITH REPLICATION;"), r.err);

    // The replication connection is refused for the same reason.
    auto lines =
        ExpectCheck(f.Cdcctl({"check", file}), {"replication role", "replication connection"});
    CHECK(Contains(lines["replication role"].detail, "lacks the REPLICATION attribute"));

    f.Sql("ALTER ROLE app WITH REPLICATION");
    ExpectCheck(f.Cdcctl({"check", file}), {});
}

TEST_CASE("a table without a primary key: run exits 69 about REPLICA IDENTITY; check fails it") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int, name text)");
    std::string file = f.WritePipeline("nopk");
    ProcessResult r = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 69, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "public.product has no primary key and REPLICA IDENTITY DEFAULT"),
                  r.err);
    CHECK_MESSAGE(Contains(r.err, "REPLICA IDENTITY FULL"), r.err);

    auto lines = ExpectCheck(f.Cdcctl({"check", file}), {"replica identity public.product"});
    CHECK(Contains(lines["replica identity public.product"].detail, "REPLICA IDENTITY"));

    // The fix the message gives works.
    f.Sql("ALTER TABLE product REPLICA IDENTITY FULL");
    ExpectCheck(f.Cdcctl({"check", file}), {});
}

TEST_CASE(
    "a good setup: every check line is PASS, exit 0; --show-config adds the effective config") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    std::string file = f.WritePipeline("good");
    auto lines = ExpectCheck(f.Cdcctl({"check", file}), {});
    CHECK(Contains(lines["wal_level"].detail, "logical"));
    CHECK(Contains(lines["slot"].detail, "'cdcctl_good' will be created"));

    ProcessResult shown = f.Cdcctl({"check", "--show-config", file});
    ExpectCheck(shown, {});
    CHECK_MESSAGE(Contains(shown.out, "slot: cdcctl_good"), shown.out);
    CHECK_MESSAGE(Contains(shown.out, "password: ***"), shown.out);
    // check changes nothing on the server.
    CHECK(f.Value("SELECT count(*) FROM pg_replication_slots") == "0");
}

// ---------------------------------------------------------------------------------------------
// 3. One run per pipeline

TEST_CASE("a second concurrent run of the same pipeline exits 75 naming the first") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    std::string file = f.WritePipeline("twice");
    auto first = f.Start({"run", file});
    REQUIRE_MESSAGE(first->WaitForStderr("Streaming from slot", std::chrono::seconds(60)),
                    first->ReadStderrSoFar());

    ProcessResult second = f.Cdcctl({"run", file});
    CHECK_MESSAGE(second.exit_code == 75, second.Describe());
    CHECK_MESSAGE(Contains(second.err, "pipeline 'twice' is already running"), second.err);
    CHECK_MESSAGE(Contains(second.err, "pid " + std::to_string(first->pid())), second.err);
    CHECK(second.out.empty());
    // reset would be overwritten by the running pipeline: refused the same way.
    ProcessResult reset = f.Cdcctl({"reset", file});
    CHECK_MESSAGE(reset.exit_code == 75, reset.Describe());
    CHECK(std::filesystem::exists(f.dir.File(".cdcctl/twice.state")));

    // The first run was not disturbed.
    f.Sql("INSERT INTO product VALUES (1, 'a')");
    REQUIRE_MESSAGE(first->WaitForStdout("\"op\":\"c\"", std::chrono::seconds(30)),
                    first->ReadStderrSoFar());
    first->Kill(SIGTERM);
    ProcessResult done = first->Wait();
    CHECK_MESSAGE(done.exit_code == 0, done.Describe());
    // Once it has stopped, the lock is free.
    CHECK(f.RunOnce(file).empty());
}

// ---------------------------------------------------------------------------------------------
// 4. stdout into a pipe whose reader goes away

TEST_CASE(
    "run --once | head -n 1 exits 0 and the next run delivers the rest, snapshot and stream") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text, note text)");
    // About 2 MB of events: far more than a pipe holds, so cdcctl is still writing when head exits.
    f.Sql(
        "INSERT INTO product SELECT g, 'product ' || g, repeat('n', 40) FROM generate_series(1, "
        "20000) g");
    std::string file = f.WritePipeline("head");

    // Snapshot phase.
    ProcessResult snap_head = RunOnceIntoHead(f, file);
    CHECK_MESSAGE(snap_head.exit_code == 0, snap_head.Describe());
    CHECK_FALSE(Contains(snap_head.err, "Broken pipe"));
    CHECK_MESSAGE(Contains(snap_head.err, "The reader of the output went away"), snap_head.err);
    REQUIRE(CountLines(snap_head.out) == 1);
    std::vector<Event> first = ParseEvents(snap_head.out);
    REQUIRE(first.size() == 1);
    CHECK(first[0].op == "r");
    std::vector<Event> rest = f.RunOnce(file);
    std::set<long> ids = IdSet(rest, "r");
    ids.insert(std::stol(first[0].Id()));
    CHECK(ids == Range(1, 20000));

    // Stream phase: one transaction of 20000 rows after the snapshot completed.
    f.Sql(
        "INSERT INTO product SELECT g, 'product ' || g, repeat('n', 40) FROM "
        "generate_series(20001, 40000) g");
    ProcessResult stream_head = RunOnceIntoHead(f, file);
    CHECK_MESSAGE(stream_head.exit_code == 0, stream_head.Describe());
    CHECK_FALSE(Contains(stream_head.err, "Broken pipe"));
    REQUIRE(CountLines(stream_head.out) == 1);
    std::vector<Event> first_change = ParseEvents(stream_head.out);
    REQUIRE(first_change.size() == 1);
    CHECK(first_change[0].op == "c");
    std::vector<Event> changes = f.RunOnce(file);
    CHECK(IdSet(changes, "c") == Range(20001, 40000));
    CHECK(IdSet(changes, "r").empty());
    // And after a run that was read to the end, nothing is repeated.
    CHECK(f.RunOnce(file).empty());
}

// ---------------------------------------------------------------------------------------------
// 5. Secrets

TEST_CASE("the password appears in no output of any command, also from a url and on errors") {
    const std::string secret = "Pw-7f3a9c-secret";
    CdcFixture f;
    f.Sql("CREATE ROLE cdc_secret LOGIN REPLICATION PASSWORD '" + secret + "'");
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("ALTER TABLE product OWNER TO cdc_secret");
    f.Sql("GRANT CREATE ON DATABASE shop TO cdc_secret");  // to create its publication
    f.Sql("INSERT INTO product VALUES (1, 'a'), (2, 'b')");
    f.user = "cdc_secret";
    f.password = secret;
    std::string file = f.WritePipeline("secret");

    std::vector<std::pair<std::string, ProcessResult>> runs;
    auto expect = [&](const std::string &what, ProcessResult r, int code) {
        CHECK_MESSAGE(r.exit_code == code, what << ": " << r.Describe());
        runs.emplace_back(what, std::move(r));
        return runs.back().second;
    };
    ProcessResult once =
        expect("run --once", f.Cdcctl({"--log-level", "debug", "run", "--once", file}), 0);
    CHECK(ParseEvents(once.out).size() == 2);
    expect("check", f.Cdcctl({"--log-level", "debug", "check", file}), 0);
    ProcessResult shown =
        expect("check --show-config", f.Cdcctl({"check", "--show-config", file}), 0);
    CHECK_MESSAGE(Contains(shown.out, "password: ***"), shown.out);
    ProcessResult discover =
        expect("discover", f.Cdcctl({"--log-level", "debug", "discover", file}), 0);
    CHECK(Contains(discover.out, "public.product"));
    expect("state", f.Cdcctl({"state", file}), 0);

    // Connection errors: a closed port, and a wrong password (which must not be echoed either).
    WriteFile(f.dir.File("closed.yaml"),
              "source:\n  type: postgres\n  host: 127.0.0.1\n  port: 1\n  user: cdc_secret\n"
              "  password: ${TEST_PG_PASSWORD}\n  database: shop\n  tables: [public.product]\n"
              "sink:\n  type: stdout\n");
    ProcessResult closed = expect(
        "run, closed port", f.Cdcctl({"--log-level", "debug", "run", "--once", "closed.yaml"}), 69);
    CHECK_MESSAGE(Contains(closed.err, "cannot connect to PostgreSQL"), closed.err);
    expect("check, closed port", f.Cdcctl({"check", "--show-config", "closed.yaml"}), 69);
    f.password = "Pw-7f3a9c-wrong";
    ProcessResult wrong = expect("run, wrong password", f.Cdcctl({"run", "--once", file}), 69);
    CHECK_MESSAGE(Contains(wrong.err, "password authentication failed"), wrong.err);
    for (const auto &[what, r] : runs) {
        CHECK_MESSAGE(!Contains(r.out, "Pw-7f3a9c-wrong"), what << " stdout: " << r.out);
        CHECK_MESSAGE(!Contains(r.err, "Pw-7f3a9c-wrong"), what << " stderr: " << r.err);
    }
    f.password = secret;

    // The password inside a url written in the file itself.
    std::string url = "postgresql://cdc_secret:" + secret +
                      "@127.0.0.1:" + std::to_string(f.pg->port()) + "/shop";
    WriteFile(f.dir.File("url.yaml"), "source:\n  type: postgres\n  url: " + url +
                                          "\n  tables: [public.product]\n"
                                          "sink:\n  type: stdout\n");
    ProcessResult url_once = expect(
        "url: run --once", f.Cdcctl({"--log-level", "debug", "run", "--once", "url.yaml"}), 0);
    CHECK(ParseEvents(url_once.out).size() == 2);
    ProcessResult url_shown =
        expect("url: check --show-config", f.Cdcctl({"check", "--show-config", "url.yaml"}), 0);
    CHECK_MESSAGE(Contains(url_shown.out, "url: ***"), url_shown.out);
    expect("url: discover", f.Cdcctl({"discover", "url.yaml"}), 0);
    WriteFile(f.dir.File("url_closed.yaml"),
              "source:\n  type: postgres\n  url: postgresql://cdc_secret:" + secret +
                  "@127.0.0.1:1/shop\n  tables: [public.product]\nsink:\n  type: stdout\n");
    expect("url: run, closed port", f.Cdcctl({"run", "--once", "url_closed.yaml"}), 69);
    expect("url: check, closed port", f.Cdcctl({"check", "url_closed.yaml"}), 69);

    for (const auto &[what, r] : runs) {
        CHECK_MESSAGE(!Contains(r.out, secret), what << " stdout: " << r.out);
        CHECK_MESSAGE(!Contains(r.err, secret), what << " stderr: " << r.err);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. A state file that disagrees with the server: exit 65 and how to recover

TEST_CASE("a corrupt state file: exit 65 saying so and naming cdcctl reset; reset starts over") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product SELECT g, 'x' FROM generate_series(1, 10) g");
    std::string file = f.WritePipeline("corrupt");
    std::string state = f.dir.File(".cdcctl/corrupt.state");
    REQUIRE(f.RunOnce(file).size() == 10);
    std::filesystem::resize_file(state, std::filesystem::file_size(state) / 2);

    ProcessResult r = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 65, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "state file '" + state + "' is corrupt"), r.err);
    CHECK_MESSAGE(Contains(r.err, "cdcctl reset " + file), r.err);
    CHECK(r.out.empty());
    ProcessResult s = f.Cdcctl({"state", file});
    CHECK_MESSAGE(s.exit_code == 65, s.Describe());

    ProcessResult reset = f.Cdcctl({"reset", file});
    CHECK_MESSAGE(reset.exit_code == 0, reset.Describe());
    CHECK_FALSE(std::filesystem::exists(state));
    std::vector<Event> again = f.RunOnce(file);
    CHECK(IdSet(again, "r") == Range(1, 10));
}

TEST_CASE("a slot dropped behind cdcctl's back: exit 65 'has disappeared'") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product SELECT g, 'x' FROM generate_series(1, 10) g");
    std::string file = f.WritePipeline("dropped");
    REQUIRE(f.RunOnce(file).size() == 10);
    f.Sql("SELECT pg_drop_replication_slot('cdcctl_dropped')");
    f.Sql("INSERT INTO product VALUES (11, 'lost')");

    ProcessResult r = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 65, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "replication slot 'cdcctl_dropped' has disappeared"), r.err);
    // The advice is a command that works as typed: it names the pipeline file.
    CHECK_MESSAGE(Contains(r.err, "Run 'cdcctl reset " + file + "' and start again"), r.err);
    CHECK(r.out.empty());
    // Not silently recreated.
    CHECK(f.Value("SELECT count(*) FROM pg_replication_slots") == "0");

    ProcessResult reset = f.Cdcctl({"reset", file, "--drop-slot"});
    CHECK_MESSAGE(reset.exit_code == 0, reset.Describe());
    CHECK(IdSet(f.RunOnce(file), "r") == Range(1, 11));
}

TEST_CASE(
    "a slot advanced beyond the state: exit 65 'ahead of the state file'; reset --drop-slot") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product SELECT g, 'x' FROM generate_series(1, 10) g");
    std::string file = f.WritePipeline("ahead");
    REQUIRE(f.RunOnce(file).size() == 10);
    f.Sql("INSERT INTO product SELECT g, 'y' FROM generate_series(11, 20) g");
    f.Sql("SELECT pg_replication_slot_advance('cdcctl_ahead', pg_current_wal_lsn())");

    ProcessResult r = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 65, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "ahead of the state file"), r.err);
    CHECK_MESSAGE(Contains(r.err, "cdcctl reset"), r.err);
    CHECK(r.out.empty());

    ProcessResult reset = f.Cdcctl({"reset", file, "--drop-slot"});
    CHECK_MESSAGE(reset.exit_code == 0, reset.Describe());
    CHECK_MESSAGE(Contains(reset.err, "Dropped replication slot 'cdcctl_ahead'"), reset.err);
    CHECK(f.Value("SELECT count(*) FROM pg_replication_slots") == "0");
    CHECK_FALSE(std::filesystem::exists(f.dir.File(".cdcctl/ahead.state")));

    // A fresh snapshot with every row, as read events.
    std::vector<Event> fresh = f.RunOnce(file);
    CHECK(fresh.size() == 20);
    CHECK(IdSet(fresh, "r") == Range(1, 20));
    // Dropping a slot that does not exist is fine too.
    ProcessResult dropped = f.Cdcctl({"reset", "--drop-slot", file});
    CHECK_MESSAGE(dropped.exit_code == 0, dropped.Describe());
    ProcessResult nothing = f.Cdcctl({"reset", "--drop-slot", file});
    CHECK_MESSAGE(nothing.exit_code == 0, nothing.Describe());
    CHECK_MESSAGE(Contains(nothing.err, "'cdcctl_ahead' does not exist; nothing to drop"),
                  nothing.err);
}

// ---------------------------------------------------------------------------------------------
// 7. state, discover, --version, usage errors

TEST_CASE("state prints the saved slot and lsn as JSON; discover lists columns, types and key") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2))");
    f.Sql("INSERT INTO product VALUES (1, 'kettle', 24.90)");
    std::string file = f.WritePipeline("info");

    ProcessResult before = f.Cdcctl({"state", file});
    CHECK_MESSAGE(before.exit_code == 0, before.Describe());
    CHECK(before.out.empty());
    CHECK_MESSAGE(Contains(before.err, "has no saved state yet"), before.err);

    REQUIRE(f.RunOnce(file).size() == 1);
    ProcessResult s = f.Cdcctl({"state", file});
    REQUIRE_MESSAGE(s.exit_code == 0, s.Describe());
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE_MESSAGE(!parser.parse(s.out).get(doc), "not JSON: " << s.out);
    std::string_view pipeline, source_type, slot, lsn, snapshot;
    CHECK(!doc["pipeline"].get(pipeline));
    CHECK(pipeline == "info");
    CHECK(!doc["source_type"].get(source_type));
    CHECK(source_type == "postgres");
    std::string_view mode;
    CHECK(!doc["mode"].get(mode));
    CHECK(mode == "cdc");
    REQUIRE(!doc["offset"]["slot"].get(slot));
    CHECK(slot == "cdcctl_info");
    REQUIRE(!doc["offset"]["lsn"].get(lsn));
    CHECK(!doc["offset"]["snapshot"].get(snapshot));
    CHECK(snapshot == "done");
    // The slot is the one on the server, and it has not been confirmed beyond the state.
    std::string confirmed = f.Value(
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = "
        "'cdcctl_info'");
    CHECK(Lsn(confirmed) <= Lsn(std::string(lsn)));
    CHECK(Lsn(std::string(lsn)) > 0);
    std::string_view state_file;
    CHECK(!doc["state_file"].get(state_file));
    CHECK(state_file == f.dir.File(".cdcctl/info.state"));

    // Still JSON when the state file's path holds quotes and backslashes.
    std::string odd = f.dir.File("a \"quoted\" \\ dir");
    std::filesystem::create_directories(odd + "/.cdcctl");
    std::filesystem::copy_file(file, odd + "/info.yaml");
    std::filesystem::copy_file(f.dir.File(".cdcctl/info.state"), odd + "/.cdcctl/info.state");
    ProcessResult quoted = f.Cdcctl({"state", odd + "/info.yaml"});
    REQUIRE_MESSAGE(quoted.exit_code == 0, quoted.Describe());
    REQUIRE_MESSAGE(!parser.parse(quoted.out).get(doc), "not JSON: " << quoted.out);
    CHECK(!doc["state_file"].get(state_file));
    CHECK(state_file == odd + "/.cdcctl/info.state");

    ProcessResult d = f.Cdcctl({"discover", file});
    REQUIRE_MESSAGE(d.exit_code == 0, d.Describe());
    std::vector<std::string> lines = Lines(d.out);
    REQUIRE_MESSAGE(lines.size() == 4, d.out);
    CHECK(lines[0] == "public.product  topic foo.public.product");
    auto column = [&](const std::string &name) -> std::string {
        for (const auto &l : lines) {
            std::istringstream in(l);
            std::string first;
            in >> first;
            if (first == name) return l;
        }
        FAIL("no line for column " << name << " in:\n" << d.out);
        return "";
    };
    std::string id = column("id"), name = column("name"), price = column("price");
    CHECK(Contains(id, " int8 "));
    CHECK(Contains(id, "int64"));
    CHECK(Contains(id, " key"));
    CHECK(Contains(name, " text "));
    CHECK(Contains(name, "not-null"));
    CHECK_FALSE(Contains(name, " key"));
    CHECK(Contains(price, " numeric"));
    CHECK(Contains(price, "org.apache.kafka.connect.data.Decimal"));
    CHECK_FALSE(Contains(price, " key"));
    CHECK_FALSE(Contains(price, "not-null"));
}

TEST_CASE("--version prints the version; a bad command line exits 64") {
    TempDir dir;
    ProcessResult v = RunCdcctl({"--version"}, dir.path());
    CHECK_MESSAGE(v.exit_code == 0, v.Describe());
    CHECK(v.out == std::string("cdcctl ") + CDCCTL_VERSION + "\n");

    ProcessResult unknown = RunCdcctl({"frobnicate", "x.yaml"}, dir.path());
    CHECK_MESSAGE(unknown.exit_code == 64, unknown.Describe());
    CHECK_MESSAGE(Contains(unknown.err, "frobnicate"), unknown.err);
    ProcessResult none = RunCdcctl({}, dir.path());
    CHECK_MESSAGE(none.exit_code == 64, none.Describe());
    ProcessResult no_file = RunCdcctl({"run"}, dir.path());
    CHECK_MESSAGE(no_file.exit_code == 64, no_file.Describe());
    ProcessResult bad_level = RunCdcctl({"--log-level", "loud", "state", "x.yaml"}, dir.path());
    CHECK_MESSAGE(bad_level.exit_code == 64, bad_level.Describe());
    // A missing pipeline file is a configuration error, not a usage error.
    ProcessResult missing = RunCdcctl({"run", "missing.yaml"}, dir.path());
    CHECK_MESSAGE(missing.exit_code == 78, missing.Describe());
    CHECK_MESSAGE(Contains(missing.err, "cannot read pipeline file 'missing.yaml'"), missing.err);
}

// ---------------------------------------------------------------------------------------------
// 8. The example pipeline

TEST_CASE("pipelines/shop.yaml runs as shipped, with the connection from PG* variables") {
    CdcFixture f;
    std::map<std::string, std::string> env = f.PgEnv();
    std::string file = f.ShippedPipeline("shop.yaml", env);

    ProcessResult r = RunProcess({CDCCTL_BINARY, "run", "--once", file}, env,
                                 std::chrono::seconds(60), f.dir.path());
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    std::vector<Event> events = ParseEvents(r.out);
    REQUIRE(events.size() == 2);
    for (const auto &e : events) {
        CHECK(e.op == "r");
        CHECK(e.raw.rfind("{\"schema\"", 0) != 0);  // schemas: false
        CHECK(e.source.at("name") == "\"foo\"");
        CHECK(e.source.at("db") == "\"shop\"");
        CHECK(e.source.at("table") == "\"product\"");
    }
    CHECK(events[0].after.at("id") == "1");
    CHECK(events[0].after.at("name") == "\"kettle\"");
    CHECK(events[0].after.at("price") == "\"24.90\"");  // decimal_handling_mode: string
    CHECK(events[1].after.at("price") == "\"18.50\"");
    CHECK(std::filesystem::exists(f.dir.File(".cdcctl/shop.state")));
    CHECK(f.Value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdcctl_shop'") ==
          "1");
}

// ---------------------------------------------------------------------------------------------
// 9. JSON logs

TEST_CASE(
    "--log-format json makes every stderr line a JSON object with level, component, message") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product VALUES (1, 'a')");
    std::string file = f.WritePipeline("jsonlog");
    WriteFile(f.dir.File("closed.yaml"),
              "source:\n  type: postgres\n  host: 127.0.0.1\n  port: 1\n  database: shop\n"
              "  tables: [public.product]\nsink:\n  type: stdout\n");
    WriteFile(f.dir.File("bad.yaml"), ConfigFile("  slot_nme: x\n", "abc"));

    struct Run {
        std::string what;
        ProcessResult r;
        int code;
        std::string component;  // of some line
        std::string message;    // part of that line's message
    };
    std::vector<Run> runs;
    runs.push_back({"state",
                    f.Cdcctl({"--log-format", "json", "--log-level", "debug", "state", file}), 0,
                    "state", "has no saved state yet"});
    runs.push_back({"run --once", f.Cdcctl({"--log-format", "json", "run", "--once", file}), 0,
                    "runtime", "Starting pipeline 'jsonlog'"});
    runs.push_back({"connect error", f.Cdcctl({"--log-format", "json", "run", "closed.yaml"}), 69,
                    "postgres", "cannot connect to PostgreSQL"});
    runs.push_back({"config error", f.Cdcctl({"--log-format", "json", "run", "bad.yaml"}), 78,
                    "config", "source.slot_nme: unknown key"});

    simdjson::dom::parser parser;
    for (const auto &run : runs) {
        INFO(run.what);
        CHECK_MESSAGE(run.r.exit_code == run.code, run.r.Describe());
        CHECK_FALSE(run.r.err.empty());
        bool found = false;
        for (const auto &line : Lines(run.r.err)) {
            simdjson::dom::element doc;
            REQUIRE_MESSAGE(!parser.parse(line).get(doc), "not JSON: " << line);
            std::string_view level, component, message, time;
            CHECK_MESSAGE(!doc["level"].get(level), line);
            CHECK_MESSAGE(!doc["component"].get(component), line);
            CHECK_MESSAGE(!doc["message"].get(message), line);
            CHECK_MESSAGE(!doc["time"].get(time), line);
            CHECK((level == "debug" || level == "info" || level == "warn" || level == "error"));
            if (component == run.component && Contains(std::string(message), run.message))
                found = true;
        }
        CHECK_MESSAGE(found, "no line from '" << run.component << "' with '" << run.message
                                              << "' in:\n"
                                              << run.r.err);
    }
    // The config error keeps one record per problem, each with its position.
    CHECK(Contains(runs[3].r.err, "bad.yaml:5:9: source.port"));
    CHECK(Contains(runs[3].r.err, "bad.yaml:8:3: source.slot_nme"));
    CHECK(ParseEvents(runs[1].r.out).size() == 1);
}

// ---------------------------------------------------------------------------------------------
// 10. SIGINT

TEST_CASE("SIGINT while streaming: exit 0, state saved, the next run repeats nothing") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product VALUES (1, 'snap')");
    std::string file = f.WritePipeline("sigint");
    std::string state = f.dir.File(".cdcctl/sigint.state");
    auto run = f.Start({"run", file});
    REQUIRE_MESSAGE(run->WaitForStderr("Streaming from slot", std::chrono::seconds(60)),
                    run->ReadStderrSoFar());
    for (int i = 2; i <= 31; ++i)
        f.Sql("INSERT INTO product VALUES (" + std::to_string(i) + ", 'x')");
    for (int i = 0; i < 300 && CountLines(run->ReadStdoutSoFar()) < 31; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    run->Kill(SIGINT);
    ProcessResult first = run->Wait();
    CHECK_MESSAGE(first.exit_code == 0, first.Describe());
    CHECK_MESSAGE(Contains(first.err, "(interrupted)"), first.err);
    std::vector<Event> delivered = ParseEvents(first.out);
    CHECK(IdSet(delivered, "r") == Range(1, 1));
    CHECK(IdSet(delivered, "c") == Range(2, 31));

    // The state holds the last delivered transaction, and the slot is not ahead of it.
    StateStore store(state);
    auto saved = store.Load();
    REQUIRE(saved.has_value());
    CHECK(saved->offset.at("snapshot") == "done");
    std::string last_lsn = Unquote(delivered.back().source.at("lsn"));
    CHECK(Lsn(saved->offset.at("lsn")) > std::stoull(last_lsn));
    std::string confirmed = f.Value(
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = "
        "'cdcctl_sigint'");
    CHECK(Lsn(confirmed) <= Lsn(saved->offset.at("lsn")));

    f.Sql("INSERT INTO product VALUES (32, 'after')");
    std::vector<Event> next = f.RunOnce(file);
    REQUIRE(next.size() == 1);
    CHECK(next[0].op == "c");
    CHECK(next[0].Id() == "32");
}

TEST_CASE("libpq's environment variables do not override the pipeline file") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, at timestamptz)");
    f.Sql("INSERT INTO product VALUES (1, '2026-01-01 00:30:00+00')");
    std::string file = f.WritePipeline("env");
    auto env = f.Env();
    env["PGHOSTADDR"] = "127.0.0.9";  // nothing listens there
    env["PGDATESTYLE"] = "German";    // would break the timestamp text format
    env["PGUSER"] = "nobody";
    env["PGSSLMODE"] = "require";     // the test server has no TLS
    ProcessResult r = RunProcess({CDCCTL_BINARY, "run", "--once", file}, env, std::chrono::seconds(120), f.dir.path());
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    std::vector<Event> events = ParseEvents(r.out);
    REQUIRE(events.size() == 1);
    CHECK(events[0].after.at("at") == "\"2026-01-01T00:30:00Z\"");
}

TEST_CASE("check fails the publication item when the role may not create it in the database") {
    CdcFixture f;
    f.Sql("CREATE ROLE owner_only LOGIN REPLICATION PASSWORD 'pw-owner'");
    f.Sql("REVOKE CREATE ON DATABASE shop FROM PUBLIC");
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("ALTER TABLE product OWNER TO owner_only");
    f.user = "owner_only";
    f.password = "pw-owner";
    std::string file = f.WritePipeline("nocreate");
    ProcessResult check = f.Cdcctl({"check", file});
    CHECK_MESSAGE(check.exit_code == 69, check.Describe());
    CHECK_MESSAGE(Contains(check.out, "FAIL  publication: publication 'cdcctl_nocreate' does not exist and role 'owner_only' cannot create it: it lacks CREATE on database 'shop'"),
                  check.out);
    f.Sql("GRANT CREATE ON DATABASE shop TO owner_only");
    ProcessResult again = f.Cdcctl({"check", file});
    CHECK_MESSAGE(again.exit_code == 0, again.out);
}

TEST_CASE("a closed stdout: exit 74 before anything is read; the next run delivers everything") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id bigint PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product SELECT g, 'p' || g FROM generate_series(1, 5) g");
    std::string file = f.WritePipeline("closed");
    std::string cmd = ShellQuote(CDCCTL_BINARY) + " run --once " + ShellQuote(file) + " >&-";
    ProcessResult r = RunShell("bash -c " + ShellQuote(cmd), f.Env(), std::chrono::seconds(120),
                               f.dir.path());
    CHECK_MESSAGE(r.exit_code == 74, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "standard output (fd 1) is closed"), r.err);
    CHECK_FALSE(std::filesystem::exists(f.dir.File(".cdcctl/closed.state")));
    CHECK(IdSet(f.RunOnce(file)) == Range(1, 5));
}

TEST_CASE("an output file torn by kill -9 gets a newline, so the next run's events are whole lines") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id bigint PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product VALUES (1, 'a')");
    std::string file = f.WritePipeline("torn");
    std::string out = f.dir.File("events.ndjson");
    WriteFile(out, "{\"before\":null,\"after\":{\"id\":");
    std::string cmd = ShellQuote(CDCCTL_BINARY) + " run --once " + ShellQuote(file) + " >> " +
                      ShellQuote(out);
    ProcessResult r = RunShell("bash -c " + ShellQuote(cmd), f.Env(), std::chrono::seconds(120),
                               f.dir.path());
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "ended inside a line"), r.err);
    std::string text = ReadFile(out);
    size_t nl = text.find('\n');
    REQUIRE(nl != std::string::npos);
    CHECK(text.substr(0, nl) == "{\"before\":null,\"after\":{\"id\":");
    std::vector<Event> events = ParseEvents(text.substr(nl + 1));
    CHECK(IdSet(events) == std::set<long>{1});
}

TEST_CASE("state on another pipeline's state file is an error, as run is") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id bigint PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product VALUES (1, 'a')");
    std::string first = f.WritePipeline("first");
    REQUIRE(f.RunOnce(first).size() == 1);
    // A second pipeline whose state: points at the first one's file.
    std::string second = f.WritePipeline("second", "[public.product]", "",
                                         "sink:\n  type: stdout\nstate: .cdcctl/first.state\n");
    ProcessResult s = f.Cdcctl({"state", second});
    CHECK_MESSAGE(s.exit_code == 65, s.Describe());
    CHECK(s.out.empty());
    CHECK_MESSAGE(Contains(s.err, "belongs to pipeline 'first'"), s.err);
    ProcessResult r = f.Cdcctl({"run", "--once", second});
    CHECK_MESSAGE(r.exit_code == 65, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "belongs to pipeline 'first'"), r.err);
}
