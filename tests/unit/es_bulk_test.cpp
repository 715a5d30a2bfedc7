// The Elasticsearch sink's protocol pieces, without a network: the _bulk body it writes, how it
// reads _bulk responses, retry classification and backoff, request size limits and the
// ordering rule.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/event/decimal.h"
#include "core/event/temporal.h"
#include "sources/postgres/source_block.h"
#include "sinks/elasticsearch/bulk_request.h"
#include "sinks/elasticsearch/bulk_response.h"
#include "sinks/elasticsearch/retry.h"

using namespace cdcctl;
using namespace cdcctl::es;

namespace {

FieldSchema Field(std::string name, FieldType type, std::string semantic = {}) {
    FieldSchema f;
    f.name = std::move(name);
    f.type = type;
    f.semantic = std::move(semantic);
    f.version = f.semantic.empty() ? 0 : 1;
    return f;
}

// public.product(id bigint primary key, name text, added date)
TableSchemaPtr Product() {
    auto t = std::make_shared<TableSchema>();
    t->topic = "foo.public.product";
    t->database = "shop";
    t->schema = "public";
    t->table = "product";
    t->columns = {Field("id", FieldType::kInt64), Field("name", FieldType::kString),
                  Field("added", FieldType::kInt32, std::string(semantic::kDate))};
    t->key = {0};
    return t;
}

// public.line(order_id text, pos int, qty int), primary key (order_id, pos)
TableSchemaPtr Line() {
    auto t = std::make_shared<TableSchema>();
    t->topic = "foo.public.Line";
    t->schema = "public";
    t->table = "Line";
    t->columns = {Field("order_id", FieldType::kString), Field("pos", FieldType::kInt32),
                  Field("qty", FieldType::kInt32)};
    t->key = {0, 1};
    return t;
}

ChangeEvent Insert(const TableSchemaPtr &t, Row after, uint64_t commit_lsn = 1000) {
    ChangeEvent e;
    e.op = Op::kCreate;
    e.table = t;
    e.has_after = true;
    e.after = std::move(after);
    e.source.commit_order = commit_lsn;
    e.source.event_order = commit_lsn - 8;
    return e;
}

ChangeEvent Delete(const TableSchemaPtr &t, Row before, uint64_t commit_lsn = 2000) {
    ChangeEvent e;
    e.op = Op::kDelete;
    e.table = t;
    e.has_before = true;
    e.before = std::move(before);
    e.source.commit_order = commit_lsn;
    return e;
}

Row ProductRow(int64_t id, std::string name, int64_t days = 20468) {
    return {Value::Int(id), Value::String(name), Value::Int(days)};
}

std::string Encode(BulkEncoder &enc, const ChangeEvent &e, BulkItem *item = nullptr) {
    std::string body;
    BulkItem scratch;
    REQUIRE(enc.Append(e, &body, item ? item : &scratch));
    return body;
}

BulkEncoderConfig Cfg(EsIdMode id = EsIdMode::kKey, EsDocument doc = EsDocument::kRow) {
    BulkEncoderConfig c;
    c.id = id;
    c.document = doc;
    c.topic_prefix = "foo";
    c.source_block = &postgres::PostgresSourceBlock();
    return c;
}

// Every line of an NDJSON body must be one JSON object.
void CheckNdjson(const std::string &body) {
    REQUIRE(!body.empty());
    CHECK(body.back() == '\n');
    simdjson::dom::parser parser;
    size_t start = 0;
    while (start < body.size()) {
        size_t nl = body.find('\n', start);
        REQUIRE(nl != std::string::npos);
        simdjson::dom::element doc;
        CHECK_MESSAGE(!parser.parse(body.substr(start, nl - start)).get(doc),
                      body.substr(start, nl - start));
        start = nl + 1;
    }
}

}  // namespace

TEST_CASE(
    "an insert becomes an index action with the key as _id and the commit LSN as external_gte "
    "version") {
    BulkEncoder enc(Cfg());
    BulkItem item;
    std::string body = Encode(enc, Insert(Product(), ProductRow(1, "kettle"), 123456), &item);
    CHECK(body ==
          "{\"index\":{\"_index\":\"foo.public.product\",\"_id\":\"1\",\"version\":123456,"
          "\"version_type\":\"external_gte\"}}\n"
          "{\"id\":1,\"name\":\"kettle\",\"added\":\"2026-01-15\"}\n");
    CHECK(item.begin == 0);
    CHECK(body.substr(item.source) == "{\"id\":1,\"name\":\"kettle\",\"added\":\"2026-01-15\"}\n");
    CHECK(item.end == body.size());
    CHECK(item.id_hash != 0);
    CheckNdjson(body);
}

TEST_CASE("a delete becomes a delete action with no source line, versioned like an index") {
    BulkEncoder enc(Cfg());
    BulkItem item;
    Row before = {Value::Int(2), Value::Null(), Value::Null()};
    std::string body = Encode(enc, Delete(Product(), before, 777), &item);
    CHECK(body ==
          "{\"delete\":{\"_index\":\"foo.public.product\",\"_id\":\"2\",\"version\":777,\"version_"
          "type\":\"external_gte\"}}\n");
    CHECK(item.source == item.end);
    CheckNdjson(body);
}

TEST_CASE("on_delete: ignore skips deletes; truncates never have a document") {
    BulkEncoderConfig c = Cfg();
    c.on_delete = EsOnDelete::kIgnore;
    BulkEncoder enc(c);
    std::string body;
    BulkItem item;
    CHECK_FALSE(enc.Append(Delete(Product(), ProductRow(2, "x")), &body, &item));
    ChangeEvent t;
    t.op = Op::kTruncate;
    t.table = Product();
    CHECK_FALSE(enc.Append(t, &body, &item));
    CHECK(body.empty());
}

TEST_CASE("the same key gives the same id hash, another key another one") {
    BulkEncoder enc(Cfg());
    BulkItem a, b, c;
    Encode(enc, Insert(Product(), ProductRow(1, "a")), &a);
    Encode(enc, Insert(Product(), ProductRow(1, "b"), 5000), &b);
    Encode(enc, Insert(Product(), ProductRow(2, "a")), &c);
    CHECK(a.id_hash == b.id_hash);
    CHECK(a.id_hash != c.id_hash);
}

TEST_CASE("composite keys join their columns with '|', escaping '|' and '\\' inside values") {
    BulkEncoder enc(Cfg());
    std::string body =
        Encode(enc, Insert(Line(), {Value::String("A|7\\x"), Value::Int(3), Value::Int(1)}));
    // The id is A\|7\\x|3, and JSON escapes each backslash once more.
    CHECK(body.find(R"("_id":"A\\|7\\\\x|3")") != std::string::npos);
    CHECK(body.find(R"("_index":"foo.public.line")") != std::string::npos);  // lowercased
    std::string other =
        Encode(enc, Insert(Line(), {Value::String("A"), Value::Int(73), Value::Int(1)}));
    CHECK(other.find(R"("_id":"A|73")") != std::string::npos);
    CheckNdjson(body);
}

TEST_CASE("ids and documents are JSON-escaped") {
    auto t = Product();
    auto s = std::make_shared<TableSchema>(*t);
    s->columns[0] = Field("id", FieldType::kString);
    BulkEncoder enc(Cfg());
    std::string body = Encode(
        enc, Insert(s, {Value::String("a\"b\n"), Value::String("tab\there"), Value::Null()}));
    CHECK(body.find(R"("_id":"a\"b\n")") != std::string::npos);
    CHECK(body.find(R"("name":"tab\there")") != std::string::npos);
    CHECK(body.find(R"("added":null)") != std::string::npos);
    CheckNdjson(body);
}

TEST_CASE("id: position names one document per event; deletes are indexed too") {
    BulkEncoder enc(Cfg(EsIdMode::kPosition));
    ChangeEvent ins = Insert(Product(), ProductRow(1, "kettle"), 5000);
    ins.source.event_order = 4992;
    std::string body = Encode(enc, ins);
    CHECK(body.find(R"("_id":"foo.public.product/5000/4992/0")") != std::string::npos);
    std::string del = Encode(enc, Delete(Product(), ProductRow(1, "kettle"), 6000));
    CHECK(del.rfind("{\"index\":", 0) == 0);
    CHECK(del.find("\"name\":\"kettle\"") != std::string::npos);
}

TEST_CASE("id: none sends no _id and no version, and cannot delete") {
    BulkEncoder enc(Cfg(EsIdMode::kNone));
    BulkItem item;
    std::string body = Encode(enc, Insert(Product(), ProductRow(1, "kettle")), &item);
    CHECK(body.rfind("{\"index\":{\"_index\":\"foo.public.product\"}}\n", 0) == 0);
    CHECK(item.id_hash == 0);
    std::string none;
    CHECK_FALSE(enc.Append(Delete(Product(), ProductRow(1, "kettle")), &none, &item));
}

TEST_CASE("id: key on a table without a key is a SinkError that says what to do") {
    auto t = std::make_shared<TableSchema>(*Product());
    t->key.clear();
    BulkEncoder enc(Cfg());
    std::string body;
    BulkItem item;
    CHECK_THROWS_WITH_AS(enc.Append(Insert(t, ProductRow(1, "x")), &body, &item),
                         doctest::Contains("id: position"), SinkError);
    CHECK(body.empty());  // no action line without its document
}

TEST_CASE("id: position numbers the events that share a commit LSN and an LSN, in order") {
    // A keyless table's snapshot rows all carry the consistent point; a multi-row INSERT is one
    // WAL record. Each event is still its own document.
    auto t = std::make_shared<TableSchema>(*Product());
    t->key.clear();
    BulkEncoder enc(Cfg(EsIdMode::kPosition));
    std::vector<std::string> bodies;
    for (int i = 0; i < 3; ++i)
        bodies.push_back(Encode(enc, Insert(t, ProductRow(1, "same"), 500)));
    ChangeEvent next = Insert(t, ProductRow(1, "same"), 900);
    next.source.event_order = 800;
    bodies.push_back(Encode(enc, next));
    bodies.push_back(Encode(enc, next));
    CHECK(bodies[0].find(R"("_id":"foo.public.product/500/492/0")") != std::string::npos);
    CHECK(bodies[1].find(R"("_id":"foo.public.product/500/492/1")") != std::string::npos);
    CHECK(bodies[2].find(R"("_id":"foo.public.product/500/492/2")") != std::string::npos);
    CHECK(bodies[3].find(R"("_id":"foo.public.product/900/800/0")") != std::string::npos);
    CHECK(bodies[4].find(R"("_id":"foo.public.product/900/800/1")") != std::string::npos);
    // A replay from the same transaction boundary names the events as before.
    BulkEncoder replay(Cfg(EsIdMode::kPosition));
    CHECK(Encode(replay, Insert(t, ProductRow(1, "same"), 500)) == bodies[0]);
    CHECK(Encode(replay, Insert(t, ProductRow(1, "same"), 500)) == bodies[1]);
}

ChangeEvent Update(const TableSchemaPtr &t, Row before, Row after, uint64_t commit_lsn) {
    ChangeEvent e;
    e.op = Op::kUpdate;
    e.table = t;
    e.has_before = true;
    e.before = std::move(before);
    e.has_after = true;
    e.after = std::move(after);
    e.source.commit_order = commit_lsn;
    e.source.event_order = commit_lsn - 8;
    return e;
}

TEST_CASE("an update that changes the key deletes the old document, then indexes the new one") {
    BulkEncoderConfig c = Cfg();
    c.on_delete = EsOnDelete::kIgnore;  // the row moved; it was not deleted
    BulkEncoder enc(c);
    BulkAssembler asmb(1 << 20, 100);
    std::vector<std::unique_ptr<BulkRequest>> sealed;
    Row old_key = {Value::Int(1), Value::Null(), Value::Null()};  // pgoutput's 'K' tuple
    asmb.Add(enc, Update(Product(), old_key, ProductRow(99, "kettle"), 4000), 1, &sealed);
    auto r = asmb.TakeOpen();
    REQUIRE(r);
    REQUIRE(r->items.size() == 2);
    CHECK(r->body ==
          "{\"delete\":{\"_index\":\"foo.public.product\",\"_id\":\"1\",\"version\":4000,"
          "\"version_type\":\"external_gte\"}}\n"
          "{\"index\":{\"_index\":\"foo.public.product\",\"_id\":\"99\",\"version\":4000,"
          "\"version_type\":\"external_gte\"}}\n"
          "{\"id\":99,\"name\":\"kettle\",\"added\":\"2026-01-15\"}\n");
    CHECK(r->items[0].id_hash != 0);
    CHECK(r->items[0].id_hash != r->items[1].id_hash);  // both held by the ordering gate
    CHECK(r->items[0].source == r->items[0].end);

    // Same key (REPLICA IDENTITY FULL sends the whole old row): one index action only.
    asmb.Add(enc, Update(Product(), ProductRow(5, "a"), ProductRow(5, "b"), 4100), 2, &sealed);
    r = asmb.TakeOpen();
    REQUIRE(r);
    CHECK(r->items.size() == 1);
    CHECK(r->body.rfind("{\"index\":", 0) == 0);

    // id: position has no document per key to move.
    BulkEncoder pos(Cfg(EsIdMode::kPosition));
    std::string body;
    BulkItem item;
    CHECK_FALSE(
        pos.AppendKeyChange(Update(Product(), old_key, ProductRow(99, "k"), 4000), &body, &item));
    CHECK(body.empty());
}

TEST_CASE("a later write of a document replaces the earlier one in the open request") {
    BulkEncoder enc(Cfg());
    BulkAssembler asmb(1 << 20, 100);
    std::vector<std::unique_ptr<BulkRequest>> sealed;
    asmb.Add(enc, Insert(Product(), ProductRow(1, "first"), 3000), 7, &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(2, "other"), 3000), 7, &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(1, "second"), 3000), 8, &sealed);
    asmb.Add(enc, Delete(Product(), {Value::Int(2), Value::Null(), Value::Null()}, 3000), 8,
             &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(1, "last"), 3000), 9, &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(11, "x"), 3000), 9, &sealed);
    CHECK(sealed.empty());
    CHECK(asmb.first_seq() == 7);
    auto r = asmb.TakeOpen();
    REQUIRE(r);
    CheckNdjson(r->body);
    REQUIRE(r->items.size() == 3);  // 2 (deleted), 1 (last), 11
    CHECK(r->body.find("first") == std::string::npos);
    CHECK(r->body.find("second") == std::string::npos);
    CHECK(r->body.find("other") == std::string::npos);
    std::string_view body = r->body;
    CHECK(body.substr(r->items[0].begin, r->items[0].end - r->items[0].begin)
              .rfind("{\"delete\":{\"_index\":\"foo.public.product\",\"_id\":\"2\"", 0) == 0);
    CHECK(body.substr(r->items[1].source, r->items[1].end - r->items[1].source) ==
          "{\"id\":1,\"name\":\"last\",\"added\":\"2026-01-15\"}\n");
    CHECK(r->items[2].end == r->body.size());
    // The replacing items carry the earliest batch of the writes they replaced.
    CHECK(r->items[0].seq == 7);
    CHECK(r->items[1].seq == 7);
    CHECK(r->items[2].seq == 9);
    for (const BulkItem &item : r->items) CHECK_FALSE(item.superseded);
}

TEST_CASE("writes of one document in different indexes or requests are not merged") {
    BulkEncoderConfig c = Cfg();
    c.index = "${table}";
    BulkEncoder enc(c);
    BulkAssembler asmb(1 << 20, 2);
    std::vector<std::unique_ptr<BulkRequest>> sealed;
    asmb.Add(enc, Insert(Product(), ProductRow(1, "a")), 1, &sealed);
    auto other = std::make_shared<TableSchema>(*Product());
    other->topic = "foo.public.other";
    other->table = "other";
    asmb.Add(enc, Insert(other, ProductRow(1, "b")), 1, &sealed);  // same _id, other index
    asmb.Add(enc, Insert(Product(), ProductRow(1, "c")), 2, &sealed);
    REQUIRE(sealed.size() == 1);
    CHECK(sealed[0]->items.size() == 2);
    auto rest = asmb.TakeOpen();
    REQUIRE(rest);
    CHECK(rest->items.size() == 1);  // the gate orders it after the first request
}

TEST_CASE("document: envelope indexes the whole Debezium event") {
    BulkEncoder enc(Cfg(EsIdMode::kKey, EsDocument::kEnvelope));
    std::string body = Encode(enc, Insert(Product(), ProductRow(1, "kettle")));
    CHECK(body.find(R"("after":{"id":1,"name":"kettle","added":20468})") != std::string::npos);
    CHECK(body.find(R"("op":"c")") != std::string::npos);
    CheckNdjson(body);
}

TEST_CASE(
    "index templates fill in ${schema} and ${table} and are lowercased; bad names are refused") {
    BulkEncoderConfig c = Cfg();
    c.index = "cdc-${schema}-${table}";
    BulkEncoder enc(c);
    CHECK(enc.IndexOf(Line()) == "cdc-public-line");
    std::string error;
    auto t = std::make_shared<TableSchema>(*Product());
    t->table = "a b";
    CHECK(ResolveIndex("${table}", *t, &error).empty());
    CHECK(error.find("must not contain ' '") != std::string::npos);
}

TEST_CASE(
    "row documents: dates, timestamps and precise decimals become text Elasticsearch can map") {
    std::string s;
    AppendIsoDate(&s, 0);
    CHECK(s == "1970-01-01");
    s.clear();
    AppendIsoDate(&s, -1);
    CHECK(s == "1969-12-31");
    s.clear();
    AppendIsoTimestamp(&s, 1768471200123456, 1000000);
    CHECK(s == "2026-01-15T10:00:00.123456");
    s.clear();
    AppendIsoTimestamp(&s, 1768471200500000, 1000000);
    CHECK(s == "2026-01-15T10:00:00.5");
    s.clear();
    AppendIsoTimestamp(&s, -1, 1000);
    CHECK(s == "1969-12-31T23:59:59.999");
    s.clear();
    AppendIsoTimestamp(&s, 1768471200000, 1000);
    CHECK(s == "2026-01-15T10:00:00");
    s.clear();
    AppendDecimalText(&s, std::string("\x09\xBA", 2), 2);  // 2490
    CHECK(s == "24.90");
    s.clear();
    AppendDecimalText(&s, std::string("\xF6\x46", 2), 2);  // -2490
    CHECK(s == "-24.90");
    s.clear();
    AppendDecimalText(&s, std::string("\x05", 1), 3);
    CHECK(s == "0.005");
    s.clear();
    AppendDecimalText(&s, std::string("\x00", 1), 2);
    CHECK(s == "0.00");
    s.clear();
    // 2^64 = 18446744073709551616, more than one limb.
    AppendDecimalText(&s, std::string("\x01\x00\x00\x00\x00\x00\x00\x00\x00", 9), 0);
    CHECK(s == "18446744073709551616");
    s.clear();
    AppendDecimalText(&s, std::string("\x0C", 1), -2);
    CHECK(s == "1200");
}

TEST_CASE("row documents: a ZonedTimestamp with an offset is written as the same instant in UTC") {
    auto t = std::make_shared<TableSchema>();
    t->topic = "foo.public.event";
    t->schema = "public";
    t->table = "event";
    t->columns = {Field("id", FieldType::kInt64),
                  Field("at", FieldType::kString, std::string(semantic::kZonedTimestamp))};
    t->key = {0};
    BulkEncoder enc(Cfg());
    auto doc = [&](std::string at) {
        std::string body = Encode(enc, Insert(t, {Value::Int(1), Value::String(std::move(at))}));
        return body.substr(body.find('\n') + 1);
    };
    // A timezone converter's local time: 09:00 at +09:00 is midnight UTC.
    CHECK(doc("2024-01-01T09:00:00+09:00") == "{\"id\":1,\"at\":\"2024-01-01T00:00:00Z\"}\n");
    CHECK(doc("2023-12-31T18:29:44.5-05:30:15") ==
          "{\"id\":1,\"at\":\"2023-12-31T23:59:59.5Z\"}\n");
    // What the source writes, in UTC, and text that is no instant, go out as they are.
    CHECK(doc("+10000-01-01T00:00:00.120Z") == "{\"id\":1,\"at\":\"+10000-01-01T00:00:00.120Z\"}\n");
    CHECK(doc("infinity") == "{\"id\":1,\"at\":\"infinity\"}\n");
}

TEST_CASE("bulk response: errors false means every item is done") {
    BulkResponseParser p;
    std::vector<ItemResult> items;
    std::string error;
    std::string body =
        R"({"took":3,"errors":false,"items":[{"index":{"_index":"i","_id":"1","_version":5,"result":"created","status":201}},)"
        R"({"delete":{"_index":"i","_id":"2","result":"not_found","status":404}}]})";
    REQUIRE(p.Parse(body, 2, &items, &error));
    CHECK_FALSE(p.errors());
    CHECK(items[0].verdict == ItemVerdict::kDone);
    CHECK(items[1].verdict == ItemVerdict::kDone);  // a delete of nothing
}

TEST_CASE("bulk response: errors true is read item by item") {
    BulkResponseParser p;
    std::vector<ItemResult> items;
    std::string error;
    std::string body =
        R"({"took":3,"errors":true,"items":[)"
        R"({"index":{"_index":"i","_id":"1","status":200}},)"
        R"({"index":{"_index":"i","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[2]: version conflict"}}},)"
        R"({"index":{"_index":"i","_id":"3","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}},)"
        R"({"index":{"_index":"i","_id":"4","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n]"}}},)"
        R"({"index":{"_index":"i","_id":"5","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}},)"
        R"({"index":{"_index":"i","_id":"6","status":404,"error":{"type":"index_not_found_exception","reason":"no such index"}}}]})";
    REQUIRE(p.Parse(body, 6, &items, &error));
    CHECK(p.errors());
    CHECK(items[0].verdict == ItemVerdict::kDone);
    CHECK(items[1].verdict == ItemVerdict::kDone);  // 409 on a replay counts as done
    CHECK(items[2].verdict == ItemVerdict::kRetry);
    CHECK(items[2].error_type == "es_rejected_execution_exception");
    CHECK(items[3].verdict == ItemVerdict::kRejected);
    CHECK(items[3].error_type == "mapper_parsing_exception");
    CHECK(items[3].reason == "failed to parse field [n]");
    CHECK(items[3].id == "4");
    CHECK(items[3].index == "i");
    CHECK(items[4].verdict == ItemVerdict::kRetry);
    CHECK(items[5].verdict == ItemVerdict::kRejected);
}

TEST_CASE("bulk response: a wrong item count or a body that is not a bulk response is an error") {
    BulkResponseParser p;
    std::vector<ItemResult> items;
    std::string error;
    CHECK_FALSE(p.Parse(R"({"took":1,"errors":false,"items":[]})", 1, &items, &error));
    CHECK(error.find("0 items for 1 actions") != std::string::npos);
    CHECK_FALSE(p.Parse("<html>bad gateway</html>", 1, &items, &error));
    CHECK_FALSE(p.Parse(R"({"error":{"type":"x"},"status":400})", 1, &items, &error));
}

TEST_CASE("error summaries name the Elasticsearch error type and reason") {
    CHECK(
        ErrorSummary(
            R"({"error":{"type":"es_rejected_execution_exception","reason":"queue full"},"status":429})") ==
        "es_rejected_execution_exception: queue full");
    CHECK(ErrorSummary("Service Unavailable\n") == "Service Unavailable ");
}

TEST_CASE("whole requests: 429 and 502/503/504 are retried, other errors are not") {
    CHECK(ClassifyRequestStatus(200) == RequestVerdict::kOk);
    for (long s : {429L, 502L, 503L, 504L})
        CHECK(ClassifyRequestStatus(s) == RequestVerdict::kRetry);
    for (long s : {400L, 401L, 403L, 404L, 413L, 500L})
        CHECK(ClassifyRequestStatus(s) == RequestVerdict::kFatal);
}

TEST_CASE("backoff doubles per attempt within [d/2, d] and stops growing at the cap") {
    BackoffPolicy policy{std::chrono::milliseconds(100), std::chrono::milliseconds(2000)};
    std::mt19937_64 rng(42);
    for (int i = 0; i < 200; ++i) {
        auto d1 = BackoffDelay(policy, 1, rng).count();
        CHECK(d1 >= 50);
        CHECK(d1 <= 100);
        auto d3 = BackoffDelay(policy, 3, rng).count();
        CHECK(d3 >= 200);
        CHECK(d3 <= 400);
        auto d20 = BackoffDelay(policy, 20, rng).count();
        CHECK(d20 >= 1000);
        CHECK(d20 <= 2000);
        auto d100 = BackoffDelay(policy, 100, rng).count();  // no overflow
        CHECK(d100 <= 2000);
    }
}

TEST_CASE("requests are cut at bulk_max_docs") {
    BulkEncoder enc(Cfg());
    BulkAssembler asmb(1 << 20, 3);
    std::vector<std::unique_ptr<BulkRequest>> sealed;
    for (int i = 1; i <= 7; ++i) asmb.Add(enc, Insert(Product(), ProductRow(i, "x")), 1, &sealed);
    REQUIRE(sealed.size() == 2);
    CHECK(sealed[0]->items.size() == 3);
    CHECK(sealed[1]->items.size() == 3);
    auto rest = asmb.TakeOpen();
    REQUIRE(rest);
    CHECK(rest->items.size() == 1);
    CHECK(asmb.TakeOpen() == nullptr);
    for (auto &r : sealed) CheckNdjson(r->body);
}

TEST_CASE("requests are cut before bulk_max_bytes; a larger document travels alone") {
    BulkEncoder enc(Cfg());
    std::string one = Encode(enc, Insert(Product(), ProductRow(1, "x")));
    BulkAssembler asmb(one.size() * 2 + 1, 1000);
    std::vector<std::unique_ptr<BulkRequest>> sealed;
    for (int i = 1; i <= 5; ++i)
        asmb.Add(enc, Insert(Product(), ProductRow(i, "x")), static_cast<uint64_t>(i), &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(6, std::string(10000, 'y'))), 6, &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(7, "x")), 7, &sealed);
    auto rest = asmb.TakeOpen();
    REQUIRE(rest);
    sealed.push_back(std::move(rest));
    std::vector<size_t> counts;
    for (auto &r : sealed) {
        counts.push_back(r->items.size());
        CheckNdjson(r->body);
        if (r->items.size() > 1) CHECK(r->body.size() <= one.size() * 2 + 1);
        // Item offsets describe the request's own body.
        CHECK(r->items.front().begin == 0);
        CHECK(r->items.back().end == r->body.size());
    }
    CHECK(counts == std::vector<size_t>{2, 2, 1, 1, 1});
    CHECK(sealed[2]->items[0].seq == 5);
    CHECK(sealed[3]->items[0].seq == 6);
    CHECK(sealed[3]->body.find(std::string(10000, 'y')) != std::string::npos);
}

TEST_CASE("ordering: a request waits while an earlier unfinished one holds one of its ids") {
    BulkEncoder enc(Cfg());
    BulkAssembler asmb(1 << 20, 2);
    std::vector<std::unique_ptr<BulkRequest>> sealed;
    asmb.Add(enc, Insert(Product(), ProductRow(1, "a")), 1, &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(2, "a")), 1, &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(3, "a")), 1, &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(4, "a")), 1, &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(2, "b"), 3000), 2, &sealed);
    asmb.Add(enc, Insert(Product(), ProductRow(5, "b"), 3000), 2, &sealed);
    REQUIRE(sealed.size() == 3);
    IdGate gate;
    REQUIRE(gate.CanSend(*sealed[0]));
    gate.Hold(*sealed[0]);
    CHECK(gate.CanSend(*sealed[1]));  // ids 3, 4: independent
    gate.Hold(*sealed[1]);
    CHECK_FALSE(gate.CanSend(*sealed[2]));  // id 2 is still in flight in the first
    gate.Release(sealed[0]->items[0]);
    CHECK_FALSE(gate.CanSend(*sealed[2]));
    gate.Release(sealed[0]->items[1]);
    CHECK(gate.CanSend(*sealed[2]));
}
