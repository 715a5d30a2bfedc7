// The JSON that cdcctl writes for change events: Debezium's envelope, the row format, and Kafka
// Connect JsonConverter's schema/payload wrapping. Every produced document is also checked to be
// valid JSON with simdjson.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <cmath>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/json/envelope_encoder.h"
#include "core/json/json_writer.h"
#include "sources/postgres/source_block.h"

using namespace cdcctl;

namespace {

FieldSchema Field(std::string name, FieldType type, bool optional, std::string semantic = {}) {
    FieldSchema f;
    f.name = std::move(name);
    f.type = type;
    f.optional = optional;
    f.semantic = std::move(semantic);
    f.version = f.semantic.empty() ? 0 : 1;
    return f;
}

// public.orders(id int4 primary key, note text)
TableSchemaPtr OrdersTable() {
    auto t = std::make_shared<TableSchema>();
    t->topic = "shop.public.orders";
    t->database = "shopdb";
    t->schema = "public";
    t->table = "orders";
    t->columns = {Field("id", FieldType::kInt32, false), Field("note", FieldType::kString, true)};
    t->key = {0};
    t->version = 1;
    return t;
}

EnvelopeEncoderConfig Config(EventFormat format = EventFormat::kEnvelope, bool schemas = false) {
    EnvelopeEncoderConfig c;
    c.format = format;
    c.schemas = schemas;
    c.topic_prefix = "shop";
    c.version = "cdcctl-test";
    c.source_block = &postgres::PostgresSourceBlock();
    return c;
}

ChangeEvent Event(Op op, const TableSchemaPtr &table) {
    ChangeEvent e;
    e.op = op;
    e.table = table;
    e.source.ts_ms = 1700000000123;
    postgres::SetStreamSource(e.source, 24023128, 24023119, 24023200, 771);
    e.ts_ms = 1700000000456;
    return e;
}

bool IsValidJson(const std::string &s) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(s);
    simdjson::dom::element doc;
    return parser.parse(padded).get(doc) == simdjson::SUCCESS;
}

std::string Encode(EnvelopeEncoder &encoder, const ChangeEvent &event) {
    std::string out;
    encoder.Encode(event, &out);
    CHECK_MESSAGE(IsValidJson(out), out);
    return out;
}

// One column of `field`'s schema holding `value`, written as the envelope's "after".
std::string AfterJson(const FieldSchema &field, const Value &value) {
    auto t = std::make_shared<TableSchema>();
    t->topic = "shop.public.t";
    t->schema = "public";
    t->table = "t";
    t->columns = {field};
    ChangeEvent e;
    e.op = Op::kCreate;
    e.table = t;
    e.has_after = true;
    e.after = {value};
    EnvelopeEncoder encoder(Config(EventFormat::kRow));
    std::string out = Encode(encoder, e);
    // Strip the row-format metadata to leave {"<col>":<value>}.
    return out.substr(0, out.find(",\"__op\"")) + "}";
}

std::string ValueJson(const FieldSchema &field, const Value &value) {
    std::string out;
    json::JsonWriter w(&out);
    WriteFieldValue(w, field, value);
    return out;
}

const std::string kSource =
    R"("source":{"version":"cdcctl-test","connector":"postgresql","name":"shop","ts_ms":1700000000123,)"
    R"("snapshot":"false","db":"shopdb","sequence":"[\"24023119\",\"24023128\"]","ts_us":1700000000123000,)"
    R"("ts_ns":1700000000123000000,"schema":"public","table":"orders","txId":771,"lsn":24023128,"xmin":null})";
const std::string kTail = R"("transaction":null,)";
const std::string kTimes = R"("ts_ms":1700000000456,"ts_us":1700000000456000,"ts_ns":1700000000456000000})";

}  // namespace

// ---------------------------------------------------------------------------------------------
// Envelope format

TEST_CASE("an insert has a null before and the new row as after") {
    EnvelopeEncoder encoder(Config());
    ChangeEvent e = Event(Op::kCreate, OrdersTable());
    e.has_after = true;
    e.after = {Value::Int(1), Value::String("first")};
    CHECK(Encode(encoder, e) == R"({"before":null,"after":{"id":1,"note":"first"},)" + kSource + "," + kTail +
                                    R"("op":"c",)" + kTimes);
}

TEST_CASE("an update carries both row images") {
    EnvelopeEncoder encoder(Config());
    ChangeEvent e = Event(Op::kUpdate, OrdersTable());
    e.has_before = true;
    e.before = {Value::Int(1), Value::Null()};
    e.has_after = true;
    e.after = {Value::Int(1), Value::String("second")};
    CHECK(Encode(encoder, e) == R"({"before":{"id":1,"note":null},"after":{"id":1,"note":"second"},)" + kSource +
                                    "," + kTail + R"("op":"u",)" + kTimes);
}

TEST_CASE("a delete has the old row as before and a null after") {
    EnvelopeEncoder encoder(Config());
    ChangeEvent e = Event(Op::kDelete, OrdersTable());
    e.has_before = true;
    e.before = {Value::Int(1), Value::Null()};
    CHECK(Encode(encoder, e) == R"({"before":{"id":1,"note":null},"after":null,)" + kSource + "," + kTail +
                                    R"("op":"d",)" + kTimes);
}

TEST_CASE("a truncate has neither before nor after") {
    EnvelopeEncoder encoder(Config());
    ChangeEvent e = Event(Op::kTruncate, OrdersTable());
    CHECK(Encode(encoder, e) == R"({"before":null,"after":null,)" + kSource + "," + kTail + R"("op":"t",)" + kTimes);
}

TEST_CASE("a snapshot read without a position has null sequence, txId and lsn") {
    EnvelopeEncoder encoder(Config());
    ChangeEvent e = Event(Op::kRead, OrdersTable());
    e.source = SourceInfo{};
    e.source.ts_ms = 1700000000000;
    e.source.snapshot = SnapshotMarker::kFirst;
    e.has_after = true;
    e.after = {Value::Int(7), Value::String("x")};
    CHECK(Encode(encoder, e) ==
          R"({"before":null,"after":{"id":7,"note":"x"},)"
          R"("source":{"version":"cdcctl-test","connector":"postgresql","name":"shop","ts_ms":1700000000000,)"
          R"("snapshot":"first","db":"shopdb","sequence":null,"ts_us":1700000000000000,)"
          R"("ts_ns":1700000000000000000,"schema":"public","table":"orders","txId":null,"lsn":null,"xmin":null},)" +
              kTail + R"("op":"r",)" + kTimes);
}

TEST_CASE("the sequence has null for an unknown last commit LSN") {
    EnvelopeEncoder encoder(Config());
    ChangeEvent e = Event(Op::kTruncate, OrdersTable());
    postgres::SetStreamSource(e.source, 24023128, 0, 24023200, 771);
    CHECK(Encode(encoder, e).find(R"("sequence":"[null,\"24023128\"]")") != std::string::npos);
}

TEST_CASE("derived microsecond and nanosecond times are null where int64 cannot hold them") {
    EnvelopeEncoder encoder(Config(EventFormat::kEnvelope));
    ChangeEvent e = Event(Op::kTruncate, OrdersTable());
    e.ts_ms = INT64_MAX / 1000;
    std::string out = Encode(encoder, e);
    CHECK(out.find(R"("op":"t","ts_ms":9223372036854775,"ts_us":9223372036854775000,"ts_ns":null})") !=
          std::string::npos);
}

TEST_CASE("an event without a table schema is refused") {
    EnvelopeEncoder encoder(Config());
    ChangeEvent e;
    std::string out;
    CHECK_THROWS_WITH_AS(encoder.Encode(e, &out), "a change event reached the encoder without a table schema",
                         cdcctl::Error);
}

TEST_CASE("the default version names cdcctl and its release") {
    EnvelopeEncoderConfig config;
    CHECK(config.version == std::string("cdcctl-") + CDCCTL_VERSION);
}

TEST_CASE("Encode appends one object to what the buffer already holds") {
    EnvelopeEncoder encoder(Config(EventFormat::kRow));
    ChangeEvent e = Event(Op::kCreate, OrdersTable());
    e.has_after = true;
    e.after = {Value::Int(1), Value::Null()};
    std::string out = "prefix\n";
    encoder.Encode(e, &out);
    CHECK(out == R"(prefix
{"id":1,"note":null,"__op":"c","__table":"public.orders","__lsn":24023128,"__ts_ms":1700000000456})");
}

// ---------------------------------------------------------------------------------------------
// JsonConverter schemas

const std::string kValueFields =
    R"([{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"note"}])";

const std::string kEnvelopeSchema =
    R"({"type":"struct","fields":[)"
    R"({"type":"struct","fields":)" + kValueFields + R"(,"optional":true,"name":"shop.public.orders.Value","field":"before"},)"
    R"({"type":"struct","fields":)" + kValueFields + R"(,"optional":true,"name":"shop.public.orders.Value","field":"after"},)"
    R"({"type":"struct","fields":[)"
    R"({"type":"string","optional":false,"field":"version"},)"
    R"({"type":"string","optional":false,"field":"connector"},)"
    R"({"type":"string","optional":false,"field":"name"},)"
    R"({"type":"int64","optional":false,"field":"ts_ms"},)"
    R"({"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,)"
    R"("parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},)"
    R"("default":"false","field":"snapshot"},)"
    R"({"type":"string","optional":false,"field":"db"},)"
    R"({"type":"string","optional":true,"field":"sequence"},)"
    R"({"type":"int64","optional":true,"field":"ts_us"},)"
    R"({"type":"int64","optional":true,"field":"ts_ns"},)"
    R"({"type":"string","optional":false,"field":"schema"},)"
    R"({"type":"string","optional":false,"field":"table"},)"
    R"({"type":"int64","optional":true,"field":"txId"},)"
    R"({"type":"int64","optional":true,"field":"lsn"},)"
    R"({"type":"int64","optional":true,"field":"xmin"}],)"
    R"("optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"},)"
    R"({"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},)"
    R"({"type":"int64","optional":false,"field":"total_order"},)"
    R"({"type":"int64","optional":false,"field":"data_collection_order"}],)"
    R"("optional":true,"name":"event.block","version":1,"field":"transaction"},)"
    R"({"type":"string","optional":false,"field":"op"},)"
    R"({"type":"int64","optional":true,"field":"ts_ms"},)"
    R"({"type":"int64","optional":true,"field":"ts_us"},)"
    R"({"type":"int64","optional":true,"field":"ts_ns"}],)"
    R"("optional":false,"name":"shop.public.orders.Envelope","version":2})";

TEST_CASE("with schemas the envelope is wrapped in JsonConverter's schema and payload") {
    EnvelopeEncoder encoder(Config(EventFormat::kEnvelope, true));
    ChangeEvent e = Event(Op::kCreate, OrdersTable());
    e.has_after = true;
    e.after = {Value::Int(1), Value::String("first")};
    CHECK(Encode(encoder, e) == R"({"schema":)" + kEnvelopeSchema +
                                    R"(,"payload":{"before":null,"after":{"id":1,"note":"first"},)" + kSource + "," +
                                    kTail + R"("op":"c",)" + kTimes + "}");
}

TEST_CASE("a truncate with schemas carries the same envelope schema") {
    EnvelopeEncoder encoder(Config(EventFormat::kEnvelope, true));
    ChangeEvent e = Event(Op::kTruncate, OrdersTable());
    CHECK(Encode(encoder, e) == R"({"schema":)" + kEnvelopeSchema + R"(,"payload":{"before":null,"after":null,)" +
                                    kSource + "," + kTail + R"("op":"t",)" + kTimes + "}");
}

TEST_CASE("field schemas carry name, version and parameters in JsonConverter's order") {
    FieldSchema price = Field("price", FieldType::kBytes, true, "org.apache.kafka.connect.data.Decimal");
    price.parameters = {{"scale", "2"}, {"connect.decimal.precision", "10"}};
    std::string out;
    AppendFieldSchemaJson(&out, price, "price");
    CHECK(out == R"({"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,)"
                 R"("parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"price"})");
}

TEST_CASE("an array schema describes its items without a field name") {
    FieldSchema tags = Field("tags", FieldType::kArray, true);
    tags.fields = {Field("", FieldType::kString, true, "io.debezium.data.Enum")};
    tags.fields[0].parameters = {{"allowed", "a,b"}};
    std::string out;
    AppendFieldSchemaJson(&out, tags, "tags");
    CHECK(out == R"({"type":"array","items":{"type":"string","optional":true,"name":"io.debezium.data.Enum",)"
                 R"("version":1,"parameters":{"allowed":"a,b"}},"optional":true,"field":"tags"})");
}

TEST_CASE("a VariableScaleDecimal schema is a struct with Debezium's doc") {
    FieldSchema n = Field("n", FieldType::kStruct, true, "io.debezium.data.VariableScaleDecimal");
    n.fields = {Field("scale", FieldType::kInt32, false), Field("value", FieldType::kBytes, false)};
    std::string out;
    AppendFieldSchemaJson(&out, n, "n");
    CHECK(out == R"({"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},)"
                 R"({"type":"bytes","optional":false,"field":"value"}],"optional":true,)"
                 R"("name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal",)"
                 R"("field":"n"})");
}

TEST_CASE("a new version of a table's schema is rendered afresh") {
    EnvelopeEncoder encoder(Config(EventFormat::kRow, true));
    ChangeEvent e = Event(Op::kCreate, OrdersTable());
    e.has_after = true;
    e.after = {Value::Int(1), Value::Null()};
    std::string first = Encode(encoder, e);
    CHECK(Encode(encoder, e) == first);

    auto v2 = std::make_shared<TableSchema>(*e.table);
    v2->columns.push_back(Field("qty", FieldType::kInt16, true));
    v2->version = 2;
    e.table = v2;
    e.after.push_back(Value::Int(3));
    std::string second = Encode(encoder, e);
    CHECK(second.find(R"({"type":"int16","optional":true,"field":"qty"})") != std::string::npos);
    CHECK(second.find(R"("qty":3)") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Row format

TEST_CASE("a row-format insert is the new row plus metadata fields") {
    EnvelopeEncoder encoder(Config(EventFormat::kRow));
    ChangeEvent e = Event(Op::kCreate, OrdersTable());
    e.has_after = true;
    e.after = {Value::Int(1), Value::String("first")};
    CHECK(Encode(encoder, e) ==
          R"({"id":1,"note":"first","__op":"c","__table":"public.orders","__lsn":24023128,"__ts_ms":1700000000456})");
}

TEST_CASE("a row-format delete is the old row") {
    EnvelopeEncoder encoder(Config(EventFormat::kRow));
    ChangeEvent e = Event(Op::kDelete, OrdersTable());
    e.has_before = true;
    e.before = {Value::Int(1), Value::Null()};
    CHECK(Encode(encoder, e) ==
          R"({"id":1,"note":null,"__op":"d","__table":"public.orders","__lsn":24023128,"__ts_ms":1700000000456})");
}

TEST_CASE("a row-format truncate has only the metadata fields") {
    EnvelopeEncoder encoder(Config(EventFormat::kRow));
    ChangeEvent e = Event(Op::kTruncate, OrdersTable());
    postgres::SetStreamSource(e.source, 0, 24023119, 24023200, 771);
    CHECK(Encode(encoder, e) == R"({"__op":"t","__table":"public.orders","__lsn":null,"__ts_ms":1700000000456})");
}

TEST_CASE("with schemas the row format is wrapped in its Value schema") {
    EnvelopeEncoder encoder(Config(EventFormat::kRow, true));
    ChangeEvent e = Event(Op::kUpdate, OrdersTable());
    e.has_after = true;
    e.after = {Value::Int(2), Value::String("b")};
    CHECK(Encode(encoder, e) ==
          R"({"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},)"
          R"({"type":"string","optional":true,"field":"note"},{"type":"string","optional":true,"field":"__op"},)"
          R"({"type":"string","optional":true,"field":"__table"},{"type":"int64","optional":true,"field":"__lsn"},)"
          R"({"type":"int64","optional":true,"field":"__ts_ms"}],"optional":false,"name":"shop.public.orders.Value"},)"
          R"("payload":{"id":2,"note":"b","__op":"u","__table":"public.orders","__lsn":24023128,)"
          R"("__ts_ms":1700000000456}})");
}

TEST_CASE("a row-format truncate with schemas has a metadata-only schema") {
    EnvelopeEncoder encoder(Config(EventFormat::kRow, true));
    ChangeEvent e = Event(Op::kTruncate, OrdersTable());
    CHECK(Encode(encoder, e) ==
          R"({"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"__op"},)"
          R"({"type":"string","optional":true,"field":"__table"},{"type":"int64","optional":true,"field":"__lsn"},)"
          R"({"type":"int64","optional":true,"field":"__ts_ms"}],"optional":false,"name":"shop.public.orders.Value"},)"
          R"("payload":{"__op":"t","__table":"public.orders","__lsn":24023128,"__ts_ms":1700000000456}})");
}

// ---------------------------------------------------------------------------------------------
// Values

TEST_CASE("strings escape quotes, backslashes and control characters like Jackson") {
    FieldSchema s = Field("s", FieldType::kString, true);
    CHECK(AfterJson(s, Value::String("a\"b\\c\n\t\r\b\f\x01\x1f")) ==
          R"({"s":"a\"b\\c\n\t\r\b\f\u0001\u001F"})");
}

TEST_CASE("valid UTF-8 passes through and invalid bytes become U+FFFD") {
    FieldSchema s = Field("s", FieldType::kString, true);
    CHECK(ValueJson(s, Value::String("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")) ==
          "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    CHECK(ValueJson(s, Value::String("a\xff" "b\xc3")) == "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
    CHECK(ValueJson(s, Value::String("\xc0\xaf")) == "\"\xef\xbf\xbd\xef\xbf\xbd\"");         // overlong
    CHECK(ValueJson(s, Value::String("\xed\xa0\x80")) == "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");  // surrogate
}

TEST_CASE("bytes are standard base64 with padding") {
    FieldSchema b = Field("b", FieldType::kBytes, true);
    CHECK(ValueJson(b, Value::Bytes(std::string("\x01\x02\xff", 3))) == R"("AQL/")");
    CHECK(ValueJson(b, Value::Bytes("a")) == R"("YQ==")");
    CHECK(ValueJson(b, Value::Bytes("ab")) == R"("YWI=")");
    CHECK(ValueJson(b, Value::Bytes("abc")) == R"("YWJj")");
    CHECK(ValueJson(b, Value::Bytes("")) == R"("")");
}

TEST_CASE("a precise decimal is written as base64 of its unscaled bytes") {
    FieldSchema d = Field("price", FieldType::kBytes, true, "org.apache.kafka.connect.data.Decimal");
    CHECK(AfterJson(d, Value::Bytes("\x04\xd2")) == R"({"price":"BNI="})");
}

TEST_CASE("a VariableScaleDecimal value is an object of scale and value") {
    FieldSchema n = Field("n", FieldType::kStruct, true, "io.debezium.data.VariableScaleDecimal");
    n.fields = {Field("scale", FieldType::kInt32, false), Field("value", FieldType::kBytes, false)};
    Value v;
    auto &items = v.SetStruct();
    items.push_back(Value::Int(2));
    items.push_back(Value::Bytes("\x04\xd2"));
    CHECK(AfterJson(n, v) == R"({"n":{"scale":2,"value":"BNI="}})");
}

TEST_CASE("subnormal doubles and floats get Java's two closest digits, not the shortest digit and .0") {
    FieldSchema d = Field("d", FieldType::kFloat64, true);
    FieldSchema f = Field("f", FieldType::kFloat32, true);
    CHECK(ValueJson(d, Value::Double(4.9e-324)) == "4.9E-324");  // Double.MIN_VALUE
    CHECK(ValueJson(d, Value::Double(-4.9e-324)) == "-4.9E-324");
    CHECK(ValueJson(d, Value::Double(2 * 4.9e-324)) == "9.9E-324");
    CHECK(ValueJson(d, Value::Double(1e-310)) == "1.0E-310");
    CHECK(ValueJson(f, Value::Double(static_cast<double>(1.4e-45f))) == "1.4E-45");  // Float.MIN_VALUE
    CHECK(ValueJson(f, Value::Double(static_cast<double>(1e-40f))) == "1.0E-40");
    // Single-digit normal values keep the digit and ".0".
    CHECK(ValueJson(d, Value::Double(1e300)) == "1.0E300");
    CHECK(ValueJson(d, Value::Double(2e-5)) == "2.0E-5");
    CHECK(ValueJson(f, Value::Double(static_cast<double>(3e10f))) == "3.0E10");
}

TEST_CASE("doubles print like Java's Double.toString") {
    FieldSchema d = Field("d", FieldType::kFloat64, true);
    CHECK(ValueJson(d, Value::Double(1.0)) == "1.0");
    CHECK(ValueJson(d, Value::Double(12.34)) == "12.34");
    CHECK(ValueJson(d, Value::Double(-0.5)) == "-0.5");
    CHECK(ValueJson(d, Value::Double(0.001)) == "0.001");
    CHECK(ValueJson(d, Value::Double(0.0001)) == "1.0E-4");
    CHECK(ValueJson(d, Value::Double(1234567.0)) == "1234567.0");
    CHECK(ValueJson(d, Value::Double(1e7)) == "1.0E7");
    CHECK(ValueJson(d, Value::Double(1.2345e21)) == "1.2345E21");
    CHECK(ValueJson(d, Value::Double(0.1 + 0.2)) == "0.30000000000000004");
    CHECK(ValueJson(d, Value::Double(0.0)) == "0.0");
}

TEST_CASE("a float32 column prints the float's shortest digits") {
    FieldSchema f = Field("f", FieldType::kFloat32, true);
    CHECK(ValueJson(f, Value::Double(static_cast<double>(1.1f))) == "1.1");
    CHECK(ValueJson(Field("d", FieldType::kFloat64, true), Value::Double(static_cast<double>(1.1f))) ==
          "1.100000023841858");
}

TEST_CASE("NaN and infinities are written as strings") {
    FieldSchema d = Field("d", FieldType::kFloat64, true);
    CHECK(AfterJson(d, Value::Double(NAN)) == R"({"d":"NaN"})");
    CHECK(ValueJson(d, Value::Double(INFINITY)) == R"("Infinity")");
    CHECK(ValueJson(d, Value::Double(-INFINITY)) == R"("-Infinity")");
    CHECK(ValueJson(Field("f", FieldType::kFloat32, true), Value::Double(NAN)) == R"("NaN")");
}

TEST_CASE("an unchanged TOASTed value is Debezium's placeholder") {
    Value unavailable;
    unavailable.SetUnavailable();
    CHECK(AfterJson(Field("s", FieldType::kString, true), unavailable) == R"({"s":"__debezium_unavailable_value"})");
}

TEST_CASE("an unchanged TOASTed bytes value is the base64 of the placeholder") {
    Value unavailable;
    unavailable.SetUnavailable();
    CHECK(AfterJson(Field("b", FieldType::kBytes, true), unavailable) ==
          R"({"b":"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="})");
}

TEST_CASE("an unchanged TOASTed array is a one-item list of the placeholder") {
    Value unavailable;
    unavailable.SetUnavailable();
    FieldSchema tags = Field("tags", FieldType::kArray, true);
    tags.fields = {Field("", FieldType::kString, true)};
    CHECK(ValueJson(tags, unavailable) == R"(["__debezium_unavailable_value"])");
}

TEST_CASE("nested arrays are written as nested JSON arrays") {
    FieldSchema m = Field("m", FieldType::kArray, true);
    m.fields = {Field("", FieldType::kInt32, true)};
    Value v;
    auto &rows = v.SetArray();
    for (int r = 0; r < 2; ++r) {
        Value row;
        auto &cells = row.SetArray();
        cells.push_back(Value::Int(2 * r + 1));
        cells.push_back(r == 0 ? Value::Int(2) : Value::Null());
        rows.push_back(row);
    }
    CHECK(AfterJson(m, v) == R"({"m":[[1,2],[3,null]]})");
}

TEST_CASE("booleans and integers are JSON literals") {
    CHECK(ValueJson(Field("b", FieldType::kBoolean, true), Value::Bool(true)) == "true");
    CHECK(ValueJson(Field("i", FieldType::kInt64, true), Value::Int(INT64_MIN)) == "-9223372036854775808");
}

TEST_CASE("column names are escaped as JSON keys") {
    CHECK(AfterJson(Field("we\"ird", FieldType::kInt32, true), Value::Int(1)) == R"({"we\"ird":1})");
}

TEST_CASE("a row shorter than its schema writes the missing columns as null") {
    EnvelopeEncoder encoder(Config(EventFormat::kRow));
    ChangeEvent e = Event(Op::kCreate, OrdersTable());
    e.has_after = true;
    e.after = {Value::Int(1)};
    CHECK(Encode(encoder, e) ==
          R"({"id":1,"note":null,"__op":"c","__table":"public.orders","__lsn":24023128,"__ts_ms":1700000000456})");
}

TEST_CASE("encoding the same event again reuses the output buffer without growing it") {
    EnvelopeEncoder encoder(Config(EventFormat::kEnvelope, true));
    ChangeEvent e = Event(Op::kCreate, OrdersTable());
    e.has_after = true;
    e.after = {Value::Int(1), Value::String("first")};
    std::string out;
    encoder.Encode(e, &out);
    size_t capacity = out.capacity();
    const char *data = out.data();
    for (int i = 0; i < 3; ++i) {
        out.clear();
        encoder.Encode(e, &out);
    }
    CHECK(out.capacity() == capacity);
    CHECK(out.data() == data);
}
