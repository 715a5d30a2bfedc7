// PostgreSQL events, as the PostgreSQL source builds them, written by every sink encoder: the
// Debezium envelope and the row format (with and without JsonConverter schemas), Elasticsearch
// bulk bodies (id: key and id: position, row and envelope documents) and Parquet files (row and
// envelope content). The output was recorded from cdcctl before the shared core took over
// positions and source blocks (tests/fixtures/recorded/); it must stay byte for byte the same.
//
// CDCCTL_RECORD=1 rewrites the recordings instead of comparing (only for a deliberate change of
// the output, reviewed in the diff).
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/json/envelope_encoder.h"
#include "sinks/elasticsearch/bulk_request.h"
#include "sinks/parquet/format/parquet_writer.h"
#include "sinks/parquet/row_layout.h"
#include "sources/postgres/pg_types.h"
#include "sources/postgres/source_block.h"

using namespace cdcctl;

namespace {

const std::string kDir = std::string(CDCCTL_SOURCE_DIR) + "/tests/fixtures/recorded/";

TableSchemaPtr ProductTable() {
    static const postgres::PgTypeRegistry types;
    namespace oid = postgres::oid;
    struct Col {
        const char *name;
        uint32_t type;
        int32_t typmod;
        bool not_null;
    };
    // typmods as pg_attribute.atttypmod holds them: numeric(10,2) is ((10 << 16) | 2) + 4.
    const Col cols[] = {
        {"id", oid::kInt4, -1, true},
        {"big", oid::kInt8, -1, false},
        {"name", oid::kText, -1, false},
        {"price", oid::kNumeric, ((10 << 16) | 2) + 4, false},
        {"ratio", oid::kNumeric, -1, false},
        {"weight", oid::kFloat8, -1, false},
        {"active", oid::kBool, -1, false},
        {"born", oid::kDate, -1, false},
        {"seen", oid::kTimestamp, -1, false},
        {"changed", oid::kTimestamptz, -1, false},
        {"opens", oid::kTime, -1, false},
        {"blob", oid::kBytea, -1, false},
        {"uid", oid::kUuid, -1, false},
        {"doc", oid::kJsonb, -1, false},
        {"counts", oid::kInt4Array, -1, false},
        {"tags", oid::kTextArray, -1, false},
    };
    auto t = std::make_shared<TableSchema>();
    t->topic = "shop.public.product";
    t->database = "shop";
    t->schema = "public";
    t->table = "product";
    for (const Col &c : cols) {
        t->columns.push_back(postgres::MapColumn(c.name, c.type, c.typmod, c.not_null, types,
                                                 TimePrecisionMode::kAdaptive,
                                                 DecimalHandlingMode::kPrecise));
    }
    t->key = {0};
    t->version = 1;
    return t;
}

Row ParseRow(const TableSchema &t, const std::vector<const char *> &texts) {
    Row row(t.columns.size());
    for (size_t i = 0; i < t.columns.size(); ++i) {
        if (texts[i] == nullptr) row[i].SetNull();
        else postgres::ParseText(t.columns[i], texts[i], &row[i]);
    }
    return row;
}

// A snapshot of two rows, then one transaction with an insert, an update (with an unchanged
// TOASTed value), a delete, and a truncate.
std::vector<ChangeEvent> Events(const TableSchemaPtr &t) {
    const Row a = ParseRow(*t, {"1", "9007199254740993", "chair \"oak\"", "1234.50", "3.14159",
                                "12.5", "t", "2020-02-29", "2024-01-02 03:04:05.123456",
                                "2024-01-02 03:04:05.5+00", "23:59:59.999999", "\\x00ff10",
                                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{\"k\": [1, 2]}",
                                "{1,NULL,3}", "{a,\"b c\",NULL}"});
    const Row b = ParseRow(*t, {"2", nullptr, "lamp", "-0.01", "NaN", "-Infinity", "f",
                                "0001-01-01 BC", "1969-12-31 23:59:59.999999", "infinity",
                                "00:00:00", "\\x", "00000000-0000-0000-0000-000000000000", "null",
                                "{}", "{}"});
    Row c = ParseRow(*t, {"3", "-1", "desk", "99999999.99", "0", "0", "t", "1970-01-01",
                          "2262-04-11 23:47:16", "1900-01-01 00:00:00+00", "12:00:00",
                          "\\xdeadbeef", "ffffffff-ffff-ffff-ffff-ffffffffffff", "[]",
                          "{-2147483648,2147483647}", "{\"\"}"});
    Row c2 = c;
    c2[2].SetString("desk, large");
    c2[12].SetUnavailable();

    std::vector<ChangeEvent> out;
    auto add = [&](Op op) -> ChangeEvent & {
        ChangeEvent &e = out.emplace_back();
        e.op = op;
        e.table = t;
        e.ts_ms = 1732350000000 + static_cast<int64_t>(out.size());
        return e;
    };
    // Snapshot reads at the consistent point 0/1A2B3C4D.
    const uint64_t consistent = 0x1A2B3C4D;
    for (int i = 0; i < 2; ++i) {
        ChangeEvent &e = add(Op::kRead);
        e.has_after = true;
        e.after = i == 0 ? a : b;
        e.source.ts_ms = 1732349999000;
        postgres::SetSnapshotSource(e.source, consistent);
        e.source.snapshot = i == 0 ? SnapshotMarker::kFirst : SnapshotMarker::kLast;
    }
    // One streamed transaction, xid 771, committed at 0/1A2B4000 after a commit at 0/1A2B3E00.
    const uint64_t commit = 0x1A2B4000, last_commit = 0x1A2B3E00;
    auto stream = [&](Op op, uint64_t lsn) -> ChangeEvent & {
        ChangeEvent &e = add(op);
        e.source.ts_ms = 1732350001000;
        postgres::SetStreamSource(e.source, lsn, last_commit, commit, 771);
        return e;
    };
    ChangeEvent &ins = stream(Op::kCreate, 0x1A2B3F00);
    ins.has_after = true;
    ins.after = c;
    ChangeEvent &upd = stream(Op::kUpdate, 0x1A2B3F40);
    upd.has_before = true;
    upd.before = c;
    upd.has_after = true;
    upd.after = c2;
    ChangeEvent &del = stream(Op::kDelete, 0x1A2B3F80);
    del.has_before = true;
    del.before = Row(t->columns.size());
    del.before[0].SetInt(1);
    stream(Op::kTruncate, 0x1A2B3FC0);
    return out;
}

std::string Envelopes(EventFormat format, bool schemas) {
    TableSchemaPtr t = ProductTable();
    EnvelopeEncoderConfig cfg;
    cfg.format = format;
    cfg.schemas = schemas;
    cfg.topic_prefix = "shop";
    cfg.version = "cdcctl-test";
    cfg.source_block = &postgres::PostgresSourceBlock();
    EnvelopeEncoder encoder(cfg);
    std::string out;
    for (const ChangeEvent &e : Events(t)) {
        encoder.Encode(e, &out);
        out += '\n';
    }
    return out;
}

std::string Bulk(EsDocument document, EsIdMode id) {
    TableSchemaPtr t = ProductTable();
    es::BulkEncoderConfig cfg;
    cfg.document = document;
    cfg.id = id;
    cfg.topic_prefix = "shop";
    cfg.source_block = &postgres::PostgresSourceBlock();
    es::BulkEncoder encoder(cfg);
    std::string body;
    for (const ChangeEvent &e : Events(t)) {
        es::BulkItem item;
        encoder.AppendKeyChange(e, &body, &item);
        encoder.Append(e, &body, &item);
    }
    return body;
}

class MemoryOutput : public parquet::Output {
public:
    void Write(const uint8_t *data, size_t size) override {
        bytes.append(reinterpret_cast<const char *>(data), size);
    }
    std::string bytes;
};

std::string ParquetFile(ParquetContent content) {
    TableSchemaPtr t = ProductTable();
    ParquetRowLayout layout(*t, content, postgres::PostgresSourceBlock(), "shop");
    MemoryOutput out;
    parquet::WriterOptions options;
    options.codec = parquet::Codec::kUncompressed;
    parquet::FileWriter writer(out, layout.schema(), options);
    std::vector<parquet::ColumnWriter *> columns;
    for (size_t i = 0; i < writer.num_columns(); ++i) columns.push_back(&writer.column(i));
    for (const ChangeEvent &e : Events(t)) {
        if (e.op == Op::kTruncate) continue;
        layout.WriteEvent(e, columns);
        writer.AddRows(1);
    }
    writer.Close();
    // Recorded as hex, 64 bytes a line, so that a difference shows where it is.
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    for (size_t i = 0; i < out.bytes.size(); ++i) {
        auto b = static_cast<unsigned char>(out.bytes[i]);
        hex += kHex[b >> 4];
        hex += kHex[b & 15];
        if (i % 64 == 63) hex += '\n';
    }
    if (!hex.empty() && hex.back() != '\n') hex += '\n';
    return hex;
}

void CheckRecorded(const std::string &name, const std::string &actual) {
    const std::string path = kDir + name;
    if (const char *record = std::getenv("CDCCTL_RECORD"); record != nullptr && *record == '1') {
        std::ofstream(path, std::ios::binary) << actual;
        MESSAGE("recorded " << path);
        return;
    }
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "missing recording " << path);
    std::stringstream expected;
    expected << in.rdbuf();
    CHECK(actual == expected.str());
}

}  // namespace

TEST_CASE("The envelope of PostgreSQL events is the recorded one") {
    CheckRecorded("pg_envelope.ndjson", Envelopes(EventFormat::kEnvelope, false));
}

TEST_CASE("The envelope with JsonConverter schemas is the recorded one") {
    CheckRecorded("pg_envelope_schemas.ndjson", Envelopes(EventFormat::kEnvelope, true));
}

TEST_CASE("The row format of PostgreSQL events is the recorded one") {
    CheckRecorded("pg_row.ndjson", Envelopes(EventFormat::kRow, false));
}

TEST_CASE("The row format with JsonConverter schemas is the recorded one") {
    CheckRecorded("pg_row_schemas.ndjson", Envelopes(EventFormat::kRow, true));
}

TEST_CASE("Elasticsearch bulk bodies with id: key are the recorded ones") {
    CheckRecorded("pg_bulk_key_row.ndjson", Bulk(EsDocument::kRow, EsIdMode::kKey));
    CheckRecorded("pg_bulk_key_envelope.ndjson", Bulk(EsDocument::kEnvelope, EsIdMode::kKey));
}

TEST_CASE("Elasticsearch bulk bodies with id: position are the recorded ones") {
    CheckRecorded("pg_bulk_position_row.ndjson", Bulk(EsDocument::kRow, EsIdMode::kPosition));
    CheckRecorded("pg_bulk_position_envelope.ndjson",
                  Bulk(EsDocument::kEnvelope, EsIdMode::kPosition));
}

TEST_CASE("Parquet files of PostgreSQL events are the recorded ones") {
    CheckRecorded("pg_parquet_row.hex", ParquetFile(ParquetContent::kRow));
    CheckRecorded("pg_parquet_envelope.hex", ParquetFile(ParquetContent::kEnvelope));
}
