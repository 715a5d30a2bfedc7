// The v1 pipeline keys beyond the defaults, end to end against PostgreSQL 15: snapshot modes,
// exclude_tables and globs, the row format, and prerequisites not covered elsewhere.
#include <set>

#include "tests/integration/cdc_fixture.h"

using namespace cdcctl::testing;

namespace {

bool Contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

std::set<std::string> Tables(const std::vector<Event> &events) {
    std::set<std::string> out;
    for (const auto &e : events) out.insert(Unquote(e.source.at("table")));
    return out;
}

}  // namespace

TEST_CASE("snapshot: initial_only copies the tables, drops its slot, and then has nothing to do") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product SELECT g, 'x' FROM generate_series(1, 5) g");
    std::string file = f.WritePipeline("once_only", "[public.product]", "  snapshot: initial_only\n");
    std::vector<Event> first = f.RunOnce(file);
    CHECK(first.size() == 5);
    for (const auto &e : first) CHECK(e.op == "r");
    // No slot is left behind to hold WAL.
    CHECK(f.Value("SELECT count(*) FROM pg_replication_slots") == "0");
    f.Sql("INSERT INTO product VALUES (6, 'y')");
    ProcessResult again = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(again.exit_code == 0, again.Describe());
    CHECK(again.out.empty());
    CHECK(Contains(again.err, "initial_only snapshot is complete"));
}

TEST_CASE("snapshot: always takes a new snapshot on every run, then streams") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product VALUES (1, 'a'), (2, 'b')");
    std::string file = f.WritePipeline("always", "[public.product]", "  snapshot: always\n");
    CHECK(f.RunOnce(file).size() == 2);
    f.Sql("INSERT INTO product VALUES (3, 'c')");
    std::vector<Event> second = f.RunOnce(file);
    REQUIRE(second.size() == 3);
    for (const auto &e : second) CHECK(e.op == "r");
}

TEST_CASE("tables globs with * and ?, and exclude_tables, choose what is captured") {
    CdcFixture f;
    f.Sql("CREATE SCHEMA sales");
    for (const char *t : {"public.order1", "public.order2", "public.order10", "public.other", "sales.order1"}) {
        f.Sql(std::string("CREATE TABLE ") + t + " (id int PRIMARY KEY)");
        f.Sql(std::string("INSERT INTO ") + t + " VALUES (1)");
    }
    std::string file = f.WritePipeline("globs", "[\"public.order?\", \"sales.*\"]", "  exclude_tables: [public.order2]\n");
    std::vector<Event> events = f.RunOnce(file);
    CHECK(events.size() == 2);
    std::set<std::string> schemas;
    for (const auto &e : events) schemas.insert(Unquote(e.source.at("schema")) + "." + Unquote(e.source.at("table")));
    CHECK(schemas == std::set<std::string>{"public.order1", "sales.order1"});
    // Changes to an excluded table are not streamed either.
    f.Sql("INSERT INTO public.order2 VALUES (2)");
    f.Sql("INSERT INTO public.order10 VALUES (2)");
    f.Sql("INSERT INTO public.order1 VALUES (2)");
    std::vector<Event> stream = f.RunOnce(file);
    REQUIRE(stream.size() == 1);
    CHECK(Tables(stream) == std::set<std::string>{"order1"});
}

TEST_CASE("format: row prints the row with __op, __table, __lsn and __ts_ms") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product VALUES (1, 'a')");
    std::string file = f.WritePipeline("rows", "[public.product]", "",
                                       "sink:\n  type: stdout\n  format: row\n");
    ProcessResult r = f.Cdcctl({"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    f.Sql("DELETE FROM product WHERE id = 1");
    ProcessResult d = f.Cdcctl({"run", "--once", file});
    REQUIRE_MESSAGE(d.exit_code == 0, d.Describe());
    simdjson::dom::parser parser;
    simdjson::dom::element row;
    REQUIRE(!parser.parse(r.out).get(row));
    auto fields = ObjectFields(row);
    CHECK(fields.at("id") == "1");
    CHECK(fields.at("name") == "\"a\"");
    CHECK(fields.at("__op") == "\"r\"");
    CHECK(fields.at("__table") == "\"public.product\"");
    CHECK(fields.count("__lsn") == 1);
    CHECK(fields.count("__ts_ms") == 1);
    CHECK(fields.count("after") == 0);
    REQUIRE(!parser.parse(d.out).get(row));
    fields = ObjectFields(row);
    CHECK(fields.at("__op") == "\"d\"");
    CHECK(fields.at("id") == "1");
    CHECK(std::stoull(fields.at("__lsn")) > 0);
}

TEST_CASE("a role that may not SELECT a table: run exits 69 with the GRANT to run; check fails it") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("CREATE ROLE reader LOGIN REPLICATION PASSWORD 'pw-reader'");
    f.Sql("CREATE PUBLICATION cdcctl_nosel FOR TABLE product");
    f.user = "reader";
    f.password = "pw-reader";
    std::string file = f.WritePipeline("nosel");
    ProcessResult run = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(run.exit_code == 69, run.Describe());
    CHECK_MESSAGE(Contains(run.err, "role 'reader' cannot SELECT from public.product. Run: GRANT SELECT ON \"public\".\"product\" TO \"reader\";"), run.err);
    ProcessResult check = f.Cdcctl({"check", file});
    CHECK(check.exit_code == 69);
    CHECK_MESSAGE(Contains(check.out, "FAIL  select public.product:"), check.out);
    CHECK_MESSAGE(Contains(check.out, "PASS  wal_level: logical"), check.out);
}

TEST_CASE("a role that owns no table cannot have cdcctl create the publication: run says how") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("CREATE ROLE notowner LOGIN REPLICATION PASSWORD 'pw-no'");
    f.Sql("GRANT SELECT ON product TO notowner");
    f.user = "notowner";
    f.password = "pw-no";
    std::string file = f.WritePipeline("noowner");
    ProcessResult check = f.Cdcctl({"check", file});
    CHECK(check.exit_code == 69);
    CHECK_MESSAGE(Contains(check.out, "FAIL  publication: publication 'cdcctl_noowner' does not exist and role 'notowner' cannot create it because it does not own public.product"), check.out);
    ProcessResult run = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(run.exit_code == 69, run.Describe());
    CHECK_MESSAGE(Contains(run.err, "CREATE PUBLICATION"), run.err);
    CHECK(run.out.empty());
    // Once the owner creates it, the same role runs.
    f.Sql("CREATE PUBLICATION cdcctl_noowner FOR TABLE product");
    CHECK(f.Cdcctl({"run", "--once", file}).exit_code == 0);
}

TEST_CASE("check on a broken file prints a FAIL config line and exits 78") {
    CdcFixture f;
    std::string path = f.dir.File("broken.yaml");
    WriteFile(path, "pipeline: broken\nsource:\n  type: postgres\n  database: shop\n  tables: [public.x]\n  prot: 1\nsink:\n  type: stdout\n");
    ProcessResult r = f.Cdcctl({"check", path});
    CHECK(r.exit_code == 78);
    CHECK_MESSAGE(Contains(r.out, "FAIL  config: " + path), r.out);
    CHECK_MESSAGE(Contains(r.err, "broken.yaml:6:3: source.prot: unknown key (did you mean 'port'?)"), r.err);
}
