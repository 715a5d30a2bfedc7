// Snapshot plus stream against a real PostgreSQL 15: the events and their fields, resuming after
// a clean stop and after kill -9, schema changes mid-stream, and the snapshot/stream boundary.
#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include "core/state/state_store.h"
#include "sources/postgres/replication_messages.h"
#include "tests/integration/cdc_fixture.h"

using namespace cdcctl;
using namespace cdcctl::testing;

namespace {


// The slot's confirmed_flush_lsn is read first, the state second: the state only moves forward,
// so slot <= state must hold whenever the invariant does.
void CheckSlotNotAheadOfState(CdcFixture &f, const std::string &state_path, const std::string &slot) {
    std::string confirmed = f.pg->QueryValue(
        "SELECT COALESCE(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots WHERE slot_name = '" + slot + "'",
        f.db);
    StateStore store(state_path);
    auto state = store.Load();
    if (!state) return;
    CHECK_MESSAGE(Lsn(confirmed) <= Lsn(state->offset.at("lsn")),
                  "slot confirmed " << confirmed << " but the state holds " << state->offset.at("lsn"));
}

std::vector<long> Ids(const std::vector<Event> &events, const std::string &op = "") {
    std::vector<long> ids;
    for (const auto &e : events) {
        if (op.empty() || e.op == op) ids.push_back(std::stol(e.Id()));
    }
    return ids;
}

}  // namespace

TEST_CASE("snapshot then stream: inserts, updates, deletes and truncate, field by field") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2), added date)");
    f.Sql("INSERT INTO product VALUES (1, 'kettle', 24.90, '2026-01-15'), (2, 'teapot', 18.50, NULL)");
    std::string file = f.WritePipeline("shop", "[public.product]", "  decimal_handling_mode: string\n");

    std::vector<Event> snap = f.RunOnce(file);
    REQUIRE(snap.size() == 2);
    CHECK(snap[0].op == "r");
    CHECK_FALSE(snap[0].has_before);
    CHECK(snap[0].after.at("id") == "1");
    CHECK(snap[0].after.at("name") == "\"kettle\"");
    CHECK(snap[0].after.at("price") == "\"24.90\"");
    CHECK(snap[0].after.at("added") == "20468");  // days since 1970-01-01
    CHECK(snap[1].after.at("added") == "null");
    CHECK(snap[0].source.at("connector") == "\"postgresql\"");
    CHECK(snap[0].source.at("name") == "\"foo\"");
    CHECK(snap[0].source.at("db") == "\"shop\"");
    CHECK(snap[0].source.at("schema") == "\"public\"");
    CHECK(snap[0].source.at("table") == "\"product\"");
    CHECK(snap[0].source.at("snapshot") == "\"first\"");
    CHECK(snap[1].source.at("snapshot") == "\"last\"");
    CHECK(snap[0].ts_ms.size() >= 13);
    CHECK(snap[0].source.at("version") == "\"cdcctl-" CDCCTL_VERSION "\"");
    CHECK(snap[0].source.at("ts_ms").size() >= 13);

    f.Sql("INSERT INTO product VALUES (3, 'mug', 6.00, '2026-03-10')");
    f.Sql("UPDATE product SET price = 22.00 WHERE id = 1");
    f.Sql("DELETE FROM product WHERE id = 2");
    f.Sql("TRUNCATE product");
    std::vector<Event> stream = f.RunOnce(file);
    REQUIRE(stream.size() == 4);
    CHECK(stream[0].op == "c");
    CHECK(stream[0].after.at("id") == "3");
    CHECK(stream[0].after.at("name") == "\"mug\"");
    CHECK(stream[0].after.at("price") == "\"6.00\"");
    CHECK_FALSE(stream[0].has_before);
    CHECK(stream[0].source.at("snapshot") == "\"false\"");
    CHECK(stream[0].source.at("txId") != "null");
    CHECK(std::stoull(stream[0].source.at("lsn")) > 0);
    // sequence is Debezium's ["<last commit lsn>","<lsn>"], as a JSON string: the update's last
    // commit is the insert's transaction, which ends after the insert and before the update.
    {
        std::vector<uint64_t> numbers;
        std::string seq = stream[1].source.at("sequence"), digits;
        for (char c : seq + " ") {
            if (isdigit(static_cast<unsigned char>(c))) digits += c;
            else if (!digits.empty()) numbers.push_back(std::stoull(digits)), digits.clear();
        }
        REQUIRE_MESSAGE(numbers.size() == 2, seq);
        CHECK(numbers[1] == std::stoull(stream[1].source.at("lsn")));
        CHECK(numbers[0] > std::stoull(stream[0].source.at("lsn")));
        CHECK(numbers[0] < numbers[1]);
    }
    // source.ts_ms is the commit time: not before the test started, not after the event was read.
    CHECK(std::stoll(stream[0].source.at("ts_ms")) <= std::stoll(stream[0].ts_ms));
    CHECK(std::stoll(stream[0].source.at("ts_ms")) >= std::stoll(snap[0].source.at("ts_ms")));
    CHECK(stream[1].op == "u");
    CHECK(stream[1].after.at("id") == "1");
    CHECK(stream[1].after.at("price") == "\"22.00\"");
    CHECK_FALSE(stream[1].has_before);  // REPLICA IDENTITY DEFAULT: no old row
    CHECK(stream[2].op == "d");
    CHECK_FALSE(stream[2].has_after);
    CHECK(stream[2].before.at("id") == "2");
    CHECK(stream[2].before.at("name") == "null");  // only the key of a deleted row is known
    CHECK(stream[3].op == "t");
    CHECK_FALSE(stream[3].has_before);
    CHECK_FALSE(stream[3].has_after);
    CHECK(stream[3].source.at("table") == "\"product\"");
    // Commit order, and each change's LSN after the previous one.
    CHECK(std::stoull(stream[1].source.at("lsn")) > std::stoull(stream[0].source.at("lsn")));
    CHECK(std::stoull(stream[3].source.at("lsn")) > std::stoull(stream[2].source.at("lsn")));

    // Nothing is repeated after a clean end.
    CHECK(f.RunOnce(file).empty());
}

TEST_CASE("REPLICA IDENTITY FULL gives the old row; unchanged TOAST values get the placeholder") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text, doc text)");
    f.Sql("ALTER TABLE product ALTER COLUMN doc SET STORAGE EXTERNAL");
    f.Sql("CREATE TABLE full_row (id int PRIMARY KEY, name text)");
    f.Sql("ALTER TABLE full_row REPLICA IDENTITY FULL");
    f.Sql("INSERT INTO product VALUES (1, 'a', repeat('x', 10000))");
    f.Sql("INSERT INTO full_row VALUES (1, 'old')");
    std::string file = f.WritePipeline("toast", "[public.product, public.full_row]");
    REQUIRE(f.RunOnce(file).size() == 2);
    f.Sql("UPDATE product SET name = 'b' WHERE id = 1");
    f.Sql("UPDATE full_row SET name = 'new' WHERE id = 1");
    std::vector<Event> events = f.RunOnce(file);
    REQUIRE(events.size() == 2);
    CHECK(events[0].after.at("name") == "\"b\"");
    CHECK(events[0].after.at("doc") == "\"__debezium_unavailable_value\"");
    CHECK(events[1].has_before);
    CHECK(events[1].before.at("name") == "\"old\"");
    CHECK(events[1].after.at("name") == "\"new\"");
}

TEST_CASE("with REPLICA IDENTITY FULL an unchanged TOASTed column keeps its value") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text, doc text)");
    f.Sql("ALTER TABLE product ALTER COLUMN doc SET STORAGE EXTERNAL");
    f.Sql("ALTER TABLE product REPLICA IDENTITY FULL");
    f.Sql("INSERT INTO product VALUES (1, 'a', repeat('y', 10000))");
    std::string file = f.WritePipeline("fulltoast");
    REQUIRE(f.RunOnce(file).size() == 1);
    f.Sql("UPDATE product SET name = 'b' WHERE id = 1");
    std::vector<Event> events = f.RunOnce(file);
    REQUIRE(events.size() == 1);
    CHECK(events[0].after.at("name") == "\"b\"");
    CHECK(events[0].after.at("doc") == "\"" + std::string(10000, 'y') + "\"");
    CHECK(events[0].before.at("doc") == "\"" + std::string(10000, 'y') + "\"");
}

TEST_CASE("ALTER TABLE ADD COLUMN and DROP COLUMN mid-stream change the events' columns") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    std::string file = f.WritePipeline("alter");
    CHECK(f.RunOnce(file).empty());
    f.Sql("INSERT INTO product VALUES (1, 'a')");
    f.Sql("ALTER TABLE product ADD COLUMN color text DEFAULT 'red'");
    f.Sql("INSERT INTO product VALUES (2, 'b', 'blue')");
    f.Sql("ALTER TABLE product DROP COLUMN name");
    f.Sql("INSERT INTO product VALUES (3, 'green')");
    std::vector<Event> events = f.RunOnce(file);
    REQUIRE(events.size() == 3);
    CHECK(events[0].after.size() == 2);
    CHECK(events[0].after.at("name") == "\"a\"");
    CHECK(events[0].after.count("color") == 0);
    CHECK(events[1].after.size() == 3);
    CHECK(events[1].after.at("color") == "\"blue\"");
    CHECK(events[2].after.size() == 2);
    CHECK(events[2].after.count("name") == 0);
    CHECK(events[2].after.at("color") == "\"green\"");
}

TEST_CASE("clean stop with SIGTERM and restart: no gap and no duplicate") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    std::string file = f.WritePipeline("stop");
    auto run = f.Start({"run", file});
    REQUIRE_MESSAGE(run->WaitForStderr("Streaming from slot", std::chrono::seconds(60)), run->ReadStderrSoFar());
    for (int i = 1; i <= 50; ++i) f.Sql("INSERT INTO product VALUES (" + std::to_string(i) + ", 'x')");
    for (int i = 0; i < 300 && CountLines(run->ReadStdoutSoFar()) < 50; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    run->Kill(SIGTERM);
    ProcessResult first = run->Wait();
    CHECK_MESSAGE(first.exit_code == 0, first.Describe());
    CheckSlotNotAheadOfState(f, f.dir.File(".cdcctl/stop.state"), "cdcctl_stop");
    for (int i = 51; i <= 100; ++i) f.Sql("INSERT INTO product VALUES (" + std::to_string(i) + ", 'x')");
    std::vector<Event> second = f.RunOnce(file);

    std::vector<long> a = Ids(ParseEvents(first.out), "c");
    std::vector<long> b = Ids(second, "c");
    std::vector<long> all = a;
    all.insert(all.end(), b.begin(), b.end());
    std::vector<long> expected;
    for (long i = 1; i <= 100; ++i) expected.push_back(i);
    CHECK(all == expected);
}

TEST_CASE("kill -9 mid-stream: every committed change arrives, in order, duplicates only at the restart") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    std::string file = f.WritePipeline("crash");
    std::string state = f.dir.File(".cdcctl/crash.state");
    CHECK(f.RunOnce(file).empty());
    // 4000 transactions of 50 rows each.
    f.Sql("DO $$ BEGIN FOR t IN 0..3999 LOOP "
          "INSERT INTO product SELECT t * 50 + g, 'x' FROM generate_series(1, 50) g; COMMIT; END LOOP; END $$");
    auto run = f.Start({"run", file});
    // Killed after about 4,000 events of 200,000: the size of stdout is read, not its lines, so
    // that the check stays cheap and the kill lands mid-stream on a loaded machine too.
    auto written = [&] {
        std::error_code ec;
        auto size = std::filesystem::file_size(run->stdout_path(), ec);
        return ec ? uintmax_t{0} : size;
    };
    for (int i = 0; i < 1200 && written() < 2'000'000; ++i) {
        CheckSlotNotAheadOfState(f, state, "cdcctl_crash");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    run->Kill(SIGKILL);
    ProcessResult first = run->Wait();
    CHECK(first.term_signal == SIGKILL);
    CheckSlotNotAheadOfState(f, state, "cdcctl_crash");

    std::vector<Event> second = f.RunOnce(file);
    // A killed writer may leave a partial last line: only whole lines count as delivered.
    std::string out = first.out.substr(0, first.out.rfind('\n') + 1);
    std::vector<long> a = Ids(ParseEvents(out), "c");
    std::vector<long> b = Ids(second, "c");
    REQUIRE(!a.empty());
    MESSAGE("killed after " << a.size() << " of 200000 events");
    CHECK_MESSAGE(a.size() < 200000, "the run finished before it was killed; the test proves nothing");
    std::set<long> seen(a.begin(), a.end());
    // The restart repeats a prefix (the unconfirmed tail of the first run), then only new rows.
    size_t k = 0;
    while (k < b.size() && seen.count(b[k])) ++k;
    for (size_t i = k; i < b.size(); ++i) CHECK_FALSE(seen.count(b[i]));
    // Every row exactly once after removing that prefix, in commit order.
    std::vector<long> merged = a;
    merged.insert(merged.end(), b.begin() + static_cast<long>(k), b.end());
    std::vector<long> expected;
    for (long i = 1; i <= 200000; ++i) expected.push_back(i);
    CHECK(merged == expected);
    // The repeated prefix starts at a transaction boundary (the last confirmed commit).
    if (k > 0) CHECK((b[0] - 1) % 50 == 0);
    CheckSlotNotAheadOfState(f, state, "cdcctl_crash");
}

TEST_CASE("rows written while the snapshot runs appear exactly once") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product SELECT g, 'x' FROM generate_series(1, 300000) g");
    std::string file = f.WritePipeline("boundary");
    auto run = f.Start({"run", "--once", file});
    REQUIRE_MESSAGE(run->WaitForStderr("Snapshot of public.product started", std::chrono::seconds(60)),
                    run->ReadStderrSoFar());
    // While COPY runs: new rows, updates of rows not yet read and of rows already read, a delete.
    for (int i = 1; i <= 20; ++i) f.Sql("INSERT INTO product VALUES (" + std::to_string(1000000 + i) + ", 'new')");
    f.Sql("UPDATE product SET name = 'changed' WHERE id IN (1, 299999)");
    f.Sql("DELETE FROM product WHERE id = 150000");
    ProcessResult first = run->Wait();
    REQUIRE_MESSAGE(first.exit_code == 0, first.Describe());
    std::vector<Event> events = ParseEvents(first.out);
    std::vector<Event> more = f.RunOnce(file);
    events.insert(events.end(), more.begin(), more.end());

    std::map<long, int> reads, creates, updates, deletes;
    for (const auto &e : events) {
        long id = std::stol(e.Id());
        if (e.op == "r") ++reads[id];
        if (e.op == "c") ++creates[id];
        if (e.op == "u") ++updates[id];
        if (e.op == "d") ++deletes[id];
    }
    // The snapshot holds exactly the rows committed before the slot was created ...
    CHECK(reads.size() == 300000);
    for (const auto &[id, n] : reads) {
        if (n != 1 || id > 300000) FAIL("row " << id << " read " << n << " times");
    }
    // ... and every later change arrives exactly once, from the stream.
    CHECK(creates.size() == 20);
    for (const auto &[id, n] : creates) CHECK(n == 1);
    CHECK(updates == std::map<long, int>{{1, 1}, {299999, 1}});
    CHECK(deletes == std::map<long, int>{{150000, 1}});
}

namespace {

// VmHWM (peak resident set) of a running process, in kB; 0 once it has gone.
long PeakRssKb(pid_t pid) {
    std::string status;
    try {
        status = ReadFile("/proc/" + std::to_string(pid) + "/status");
    } catch (const std::exception &) {
        return 0;
    }
    auto pos = status.find("VmHWM:");
    if (pos == std::string::npos) return 0;
    return std::stol(status.substr(pos + 6));
}

}  // namespace

TEST_CASE("a one-million-row transaction streams with peak RSS under 200 MB") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text, note text)");
    std::string file = f.WritePipeline("big");
    CHECK(f.RunOnce(file).empty());
    f.Sql("INSERT INTO product SELECT g, 'name ' || g, repeat('n', 40) FROM generate_series(1, 1000000) g");
    auto run = f.Start({"run", "--once", file});
    long peak = 0;
    while (run->Running()) {
        peak = std::max(peak, PeakRssKb(run->pid()));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ProcessResult r = run->Wait();
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK(CountLines(r.out) == 1000000);
    MESSAGE("peak RSS " << peak / 1024 << " MB");
    CHECK(peak > 0);
    CHECK(peak < 200 * 1024);
}

TEST_CASE("heartbeats advance the slot while the captured tables are idle") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("CREATE TABLE other (id int PRIMARY KEY, name text)");
    std::string file = f.WritePipeline("idle", "[public.product]", "  heartbeat_interval: 1s\n");
    auto run = f.Start({"run", file});
    REQUIRE_MESSAGE(run->WaitForStderr("Streaming from slot", std::chrono::seconds(60)), run->ReadStderrSoFar());
    // WAL the pipeline does not capture.
    f.Sql("INSERT INTO other SELECT g, 'x' FROM generate_series(1, 10000) g");
    uint64_t written = Lsn(f.Value("SELECT pg_current_wal_lsn()::text"));
    uint64_t confirmed = 0;
    for (int i = 0; i < 100 && confirmed < written; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        confirmed = Lsn(f.Value("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'cdcctl_idle'"));
    }
    CHECK_MESSAGE(confirmed >= written, "slot stayed at " << FormatLsn(confirmed) << ", WAL is at " << FormatLsn(written));
    CheckSlotNotAheadOfState(f, f.dir.File(".cdcctl/idle.state"), "cdcctl_idle");
    run->Kill(SIGTERM);
    ProcessResult r = run->Wait();
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());
}

TEST_CASE("a snapshot shows a progress line per table on a terminal, and none otherwise") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("CREATE TABLE other (id int PRIMARY KEY)");
    f.Sql("INSERT INTO product SELECT g, 'x' FROM generate_series(1, 5000) g");
    f.Sql("INSERT INTO other SELECT g FROM generate_series(1, 7) g");
    std::string tty_file = f.WritePipeline("tty", "[public.product, public.other]");
    // script(1) gives the command a pseudo-terminal for stdin, stdout and stderr; stdout goes to
    // a file so that only stderr reaches the terminal.
    ProcessResult tty = RunProcess(
        {"script", "-qec", std::string(CDCCTL_BINARY) + " run --once tty.yaml > tty.out", "/dev/null"},
        f.Env(), std::chrono::seconds(120), f.dir.path());
    REQUIRE_MESSAGE(tty.exit_code == 0, tty.Describe());
    CHECK(tty.out.find("snapshot public.other: 7 of ~7 rows") != std::string::npos);
    CHECK(tty.out.find("snapshot public.product: 5000 of ~5000 rows") != std::string::npos);
    CHECK(CountLines(ReadFile(f.dir.File("tty.out"))) == 5007);

    std::string plain_file = f.WritePipeline("plain", "[public.product, public.other]");
    ProcessResult plain = f.Cdcctl({"run", "--once", plain_file});
    REQUIRE(plain.exit_code == 0);
    CHECK(plain.err.find("snapshot public.product:") == std::string::npos);
    CHECK(plain.err.find("Snapshot of public.product finished: 5000 rows.") != std::string::npos);
}

TEST_CASE("snapshot: never streams only what is written after the first run, and resumes") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product VALUES (1, 'before')");
    std::string file = f.WritePipeline("never", "[public.product]", "  snapshot: never\n  heartbeat_interval: 0s\n");
    CHECK(f.RunOnce(file).empty());
    StateStore store(f.dir.File(".cdcctl/never.state"));
    CHECK(store.Load()->offset.at("snapshot") == "skipped");
    f.Sql("INSERT INTO product VALUES (2, 'after')");
    std::vector<Event> events = f.RunOnce(file);
    REQUIRE(events.size() == 1);
    CHECK(events[0].op == "c");
    CHECK(events[0].after.at("id") == "2");
    CHECK(store.Load()->offset.at("snapshot") == "skipped");
    CheckSlotNotAheadOfState(f, f.dir.File(".cdcctl/never.state"), "cdcctl_never");
    CHECK(f.RunOnce(file).empty());
}

TEST_CASE("SIGTERM stops a run whose reader has stalled; the next run sends what was not read") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g");
    std::string file = f.WritePipeline("stall");
    // stdout is a pipe to a reader that never reads: the first writes fill it, then block.
    auto run = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"bash", "-c", "exec " + std::string(CDCCTL_BINARY) + " run stall.yaml > >(sleep 120)"},
        f.Env(), f.dir.path());
    REQUIRE_MESSAGE(run->WaitForStderr("Snapshot of public.product started", std::chrono::seconds(60)),
                    run->ReadStderrSoFar());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    run->Kill(SIGTERM);
    auto result = run->WaitFor(std::chrono::seconds(20));
    REQUIRE_MESSAGE(result.has_value(), "cdcctl did not stop within 20 s of SIGTERM");
    CHECK_MESSAGE(result->exit_code == 0, result->Describe());
    std::vector<Event> events = f.RunOnce(file);
    CHECK(events.size() == 20000);
}
