// The Elasticsearch sink end to end: a real PostgreSQL 15, the cdcctl binary, and the
// Elasticsearch double (tests/servers/es_double.h) in this process. Every test compares what the
// double holds with what PostgreSQL holds (queried with SQL), field by field, or checks the exit
// code, the message and the files a user would see.
#include "sinks/elasticsearch/es_sink.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "core/error.h"
#include "sources/postgres/source_block.h"
#include "tests/integration/cdc_fixture.h"
#include "tests/servers/es_double.h"

using namespace cdcctl;
using namespace cdcctl::testing;

namespace {

const char *kIndex = "foo.public.product";

EsDouble::FaultRule Fault(EsDouble::Fault fault, int count, std::string doc_id = "",
                          std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
    EsDouble::FaultRule rule;
    rule.fault = fault;
    rule.count = count;
    rule.doc_id = std::move(doc_id);
    rule.delay = delay;
    return rule;
}

bool Contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string SinkYaml(const std::string &url, const std::string &extra = "") {
    return "sink:\n  type: elasticsearch\n  url: " + url + "\n" + extra;
}

// Two JSON values are equal when their texts are, quotes aside, or when both are numbers of the
// same value ("24.90" from a decimal_handling_mode string, 24.9 from row_to_json).
bool SameValue(const std::string &a, const std::string &b) {
    std::string ua = Unquote(a), ub = Unquote(b);
    if (ua == ub) return true;
    char *ea = nullptr, *eb = nullptr;
    double da = std::strtod(ua.c_str(), &ea), db = std::strtod(ub.c_str(), &eb);
    return !ua.empty() && !ub.empty() && *ea == 0 && *eb == 0 && da == db;
}

using Rows = std::map<std::string, std::map<std::string, std::string>>;

// The table's rows by id, as PostgreSQL renders them in JSON (dates and timestamps in ISO-8601).
Rows SourceRows(CdcFixture &f, const std::string &table = "product") {
    std::string json = f.Value(
        "SELECT coalesce(json_object_agg(id::text, row_to_json(t)), '{}') FROM " + table + " t");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE_MESSAGE(!parser.parse(json).get(doc), json);
    Rows rows;
    for (auto field : doc.get_object()) rows[std::string(field.key)] = ObjectFields(field.value);
    return rows;
}

Rows IndexRows(const EsDouble &es, const std::string &index = kIndex) {
    Rows rows;
    simdjson::dom::parser parser;
    for (const auto &[id, doc] : es.Documents(index)) {
        simdjson::dom::element e;
        REQUIRE_MESSAGE(!parser.parse(doc.source).get(e), doc.source);
        rows[id] = ObjectFields(e);
    }
    return rows;
}

// Every row of the table is a document with the same fields and values, and nothing else is.
void CheckIndexEqualsTable(CdcFixture &f, const EsDouble &es, const std::string &table = "product",
                           const std::string &index = kIndex) {
    Rows want = SourceRows(f, table);
    Rows got = IndexRows(es, index);
    std::set<std::string> want_ids, got_ids;
    for (auto &[id, _] : want) want_ids.insert(id);
    for (auto &[id, _] : got) got_ids.insert(id);
    CHECK(want_ids == got_ids);
    for (auto &[id, fields] : want) {
        auto it = got.find(id);
        if (it == got.end()) continue;
        CHECK_MESSAGE(fields.size() == it->second.size(), "document " << id);
        for (auto &[name, value] : fields) {
            auto g = it->second.find(name);
            REQUIRE_MESSAGE(g != it->second.end(), "document " << id << " lacks " << name);
            CHECK_MESSAGE(SameValue(value, g->second), "document " << id << "." << name
                                                                   << ": table has " << value
                                                                   << ", index has " << g->second);
        }
    }
}

// Runs cdcctl with the fixture's environment plus `extra`.
ProcessResult Cdcctl(CdcFixture &f, const std::vector<std::string> &args,
                     std::map<std::string, std::string> extra = {},
                     std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::vector<std::string> argv{CDCCTL_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    auto env = f.Env();
    env.insert(extra.begin(), extra.end());
    return RunProcess(argv, env, timeout, f.dir.path());
}

void CreateProduct(CdcFixture &f) {
    f.Sql(
        "CREATE TABLE product (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2), "
        "added date, "
        "seen timestamp(6), active boolean, qty integer)");
}

int BulkRequests(const EsDouble &es, int status = 0) {
    int n = 0;
    for (const auto &r : es.Requests()) {
        if (r.method == "POST" && Contains(r.path, "_bulk") && (status == 0 || r.status == status))
            ++n;
    }
    return n;
}

// The _ids of the actions of every _bulk request, in the order they were sent.
std::vector<std::vector<std::string>> BulkIds(const EsDouble &es) {
    std::vector<std::vector<std::string>> out;
    simdjson::dom::parser parser;
    for (const auto &r : es.Requests()) {
        if (r.method != "POST" || !Contains(r.path, "_bulk")) continue;
        std::vector<std::string> ids;
        size_t start = 0;
        while (start < r.body.size()) {
            size_t nl = r.body.find('\n', start);
            if (nl == std::string::npos) nl = r.body.size();
            std::string line = r.body.substr(start, nl - start);
            start = nl + 1;
            if (line.rfind("{\"index\":", 0) != 0 && line.rfind("{\"delete\":", 0) != 0) continue;
            simdjson::dom::element e;
            REQUIRE_MESSAGE(!parser.parse(line).get(e), line);
            std::string_view id;
            for (auto action : e.get_object()) {
                REQUIRE(!action.value["_id"].get_string().get(id));
            }
            ids.emplace_back(id);
        }
        out.push_back(std::move(ids));
    }
    return out;
}

int Occurrences(const std::string &haystack, const std::string &needle) {
    int n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + needle.size())) {
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("snapshot then stream: the index holds the table's rows field by field") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product VALUES (1, 'kettle', 24.90, '2026-01-15', '2026-01-15 "
        "10:00:00.123456', true, 3), "
        "(2, 'teapot \"blue\"', 18.50, NULL, NULL, false, NULL)");
    std::string file = f.WritePipeline("es", "[public.product]",
                                       "  decimal_handling_mode: string\n", SinkYaml(es.url()));

    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CheckIndexEqualsTable(f, es);
    auto doc = es.Get(kIndex, "1");
    REQUIRE(doc);
    CHECK(Contains(doc->source, R"("added":"2026-01-15")"));
    CHECK(Contains(doc->source, R"("seen":"2026-01-15T10:00:00.123456")"));
    CHECK(Contains(doc->source, R"("price":"24.90")"));
    int64_t snapshot_version = doc->version;
    CHECK(snapshot_version > 0);

    // Requests are gzip'd NDJSON with a trailing newline, versioned with external_gte.
    bool saw_bulk = false;
    for (const auto &req : es.Requests()) {
        if (req.method != "POST" || !Contains(req.path, "_bulk")) continue;
        saw_bulk = true;
        CHECK(req.headers.at("content-type") == "application/x-ndjson");
        CHECK(req.headers.at("content-encoding") == "gzip");
        CHECK(req.body.back() == '\n');
        CHECK(Contains(req.body, R"("version_type":"external_gte")"));
    }
    CHECK(saw_bulk);

    f.Sql(
        "INSERT INTO product VALUES (3, 'mug', 6.00, '2026-03-10', '1969-12-31 23:59:59.5', true, "
        "10)");
    f.Sql("UPDATE product SET price = 22.00, qty = 4 WHERE id = 1");
    f.Sql("DELETE FROM product WHERE id = 2");
    f.Sql(
        "BEGIN; UPDATE product SET qty = 11 WHERE id = 3; UPDATE product SET qty = 12 WHERE id = "
        "3; COMMIT");
    r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CheckIndexEqualsTable(f, es);
    CHECK_FALSE(es.Get(kIndex, "2"));
    REQUIRE(es.Get(kIndex, "1"));
    CHECK(es.Get(kIndex, "1")->version > snapshot_version);       // the update's commit LSN
    CHECK(Contains(es.Get(kIndex, "3")->source, R"("qty":12)"));  // same transaction: in order

    // The index was created with a mapping from the columns.
    std::string mapping = es.CreatedMapping(kIndex);
    CHECK(Contains(mapping, R"("added":{"type":"date","format":"strict_date"})"));
    CHECK(Contains(mapping, R"("seen":{"type":"date","format":"strict_date_optional_time"})"));
    CHECK_MESSAGE(Contains(mapping, R"("price":{"type":"keyword"})"), mapping);
    CHECK(Contains(mapping, R"("qty":{"type":"integer"})"));
    CHECK(Contains(mapping, R"("active":{"type":"boolean"})"));
    CHECK(Contains(mapping, R"("name":{"type":"text","fields":{"keyword")"));
}

TEST_CASE("a replay from scratch (reset, new snapshot) leaves the documents as they are") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g * 1.5, date '2026-01-01' + g, NULL, g % 2 = 0, "
        "g FROM "
        "generate_series(1, 300) g");
    std::string file =
        f.WritePipeline("es", "[public.product]", "  decimal_handling_mode: string\n",
                        SinkYaml(es.url(), "  bulk_max_docs: 50\n"));
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    f.Sql("UPDATE product SET name = 'changed' WHERE id <= 10");
    f.Sql("DELETE FROM product WHERE id > 290");
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    CheckIndexEqualsTable(f, es);
    auto before = IndexRows(es);

    ProcessResult reset = Cdcctl(f, {"reset", file, "--drop-slot"});
    REQUIRE_MESSAGE(reset.exit_code == 0, reset.Describe());
    ProcessResult again = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(again.exit_code == 0, again.Describe());
    CHECK(IndexRows(es) == before);
    CheckIndexEqualsTable(f, es);
}

TEST_CASE(
    "a second pipeline replaying the same history leaves every document and version as it is") {
    // Pipeline b reads the same changes as a, later: everything it sends is older than or equal
    // to what a wrote, so external_gte turns it into 409s (done) or identical rewrites.
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, g FROM generate_series(1, "
        "30) g");
    std::string a = f.WritePipeline("a", "[public.product]", "", SinkYaml(es.url()));
    // One document per request: b's older writes of a document are not merged into its last.
    std::string b =
        f.WritePipeline("b", "[public.product]", "", SinkYaml(es.url(), "  bulk_max_docs: 1\n"));
    REQUIRE(Cdcctl(f, {"run", "--once", a}).exit_code == 0);
    REQUIRE(Cdcctl(f, {"run", "--once", b}).exit_code == 0);  // its slot starts here
    for (int i = 0; i < 3; ++i) f.Sql("UPDATE product SET qty = qty + 100 WHERE id <= 10");
    f.Sql("DELETE FROM product WHERE id > 25");
    f.Sql("INSERT INTO product VALUES (31, 'new', 1, NULL, NULL, false, 1)");
    f.Sql("UPDATE product SET name = 'newer' WHERE id = 31");
    REQUIRE(Cdcctl(f, {"run", "--once", a}).exit_code == 0);
    CheckIndexEqualsTable(f, es);
    auto before = es.Documents(kIndex);
    int requests = BulkRequests(es);

    uint64_t conflicts = es.conflicts();
    ProcessResult r = Cdcctl(f, {"run", "--once", b});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK(BulkRequests(es) > requests);  // b did send its history
    // Its older updates were refused with 409 version_conflict_engine_exception, and counted as
    // done: b confirmed them, so its next run sends nothing.
    CHECK(es.conflicts() > conflicts);
    int b_requests = BulkRequests(es);
    REQUIRE(Cdcctl(f, {"run", "--once", b}).exit_code == 0);
    CHECK(BulkRequests(es) == b_requests);
    auto after = es.Documents(kIndex);
    REQUIRE(after.size() == before.size());
    for (const auto &[id, doc] : before) {
        CAPTURE(id);
        REQUIRE(after.count(id) == 1);
        CHECK(after.at(id).source == doc.source);
        CHECK(after.at(id).version == doc.version);
    }
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("whole-request 429 and 503 are retried with backoff; the index ends equal to the table") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, g FROM generate_series(1, "
        "100) g");
    std::string file =
        f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url(), "  bulk_max_docs: 20\n"));
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);  // creates the index first
    f.Sql("UPDATE product SET qty = qty + 1000");
    es.Inject(Fault(EsDouble::Fault::kReject429, 2));
    es.Inject(Fault(EsDouble::Fault::kUnavailable503, 2));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "HTTP 429"), r.err);
    CHECK_MESSAGE(Contains(r.err, "HTTP 503"), r.err);
    CHECK(Contains(r.err, "retrying in"));
    CHECK(BulkRequests(es, 429) == 2);
    CHECK(BulkRequests(es, 503) == 2);
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("per-item 429 (es_rejected_execution_exception) is retried item by item") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, g FROM generate_series(1, "
        "50) g");
    std::string file = f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url()));
    es.Inject(Fault(EsDouble::Fault::kItem429, 5));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "es_rejected_execution_exception"), r.err);
    CheckIndexEqualsTable(f, es);
    // The double rejects the first five items it sees; exactly those were sent again.
    std::vector<std::string> sent;
    for (const auto &ids : BulkIds(es)) sent.insert(sent.end(), ids.begin(), ids.end());
    REQUIRE(sent.size() == 55);
    std::multiset<std::string> all(sent.begin(), sent.end());
    std::set<std::string> twice;
    for (const auto &id : all) {
        if (all.count(id) > 1) twice.insert(id);
    }
    CHECK(twice == std::set<std::string>(sent.begin(), sent.begin() + 5));
}

TEST_CASE(
    "mapper_parsing_exception with on_malformed: fail exits 74 and confirms nothing past it") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, g FROM generate_series(1, "
        "20) g");
    std::string file = f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url()));
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    f.Sql("UPDATE product SET name = 'x1' WHERE id = 1");
    f.Sql("UPDATE product SET name = 'x7' WHERE id = 7");
    f.Sql("UPDATE product SET name = 'x9' WHERE id = 9");
    es.Inject(Fault(EsDouble::Fault::kMapperParsing, 1, "7"));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 74, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "mapper_parsing_exception"), r.err);
    CHECK_MESSAGE(Contains(r.err, "'7'"), r.err);
    CHECK_MESSAGE(Contains(r.err, es.url()), r.err);  // the node
    CHECK(Contains(r.err, "on_malformed"));
    // Nothing past the failure was confirmed: the next run sends document 7 again.
    es.ClearFaults();
    ProcessResult again = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(again.exit_code == 0, again.Describe());
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("mapper_parsing_exception with on_malformed: warn skips the document and says so") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, g FROM generate_series(1, "
        "20) g");
    std::string file =
        f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url(), "  on_malformed: warn\n"));
    es.Inject(Fault(EsDouble::Fault::kMapperParsing, 1, "7"));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "mapper_parsing_exception"), r.err);
    CHECK(Contains(r.err, "on_malformed: warn"));
    Rows got = IndexRows(es);
    CHECK(got.size() == 19);
    CHECK(got.count("7") == 0);
    // Confirmed: a second run sends nothing.
    int before = BulkRequests(es);
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    CHECK(BulkRequests(es) == before);
}

TEST_CASE(
    "mapper_parsing_exception with on_malformed: dead_letter writes the event and the error") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, g FROM generate_series(1, "
        "20) g");
    std::string dead = f.dir.File("rejected.ndjson");
    std::string file = f.WritePipeline(
        "es", "[public.product]", "",
        SinkYaml(es.url(), "  on_malformed: dead_letter\n  dead_letter_path: " + dead + "\n"));
    es.Inject(Fault(EsDouble::Fault::kMapperParsing, 1, "7"));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    std::string lines = ReadFile(dead);
    CHECK(CountLines(lines) == 1);
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    REQUIRE_MESSAGE(!parser.parse(lines).get(e), lines);
    auto fields = ObjectFields(e);
    CHECK(fields.at("id") == "\"7\"");
    CHECK(fields.at("index") == "\"foo.public.product\"");
    CHECK(fields.at("status") == "400");
    CHECK(Contains(fields.at("error"), "mapper_parsing_exception"));
    CHECK(Contains(fields.at("document"), R"("name":"p7")"));
    CHECK(Contains(fields.at("action"), R"("_id":"7")"));
    CHECK(IndexRows(es).size() == 19);
}

TEST_CASE(
    "a connection reset mid-response is retried; the replayed items are accepted again at the "
    "same version") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, g FROM generate_series(1, "
        "100) g");
    std::string file =
        f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url(), "  bulk_max_docs: 30\n"));
    es.Inject(Fault(EsDouble::Fault::kResetMidResponse, 2));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "retrying"), r.err);
    // The two applied requests went again; external_gte accepts an equal version, so no 409.
    CHECK(es.bulk_items() > 100);
    CHECK(es.conflicts() == 0);
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("slow responses with concurrency 2: many updates of one row end in the last value") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, 0 FROM generate_series(1, "
        "60) g");
    std::string file = f.WritePipeline(
        "es", "[public.product]", "", SinkYaml(es.url(), "  bulk_max_docs: 7\n  concurrency: 2\n"));
    // The snapshot's requests hold different ids: two of them are in flight at once.
    es.Inject(Fault(EsDouble::Fault::kSlow, -1, "", std::chrono::milliseconds(50)));
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    CHECK(es.max_in_flight() == 2);
    es.ClearFaults();
    std::string sql;
    for (int i = 1; i <= 300; ++i) {
        sql += "UPDATE product SET qty = " + std::to_string(i) + " WHERE id = 1; ";
        if (i % 3 == 0)
            sql += "UPDATE product SET qty = " + std::to_string(i) +
                   " WHERE id = " + std::to_string(2 + i % 19) + "; ";
    }
    f.Sql(sql);  // one statement per transaction (autocommit)
    f.Sql(
        "BEGIN; UPDATE product SET qty = 1000 WHERE id = 1; UPDATE product SET qty = 1001 WHERE id "
        "= 1; COMMIT");
    es.Inject(Fault(EsDouble::Fault::kSlow, -1, "", std::chrono::milliseconds(15)));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK(es.max_in_flight() == 2);  // never more than concurrency
    CHECK(Contains(es.Get(kIndex, "1")->source, R"("qty":1001)"));
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("kill -9 while the cluster rejects everything, then a restart: nothing is lost") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, g FROM generate_series(1, "
        "200) g");
    std::string file =
        f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url(), "  bulk_max_docs: 40\n"));
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    f.Sql("UPDATE product SET qty = qty * 2 WHERE id % 3 = 0");
    f.Sql("DELETE FROM product WHERE id % 7 = 0");
    f.Sql(
        "INSERT INTO product SELECT g, 'n' || g, g, NULL, NULL, false, g FROM generate_series(201, "
        "260) g");
    es.Inject(Fault(EsDouble::Fault::kReject429, -1));
    {
        auto p = f.Start({"run", file});
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (BulkRequests(es, 429) < 3 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        REQUIRE(BulkRequests(es, 429) >= 3);
        p->Kill(SIGKILL);
        p->Wait();
    }
    es.ClearFaults();
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("after max_retries of 503 the run exits 74 naming the node") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql("INSERT INTO product VALUES (1, 'kettle', 1, NULL, NULL, true, 1)");
    std::string file =
        f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url(), "  max_retries: 2\n"));
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    f.Sql("UPDATE product SET qty = 2");
    es.Inject(Fault(EsDouble::Fault::kUnavailable503, -1));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 74, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "gave up after 2 retries"), r.err);
    CHECK(Contains(r.err, es.url()));
    es.ClearFaults();
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("an existing index is left as it is") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql("INSERT INTO product VALUES (1, 'kettle', 1, NULL, NULL, true, 1)");
    std::string mine = R"({"mappings":{"properties":{"name":{"type":"keyword"}}}})";
    ProcessResult put =
        RunProcess({"curl", "-s", "-f", "-X", "PUT", "-H", "Content-Type: application/json",
                    "--data-binary", mine, es.url() + "/" + kIndex});
    REQUIRE_MESSAGE(put.exit_code == 0, put.Describe());
    std::string created = es.CreatedMapping(kIndex);
    std::string file = f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url()));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK(es.CreatedMapping(kIndex) == created);
    int puts = 0;
    for (const auto &req : es.Requests()) puts += req.method == "PUT";
    CHECK(puts == 1);  // ours only
    CHECK(Contains(r.err, "exists; it is used as it is"));
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("OpenSearch and Elasticsearch 7.x are recognised from GET /") {
    for (auto [version, distribution, shown] :
         {std::tuple{"2.11.1", "opensearch", "OpenSearch 2.11.1"},
          std::tuple{"7.17.9", "", "Elasticsearch 7.17.9"}}) {
        CAPTURE(shown);
        CdcFixture f;
        EsDouble::Options o;
        o.version = version;
        o.distribution = distribution;
        EsDouble es(o);
        CreateProduct(f);
        f.Sql("INSERT INTO product VALUES (1, 'kettle', 1, NULL, NULL, true, 1)");
        std::string file = f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url()));
        ProcessResult check = Cdcctl(f, {"check", file});
        CHECK_MESSAGE(
            Contains(check.out, std::string("PASS  elasticsearch ") + es.url() + ": " + shown),
            check.out);
        ProcessResult r = Cdcctl(f, {"run", "--once", file});
        REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
        CHECK(Contains(r.err, std::string("Connected to ") + shown));
        CheckIndexEqualsTable(f, es);
    }
}

TEST_CASE("Elasticsearch 6.x is refused with a message") {
    CdcFixture f;
    EsDouble::Options o;
    o.version = "6.8.23";
    EsDouble es(o);
    CreateProduct(f);
    std::string file = f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url()));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    CHECK(r.exit_code == 69);
    CHECK_MESSAGE(Contains(r.err, "needs 7.x or later"), r.err);
}

TEST_CASE("basic auth and API keys: 401 without, accepted with, secrets in no output") {
    CdcFixture f;
    EsDouble::Options o;
    o.user = "elastic";
    o.password = "s3cr3t-Pw";
    o.api_key = "QVBJS0VZOnNlY3JldGtleQ==";
    EsDouble es(o);
    CreateProduct(f);
    f.Sql("INSERT INTO product VALUES (1, 'kettle', 1, NULL, NULL, true, 1)");

    std::string anon = f.WritePipeline("anon", "[public.product]", "", SinkYaml(es.url()));
    ProcessResult r = Cdcctl(f, {"run", "--once", anon});
    CHECK(r.exit_code == 69);
    CHECK_MESSAGE(Contains(r.err, "requires credentials (HTTP 401)"), r.err);
    ProcessResult check = Cdcctl(f, {"check", anon});
    CHECK(check.exit_code != 0);
    CHECK_MESSAGE(Contains(check.out, "FAIL  elasticsearch " + es.url() +
                                          ": the cluster requires credentials"),
                  check.out);

    std::string wrong =
        f.WritePipeline("wrong", "[public.product]", "",
                        SinkYaml(es.url(), "  user: elastic\n  password: ${ES_PASSWORD}\n"));
    r = Cdcctl(f, {"run", "--once", wrong}, {{"ES_PASSWORD", "not-the-one"}});
    CHECK(r.exit_code == 69);
    CHECK(Contains(r.err, "rejected the credentials of user 'elastic'"));
    CHECK_FALSE(Contains(r.err + r.out, "not-the-one"));

    std::string basic =
        f.WritePipeline("basic", "[public.product]", "",
                        SinkYaml(es.url(), "  user: elastic\n  password: ${ES_PASSWORD}\n"));
    r = Cdcctl(f, {"run", "--once", basic}, {{"ES_PASSWORD", "s3cr3t-Pw"}});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    check = Cdcctl(f, {"check", basic}, {{"ES_PASSWORD", "s3cr3t-Pw"}});
    CHECK_MESSAGE(Contains(check.out, "PASS  authentication: basic auth as 'elastic' accepted"),
                  check.out);
    for (const auto &text : {r.out, r.err, check.out, check.err}) {
        CHECK_FALSE(Contains(text, "s3cr3t-Pw"));
        CHECK_FALSE(Contains(text, "ZWxhc3RpYzpzM2NyM3QtUHc"));  // base64 of elastic:s3cr3t-Pw
    }
    CheckIndexEqualsTable(f, es);

    std::string keyed = f.WritePipeline("keyed", "[public.product]", "",
                                        SinkYaml(es.url(), "  api_key: ${ES_API_KEY}\n"));
    f.Sql("UPDATE product SET qty = 5");
    r = Cdcctl(f, {"run", "--once", keyed}, {{"ES_API_KEY", o.api_key}});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    check = Cdcctl(f, {"check", keyed}, {{"ES_API_KEY", o.api_key}});
    CHECK_MESSAGE(Contains(check.out, "PASS  authentication: API key accepted"), check.out);
    for (const auto &text : {r.out, r.err, check.out, check.err})
        CHECK_FALSE(Contains(text, o.api_key));
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("cdcctl check reports the node, its version, authentication and the index") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    std::string templated = f.WritePipeline("tpl", "[public.product]", "", SinkYaml(es.url()));
    ProcessResult r = Cdcctl(f, {"check", templated});
    CHECK_MESSAGE(r.exit_code == 0, r.Describe() << r.out);
    CHECK(Contains(r.out, "PASS  elasticsearch " + es.url() + ": Elasticsearch 8.13.4, reachable"));
    CHECK(Contains(r.out, "PASS  authentication: no credentials configured"));
    CHECK_MESSAGE(
        Contains(
            r.out,
            "PASS  index: '${topic}' names one index per table, 'foo.<schema>.<table>' lowercased"),
        r.out);

    std::string fixed =
        f.WritePipeline("fixed", "[public.product]", "", SinkYaml(es.url(), "  index: products\n"));
    r = Cdcctl(f, {"check", fixed});
    CHECK_MESSAGE(
        Contains(r.out, "PASS  index 'products': does not exist yet; created on first write"),
        r.out);
    f.Sql("INSERT INTO product VALUES (1, 'kettle', 1, NULL, NULL, true, 1)");
    REQUIRE(Cdcctl(f, {"run", "--once", fixed}).exit_code == 0);
    CHECK(es.Documents("products").size() == 1);
    r = Cdcctl(f, {"check", fixed});
    CHECK_MESSAGE(Contains(r.out, "PASS  index 'products': exists; it is used as it is"), r.out);

    std::string dead =
        f.WritePipeline("dead", "[public.product]", "", SinkYaml("http://127.0.0.1:1"));
    r = Cdcctl(f, {"check", dead});
    CHECK(r.exit_code == 69);
    CHECK_MESSAGE(Contains(r.out, "FAIL  elasticsearch http://127.0.0.1:1: cannot connect"), r.out);
}

TEST_CASE("several urls with one dead node: requests fail over to the live one") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, g FROM generate_series(1, "
        "100) g");
    std::string file =
        f.WritePipeline("es", "[public.product]", "",
                        "sink:\n  type: elasticsearch\n  urls: [http://127.0.0.1:1, " + es.url() +
                            "]\n  bulk_max_docs: 10\n");
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CheckIndexEqualsTable(f, es);
    f.Sql("UPDATE product SET qty = 0");
    r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("document: envelope with id: position keeps one Debezium event per change") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql("INSERT INTO product VALUES (1, 'kettle', 24.90, '2026-01-15', NULL, true, 1)");
    std::string file = f.WritePipeline(
        "es", "[public.product]", "",
        SinkYaml(es.url(), "  document: envelope\n  id: position\n  index: events\n"));
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    f.Sql("UPDATE product SET qty = 2 WHERE id = 1");
    f.Sql("DELETE FROM product WHERE id = 1");
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    auto docs = es.Documents("events");
    REQUIRE(docs.size() == 3);  // the read, the update and the delete
    std::multiset<std::string> ops;
    simdjson::dom::parser parser;
    for (const auto &[id, doc] : docs) {
        CHECK(id.rfind("foo.public.product/", 0) == 0);
        simdjson::dom::element e;
        REQUIRE(!parser.parse(doc.source).get(e));
        std::string_view op;
        REQUIRE(!e["op"].get_string().get(op));
        ops.insert(std::string(op));
        if (op == "r") CHECK(ObjectFields(e["after"]).at("added") == "20468");  // Debezium's days
    }
    CHECK(ops == std::multiset<std::string>{"d", "r", "u"});
    CHECK(Contains(es.CreatedMapping("events"), R"("added":{"type":"integer"})"));
}

TEST_CASE("pipelines/product.yaml runs as shipped, with PG* variables and ES_URL") {
    CdcFixture f;
    EsDouble es;
    std::map<std::string, std::string> env = f.PgEnv();
    env["ES_URL"] = es.url();
    std::string file = f.ShippedPipeline("product.yaml", env);
    ProcessResult r = RunProcess({CDCCTL_BINARY, "run", "--once", file}, env,
                                 std::chrono::seconds(60), f.dir.path());
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CheckIndexEqualsTable(f, es);
    CHECK(Contains(es.Get(kIndex, "1")->source, R"("price":"24.90")"));
    f.Sql("UPDATE product SET price = 22.00 WHERE id = 1");
    f.Sql("DELETE FROM product WHERE id = 2");
    r = RunProcess({CDCCTL_BINARY, "run", "--once", file}, env, std::chrono::seconds(60),
                   f.dir.path());
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("id: position on a table without a key: one document per snapshot row and per COPY row") {
    // The snapshot's rows share the consistent point as commit LSN and LSN; COPY writes its rows
    // as one WAL record (heap multi-insert), so they share one LSN too.
    CdcFixture f;
    EsDouble es;
    f.Sql("CREATE TABLE t (a int)");
    f.Sql("ALTER TABLE t REPLICA IDENTITY FULL");
    f.Sql("INSERT INTO t VALUES (1), (2), (3)");
    std::string file = f.WritePipeline("es", "[public.t]", "",
                                       SinkYaml(es.url(), "  id: position\n  index: events\n"));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    auto values = [&] {
        std::multiset<std::string> out;
        simdjson::dom::parser parser;
        for (const auto &[id, doc] : es.Documents("events")) {
            simdjson::dom::element e;
            REQUIRE(!parser.parse(doc.source).get(e));
            out.insert(ObjectFields(e).at("a"));
        }
        return out;
    };
    CHECK(values() == std::multiset<std::string>{"1", "2", "3"});

    f.Sql("COPY t FROM PROGRAM 'seq 4 6'");
    f.Sql("INSERT INTO t VALUES (7), (8)");
    r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK(values() == std::multiset<std::string>{"1", "2", "3", "4", "5", "6", "7", "8"});
}

TEST_CASE("an update that changes the primary key moves the document") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product VALUES (1, 'kettle', 1, NULL, NULL, true, 1), (2, 'teapot', 2, NULL, "
        "NULL, true, 2), (3, 'mug', 3, NULL, NULL, true, 3)");
    // on_delete: ignore keeps deleted rows' documents, but a moved row is not a deleted one.
    std::string file =
        f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url(), "  on_delete: ignore\n"));
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    f.Sql("UPDATE product SET id = 99 WHERE id = 1");  // REPLICA IDENTITY DEFAULT: the old key
    // In one transaction: 2 moves away and a new row takes its key.
    f.Sql(
        "BEGIN; UPDATE product SET id = 100 WHERE id = 2; INSERT INTO product VALUES (2, 'new', "
        "5, NULL, NULL, false, 5); COMMIT");
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_FALSE(es.Get(kIndex, "1"));
    CHECK(Contains(es.Get(kIndex, "2")->source, R"("name":"new")"));
    CHECK(Contains(es.Get(kIndex, "100")->source, R"("name":"teapot")"));
    CheckIndexEqualsTable(f, es);

    f.Sql("ALTER TABLE product REPLICA IDENTITY FULL");  // the whole old row
    f.Sql("UPDATE product SET id = 33, qty = 7 WHERE id = 3");
    f.Sql("UPDATE product SET qty = 8 WHERE id = 33");  // same key: no delete
    r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_FALSE(es.Get(kIndex, "3"));
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("unchanged TOASTed values: the placeholder is written and a warning names the table") {
    CdcFixture f;
    EsDouble es;
    f.Sql("CREATE TABLE doc (id int PRIMARY KEY, body text, n int)");
    f.Sql("ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL");  // out of line, uncompressed
    f.Sql("INSERT INTO doc VALUES (1, repeat('x', 20000), 1), (2, repeat('y', 20000), 1)");
    std::string file = f.WritePipeline("es", "[public.doc]", "", SinkYaml(es.url()));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_FALSE(Contains(r.err, "REPLICA IDENTITY FULL"));
    f.Sql("UPDATE doc SET n = 2");  // body untouched: pgoutput does not send it
    r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "Table 'public.doc'"), r.err);
    CHECK(Contains(r.err, "ALTER TABLE public.doc REPLICA IDENTITY FULL"));
    CHECK(Occurrences(r.err, "REPLICA IDENTITY FULL") == 1);  // once per table
    CHECK(Contains(es.Get("foo.public.doc", "1")->source,
                   R"("body":"__debezium_unavailable_value")"));
}

TEST_CASE("updates of one row in one transaction with a per-item 429 on it end in the last value") {
    // Two writes of one document in one request carry the same version; if the first were
    // rejected for now and sent again after the second was applied, it would win.
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql(
        "INSERT INTO product SELECT g, 'p' || g, g, NULL, NULL, true, 0 FROM generate_series(1, "
        "5) g");
    std::string file = f.WritePipeline("es", "[public.product]", "", SinkYaml(es.url()));
    REQUIRE(Cdcctl(f, {"run", "--once", file}).exit_code == 0);
    std::string sql = "BEGIN; ";
    for (int i = 1; i <= 50; ++i) {
        sql += "UPDATE product SET qty = " + std::to_string(i) + " WHERE id = 1; ";
        if (i % 10 == 0) sql += "UPDATE product SET qty = " + std::to_string(i) + " WHERE id = 2; ";
    }
    f.Sql(sql + "COMMIT");
    es.Inject(Fault(EsDouble::Fault::kItem429, 1, "1"));
    ProcessResult r = Cdcctl(f, {"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "es_rejected_execution_exception"), r.err);
    CHECK(Contains(es.Get(kIndex, "1")->source, R"("qty":50)"));
    CheckIndexEqualsTable(f, es);
}

TEST_CASE("the dead-letter file's directory is synced after the file is opened") {
    CdcFixture f;
    EsDouble es;
    CreateProduct(f);
    f.Sql("INSERT INTO product VALUES (1, 'kettle', 1, NULL, NULL, true, 1)");
    // A directory of its own: the state file's directory is synced anyway.
    std::string dir = f.dir.File("dead");
    std::filesystem::create_directories(dir);
    std::string file = f.WritePipeline(
        "es", "[public.product]", "",
        SinkYaml(es.url(),
                 "  on_malformed: dead_letter\n  dead_letter_path: " + dir + "/rejected.ndjson\n"));
    std::string trace = f.dir.File("trace.txt");
    std::vector<std::string> argv{"strace", "-f",  "-qq",         "-e",  "trace=openat,fsync,close",
                                  "-o",     trace, CDCCTL_BINARY, "run", "--once",
                                  file};
    ProcessResult r = RunProcess(argv, f.Env(), std::chrono::seconds(120), f.dir.path());
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    std::string text = ReadFile(trace);
    // "<tid> openat(AT_FDCWD, "<dir>", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = <fd>", and the next
    // call that thread makes is "<tid> fsync(<fd>) = 0".
    std::vector<std::string> lines;
    for (size_t start = 0; start < text.size();) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        lines.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    // strace pads the thread id: "672   fsync(8)    = 0".
    auto split = [](const std::string &line) {
        size_t space = line.find(' ');
        size_t call = line.find_first_not_of(' ', space);
        if (space == std::string::npos || call == std::string::npos)
            return std::pair<std::string, std::string>{};
        return std::pair{line.substr(0, space), line.substr(call)};
    };
    bool synced = false;
    for (size_t i = 0; i < lines.size() && !synced; ++i) {
        auto [tid, call] = split(lines[i]);
        if (call.rfind("openat(", 0) != 0 || !Contains(call, "\"" + dir + "\", ") ||
            !Contains(call, "O_DIRECTORY")) {
            continue;
        }
        std::string fd = call.substr(call.rfind("= ") + 2);
        for (size_t j = i + 1; j < lines.size(); ++j) {
            auto [next_tid, next] = split(lines[j]);
            if (next_tid != tid) continue;
            synced = next.rfind("fsync(" + fd + ")", 0) == 0 && next.size() >= 3 &&
                     next.substr(next.size() - 3) == "= 0";
            break;
        }
    }
    CHECK_MESSAGE(synced, text);
}

TEST_CASE("an event without a table schema is a SinkError") {
    EsDouble es;
    ElasticsearchSinkConfig cfg;
    cfg.url = es.url();
    SinkContext ctx;
    ctx.pipeline = "es";
    ctx.topic_prefix = "foo";
    ctx.source_block = &postgres::PostgresSourceBlock();
    auto sink = MakeElasticsearchSink(cfg, ctx);
    sink->Open();
    Batch batch;
    batch.seq = 1;
    ChangeEvent &e = batch.Add();
    e.op = Op::kCreate;
    e.table = nullptr;
    CHECK_THROWS_WITH_AS(sink->Write(batch), doctest::Contains("without a table schema"),
                         SinkError);
    sink->Close();
}
