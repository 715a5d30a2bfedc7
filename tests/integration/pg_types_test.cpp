// Every PostgreSQL type cdcctl maps, through a real PostgreSQL 15 and both of its paths: the
// snapshot (COPY text, with COPY's backslash escaping) and the stream (pgoutput text tuples). The
// same value must give the same JSON both ways, and that JSON is asserted byte for byte as cdcctl
// printed it (not re-serialised), together with the Debezium schemas and the time and decimal
// representation modes.
#include <simdjson.h>

#include <csignal>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/cdc_fixture.h"

using namespace cdcctl;
using namespace cdcctl::testing;

namespace {

// The raw JSON text of one value as it appears in the output line.
std::string RawJson(simdjson::ondemand::value v) {
    switch (v.type().value()) {
        case simdjson::ondemand::json_type::object:
            return std::string(v.get_object().value().raw_json().value());
        case simdjson::ondemand::json_type::array:
            return std::string(v.get_array().value().raw_json().value());
        default: {
            std::string_view token = v.raw_json_token();
            while (!token.empty() && (token.back() == ' ' || token.back() == '\n'))
                token.remove_suffix(1);
            return std::string(token);
        }
    }
}

// The members of the event's "after" object, each as the exact JSON text cdcctl wrote
// (Event::after holds simdjson's re-serialisation, which would hide how numbers and strings
// were spelled).
std::map<std::string, std::string> RawAfter(const std::string &line) {
    simdjson::ondemand::parser parser;
    simdjson::padded_string padded(line);
    simdjson::ondemand::document doc = parser.iterate(padded);
    simdjson::ondemand::object root = doc.get_object();
    simdjson::ondemand::value payload;
    simdjson::ondemand::object envelope;
    if (!root.find_field_unordered("payload").get(payload))
        envelope = payload.get_object();
    else
        envelope = root;  // no schemas: the envelope is the document (lookups restart at its start)
    std::map<std::string, std::string> out;
    simdjson::ondemand::value after = envelope.find_field_unordered("after").value();
    if (after.is_null()) return out;
    for (auto field : after.get_object()) {
        std::string key(field.unescaped_key().value());
        out[key] = RawJson(field.value().value());
    }
    return out;
}

// The JsonConverter schema of each column of the "after" struct (schemas: true), minified.
std::map<std::string, std::string> AfterSchema(const std::string &line) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(line);
    std::map<std::string, std::string> out;
    for (simdjson::dom::element part : doc["schema"]["fields"].get_array()) {
        std::string_view name;
        if (part["field"].get(name) || name != "after") continue;
        for (simdjson::dom::element column : part["fields"].get_array()) {
            out[std::string(column["field"].get_string().value())] = simdjson::minify(column);
        }
    }
    return out;
}

std::string TableOf(const Event &e) {
    return Unquote(e.source.at("table"));
}

// The events of one table, keyed by their "id".
std::map<long, Event> ById(const std::vector<Event> &events, const std::string &table) {
    std::map<long, Event> out;
    for (const auto &e : events) {
        if (TableOf(e) == table && e.has_after) out[std::stol(e.Id())] = e;
    }
    return out;
}

const char *kMoodType = R"(CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'very "happy"'))";
const char *kMoodAllowed = R"(sad,ok,happy,very \"happy\")";  // as it appears inside JSON

// One column type and the values it is tried with: the SQL literal and the exact JSON expected
// for it in "after" (default modes: adaptive time, precise decimals).
struct TypeCase {
    std::string type;
    std::vector<std::pair<std::string, std::string>> values;
};

std::vector<TypeCase> Cases() {
    std::vector<TypeCase> cases = {
        {"boolean", {{"true", "true"}, {"false", "false"}}},
        {"smallint", {{"32767", "32767"}, {"-32768", "-32768"}, {"0", "0"}}},
        {"integer", {{"2147483647", "2147483647"}, {"-2147483648", "-2147483648"}}},
        {"bigint",
         {{"9223372036854775807", "9223372036854775807"},
          {"-9223372036854775808", "-9223372036854775808"}}},
        // float32 prints as Java's Float.toString: the float's own shortest digits.
        {"real",
         {{"'3.14'", "3.14"},
          {"'-0'", "-0.0"},
          {"'1e-5'", "1.0E-5"},
          {"'16777216'", "1.6777216E7"},
          {"'3.4028235e38'", "3.4028235E38"},
          {"'1e-45'", "1.4E-45"},  // the smallest subnormal: Java's two digits
          {"'NaN'", R"("NaN")"},
          {"'Infinity'", R"("Infinity")"},
          {"'-Infinity'", R"("-Infinity")"}}},
        {"double precision",
         {{"'3.141592653589793'", "3.141592653589793"},
          {"'0.1'", "0.1"},
          {"'0.001'", "0.001"},
          {"'9999999'", "9999999.0"},
          {"'1e7'", "1.0E7"},
          {"'123456789.125'", "1.23456789125E8"},
          {"'1e300'", "1.0E300"},
          {"'-2.5e-300'", "-2.5E-300"},
          {"'5e-324'", "4.9E-324"},
          {"'NaN'", R"("NaN")"},
          {"'Infinity'", R"("Infinity")"},
          {"'-Infinity'", R"("-Infinity")"}}},
        // Unconstrained numeric: VariableScaleDecimal, trailing zeros stripped like Debezium.
        {"numeric",
         {{"1.50", R"({"scale":1,"value":"Dw=="})"},
          {"-1.5", R"({"scale":1,"value":"8Q=="})"},
          {"100", R"({"scale":0,"value":"ZA=="})"},
          {"0.000", R"({"scale":0,"value":"AA=="})"},
          {"-123456789012345678901234567890.123456789",
           R"({"scale":9,"value":"ox8WWp/qATpVIFzXUcZ+6w=="})"},
          {"1e100",
           R"({"scale":0,"value":"EkmtJZTDfOsLJ4TEzgvzis5AjiEafKqyQwioLo8QAAAAAAAAAAAAAAAA"})"},
          {"1e-100", R"({"scale":100,"value":"AQ=="})"},
          {"'NaN'", "null"},
          {"'Infinity'", "null"},
          {"'-Infinity'", "null"}}},
        // numeric(p,s): Decimal, base64 of the unscaled value in big-endian two's complement.
        {"numeric(10,2)",
         {{"24.9", R"("Cbo=")"},   // 2490
          {"-0.01", R"("/w==")"},  // -1
          {"12345678.99", R"("SZYC2w==")"},
          {"0", R"("AA==")"},
          {"'NaN'", "null"}}},
        {"numeric(38,0)",
         {{"99999999999999999999999999999999999999", R"("SztMqFqGxHoJiiI//////w==")"},
          {"-128", R"("gA==")"},
          {"128", R"("AIA=")"}}},
        {"numeric(5,-2)", {{"12345", R"("ew==")"}, {"-50", R"("/w==")"}}},  // 12300 and -100
        // Text passes COPY's escaping (\t \n \r \b \f \v \\ and \N) in the snapshot.
        {"text",
         {{"'kettle'", R"("kettle")"},
          {"'zürich ☕ 日本 😀'", R"("zürich ☕ 日本 😀")"},
          {R"('a"b\c')", R"("a\"b\\c")"},
          {R"(E'tab\there\nnewline\rcr')", R"("tab\there\nnewline\rcr")"},
          {R"(E'\b\f' || chr(11))", R"("\b\f\u000B")"},
          {R"(E'\x01\x1f\x7f')", "\"\\u0001\\u001F\x7f\""},
          {R"('\N')", R"("\\N")"},
          {R"('\\')", R"("\\\\")"},
          {"'NULL'", R"("NULL")"},
          {"''", R"("")"}}},
        {"varchar(20)", {{"'x y'", R"("x y")"}, {"''", R"("")"}}},
        {"char(5)", {{"'ab'", R"("ab   ")"}, {"'abcde'", R"("abcde")"}}},
        {"bytea",
         {{R"('\x005cff')", R"("AFz/")"}, {R"('\x0a09')", R"("Cgk=")"}, {R"('\x')", R"("")"}}},
        {"date",
         {{"'2024-02-29'", "19782"},
          {"'1970-01-01'", "0"},
          {"'1969-12-31'", "-1"},
          {"'0001-01-01 BC'", "-719528"},
          {"'10000-01-01'", "2932897"},
          {"'infinity'", "-2147472692"},
          {"'-infinity'", "-2147472691"}}},
        // PostgreSQL rounds to the column's precision; up to 3 digits is Time (ms, int32), above
        // that MicroTime.
        {"time(0)", {{"'13:45:30.123456'", "49530000"}, {"'24:00:00'", "86400000"}}},
        {"time(1)", {{"'13:45:30.123456'", "49530100"}}},
        {"time(2)", {{"'13:45:30.123456'", "49530120"}}},
        {"time(3)", {{"'13:45:30.123456'", "49530123"}, {"'00:00:00'", "0"}}},
        {"time(4)", {{"'13:45:30.123456'", "49530123500"}}},
        {"time(5)", {{"'13:45:30.123456'", "49530123460"}}},
        {"time(6)", {{"'13:45:30.123456'", "49530123456"}}},
        {"time", {{"'13:45:30.123456'", "49530123456"}, {"'24:00:00'", "86400000000"}}},
        {"time with time zone",
         {{"'13:45:30.5+05:30'", R"("08:15:30.5Z")"},
          {"'23:00:00-02'", R"("01:00:00Z")"},
          {"'00:00:00+00'", R"("00:00:00Z")"}}},
        {"timestamp(3)",
         {{"'2024-03-01 10:15:30.123456'", "1709288130123"},
          {"'1969-12-31 23:59:59.999'", "-1"},
          {"'infinity'", "9223372036825200"},
          {"'-infinity'", "-9223372036832400"},
          // PostgreSQL's last timestamp: its milliseconds fit in int64, its microseconds do not.
          {"'294276-12-31 23:59:59.999'", "9224318015999999"}}},
        {"timestamp(6)",
         {{"'2024-03-01 10:15:30.123456'", "1709288130123456"},
          {"'0001-01-01 00:00:00 BC'", "-62167219200000000"},
          {"'10000-01-01 00:00:00'", "253402300800000000"},
          {"'infinity'", "9223372036825200000"},
          {"'-infinity'", "-9223372036832400000"},
          // Beyond int64 microseconds (after 294247-01-10): saturated, as Debezium's Java
          // TimeUnit conversion does, rather than failing the pipeline on a legal value.
          {"'294276-12-31 23:59:59.999999'", "9223372036854775807"},
          {"'4713-01-01 00:00:00 BC'", "-210863520000000000"}}},
        {"timestamp", {{"'2024-03-01 10:15:30.123456'", "1709288130123456"}}},
        {"timestamptz",
         {{"'2024-03-01 10:15:30.123456+05:30'", R"("2024-03-01T04:45:30.123456Z")"},
          {"'2024-03-01 02:00:00+05:30'", R"("2024-02-29T20:30:00Z")"},
          {"'2024-03-01 23:30:00.5-08'", R"("2024-03-02T07:30:00.5Z")"},
          {"'0001-01-01 00:00:00+00 BC'", R"("0000-01-01T00:00:00Z")"},
          {"'10000-01-01 00:00:00+00'", R"("+10000-01-01T00:00:00Z")"},
          {"'infinity'", R"("infinity")"},
          {"'-infinity'", R"("-infinity")"}}},
        // MicroDuration: a month is 30.4375 days.
        {"interval",
         {{"'1 year 2 mons 3 days 04:05:06.789'", "37091106789000"},
          {"'1 mon'", "2629800000000"},
          {"'-1 day +2 hours'", "-79200000000"},
          {"'-3 years'", "-94672800000000"},
          {"'00:00:00.000001'", "1"},
          {"'0'", "0"},
          {"'2562047788:00:54.775807'", "9223372036854775807"},
          // Legal intervals beyond int64 microseconds saturate, as Debezium's (long) cast does.
          {"'178000000 years'", "9223372036854775807"},
          {"'-178000000 years'", "-9223372036854775808"},
          {"'2147483647 days'", "9223372036854775807"}}},
        {"uuid",
         {{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", R"("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")"}}},
        // json keeps its text as written; jsonb prints PostgreSQL's normal form.
        {"json",
         {{R"('{"b": 1,  "a":[1,"x\ty"]}')", R"("{\"b\": 1,  \"a\":[1,\"x\\ty\"]}")"},
          {"'null'", R"("null")"}}},
        {"jsonb", {{R"('{"b": 1,  "a":[1,"é\n"]}')", R"("{\"a\": [1, \"é\\n\"], \"b\": 1}")"}}},
        {"mood", {{"'happy'", R"("happy")"}, {R"('very "happy"')", R"("very \"happy\"")"}}},
        {"integer[]",
         {{"'{1,2,NULL,-3}'", "[1,2,null,-3]"},
          {"'{{1,2},{3,4}}'", "[[1,2],[3,4]]"},
          {"'[0:1]={5,6}'", "[5,6]"},
          {"'{}'", "[]"}}},
        {"text[]",
         {{R"(ARRAY['a"b', 'c\d', NULL, 'NULL', '', ' padded ', 'with,comma', E'tab\there', E'nl\nhere', '{x}'])",
           R"(["a\"b","c\\d",null,"NULL",""," padded ","with,comma","tab\there","nl\nhere","{x}"])"},
          {"'{{a,b},{c,NULL}}'", R"([["a","b"],["c",null]])"},
          {"ARRAY['zürich ☕']", R"(["zürich ☕"])"}}},
        {"mood[]",
         {{"'{happy,sad,NULL}'", R"(["happy","sad",null])"},
          {R"(ARRAY['very "happy"'::mood])", R"(["very \"happy\""])"}}},
        {"numeric(5,2)[]", {{"'{1.5,-2,NULL}'", R"(["AJY=","/zg=",null])"}}},
        {"numeric[]", {{"'{1.50,NaN}'", R"([{"scale":1,"value":"Dw=="},null])"}}},
        {"bytea[]", {{R"(ARRAY['\x005cff'::bytea, NULL])", R"(["AFz/",null])"}}},
        {"boolean[]", {{"'{t,f,NULL}'", "[true,false,null]"}}},
        {"float8[]", {{"'{1.5,NaN,-Infinity}'", R"([1.5,"NaN","-Infinity"])"}}},
        {"real[]", {{"'{3.14,Infinity}'", R"([3.14,"Infinity"])"}}},
        {"date[]", {{"'{2024-02-29,infinity}'", "[19782,-2147472692]"}}},
        {"time(3)[]", {{"'{12:00:00.123}'", "[43200123]"}}},
        {"timestamptz[]",
         {{"ARRAY['2024-03-01 10:15:30.123456+05:30'::timestamptz, 'infinity']",
           R"(["2024-03-01T04:45:30.123456Z","infinity"])"}}},
        {"interval[]", {{R"('{"1 day",-00:00:01}')", "[86400000000,-1000000]"}}},
        {"uuid[]",
         {{"'{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}'",
           R"(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"])"}}},
        {"jsonb[]", {{R"(ARRAY['{"a":1}'::jsonb])", R"(["{\"a\": 1}"])"}}},
        {"char(3)[]", {{"'{a,NULL}'", R"(["a  ",null])"}}},
        {"\"char\"", {{"'a'", R"("a")"}}},
        {"name", {{"'pg_class'", R"("pg_class")"}}},
        {"oid", {{"4294967295", "4294967295"}}},
        // Types cdcctl does not map are strings holding PostgreSQL's text (see pg_types.h).
        {"inet", {{"'192.168.0.1/24'", R"("192.168.0.1/24")"}}},
        {"inet[]", {{"'{10.0.0.1,NULL}'", R"(["10.0.0.1",null])"}}},
        {"int4range", {{"'[1,5]'", R"j("[1,6)")j"}}},
        {"posint", {{"5", R"("5")"}}},
        {"box[]", {{"'{(1,1),(0,0);(2,2),(1,1)}'", R"("{(1,1),(0,0);(2,2),(1,1)}")"}}},
    };
    // And a NULL of every type.
    for (TypeCase &c : cases) c.values.emplace_back("NULL", "null");
    return cases;
}

std::string CaseTable(size_t i) {
    return "ty_" + std::to_string(100 + i).substr(1);
}

}  // namespace

TEST_CASE(
    "every type gives the same exact JSON through the snapshot (COPY) and the stream (pgoutput)") {
    CdcFixture f;
    f.Sql(kMoodType);
    f.Sql("CREATE DOMAIN posint AS integer CHECK (VALUE > 0)");
    std::vector<TypeCase> cases = Cases();
    // One table per type, (id, v); row i holds value i, inserted again as row 1000 + i later.
    for (size_t i = 0; i < cases.size(); ++i) {
        f.Sql("CREATE TABLE " + CaseTable(i) + " (id int PRIMARY KEY, v " + cases[i].type + ")");
    }
    auto insert = [&](int id_base) {
        for (size_t i = 0; i < cases.size(); ++i) {
            for (size_t k = 0; k < cases[i].values.size(); ++k) {
                f.Sql("INSERT INTO " + CaseTable(i) + " VALUES (" + std::to_string(id_base + k) +
                      ", " + cases[i].values[k].first + ")");
            }
        }
    };
    insert(1);
    std::string file = f.WritePipeline("types", "[public.ty_*]");
    std::vector<Event> snapshot = f.RunOnce(file);
    insert(1001);
    std::vector<Event> stream = f.RunOnce(file);

    size_t total = 0;
    for (const auto &c : cases) total += c.values.size();
    CHECK(snapshot.size() == total);
    CHECK(stream.size() == total);
    for (size_t i = 0; i < cases.size(); ++i) {
        std::map<long, Event> reads = ById(snapshot, CaseTable(i));
        std::map<long, Event> creates = ById(stream, CaseTable(i));
        for (size_t k = 0; k < cases[i].values.size(); ++k) {
            const auto &[literal, expected] = cases[i].values[k];
            CAPTURE(cases[i].type);
            CAPTURE(literal);
            auto r = reads.find(static_cast<long>(1 + k));
            auto c = creates.find(static_cast<long>(1001 + k));
            REQUIRE(r != reads.end());
            REQUIRE(c != creates.end());
            CHECK(r->second.op == "r");
            CHECK(c->second.op == "c");
            std::map<std::string, std::string> read_after = RawAfter(r->second.raw);
            std::map<std::string, std::string> create_after = RawAfter(c->second.raw);
            CHECK(read_after.at("v") == expected);
            CHECK(create_after.at("v") == expected);
            // Identical rows give identical objects, apart from the id.
            read_after.erase("id");
            create_after.erase("id");
            CHECK(read_after == create_after);
        }
    }
}

TEST_CASE(
    "time_precision_mode and decimal_handling_mode change values and schemas alike in both paths") {
    CdcFixture f;
    f.Sql(
        "CREATE TABLE tp (id int PRIMARY KEY, t3 time(3), t6 time(6), "
        "ts3 timestamp(3), ts6 timestamp(6), d date)");
    f.Sql(
        "CREATE TABLE dec (id int PRIMARY KEY, fixed numeric(10,2), free numeric, "
        "big numeric(38,0), neg numeric(5,-2))");
    const std::string tp_row =
        "'13:45:30.123456', '13:45:30.123456', "
        "'2024-03-01 10:15:30.123456', '2024-03-01 10:15:30.123456', '2024-02-29'";
    // Rows 1-5 of dec; the stream gets them again as 1001-1005.
    const std::vector<std::string> dec_rows = {
        "24.9, 1.50, 99999999999999999999999999999999999999, 12345",
        "-0.01, -123456789012345678901234567890.123456789, -1, -50",
        "'NaN', 'NaN', 'NaN', NULL",
        "0, 0.000, 0, 0",
        "NULL, '-Infinity', NULL, NULL",
    };
    auto insert = [&](int id_base) {
        f.Sql("INSERT INTO tp VALUES (" + std::to_string(id_base) + ", " + tp_row + ")");
        f.Sql("INSERT INTO tp VALUES (" + std::to_string(id_base + 1) +
              ", NULL, NULL, NULL, NULL, NULL)");
        for (size_t k = 0; k < dec_rows.size(); ++k) {
            f.Sql("INSERT INTO dec VALUES (" + std::to_string(id_base + k) + ", " + dec_rows[k] +
                  ")");
        }
    };
    insert(1);

    struct Variant {
        std::string name;
        std::string setting;
        // column -> expected after value for row 1 / its schema (minified JsonConverter form)
        std::map<std::string, std::pair<std::string, std::string>> tp;
        std::map<std::string, std::vector<std::string>> dec;  // column -> values of rows 1..5
        std::map<std::string, std::string> dec_schema;
    };
    auto schema = [](const std::string &type, const std::string &name, const std::string &field) {
        return R"({"type":")" + type + R"(","optional":true,"name":")" + name +
               R"(","version":1,"field":")" + field + R"("})";
    };
    auto plain = [](const std::string &type, const std::string &field) {
        return R"({"type":")" + type + R"(","optional":true,"field":")" + field + R"("})";
    };
    auto decimal = [](int scale, int precision, const std::string &field) {
        return R"({"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,)"
               R"("parameters":{"scale":")" +
               std::to_string(scale) + R"(","connect.decimal.precision":")" +
               std::to_string(precision) + R"("},"field":")" + field + R"("})";
    };
    const std::string variable_scale =
        R"({"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},)"
        R"({"type":"bytes","optional":false,"field":"value"}],"optional":true,)"
        R"("name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal","field":"free"})";

    std::vector<Variant> variants = {
        {"adaptive",
         "  time_precision_mode: adaptive\n  decimal_handling_mode: precise\n",
         {{"t3", {"49530123", schema("int32", "io.debezium.time.Time", "t3")}},
          {"t6", {"49530123456", schema("int64", "io.debezium.time.MicroTime", "t6")}},
          {"ts3", {"1709288130123", schema("int64", "io.debezium.time.Timestamp", "ts3")}},
          {"ts6", {"1709288130123456", schema("int64", "io.debezium.time.MicroTimestamp", "ts6")}},
          {"d", {"19782", schema("int32", "io.debezium.time.Date", "d")}}},
         {{"fixed", {R"("Cbo=")", R"("/w==")", "null", R"("AA==")", "null"}},
          {"free",
           {R"({"scale":1,"value":"Dw=="})", R"({"scale":9,"value":"ox8WWp/qATpVIFzXUcZ+6w=="})",
            "null", R"({"scale":0,"value":"AA=="})", "null"}},
          {"big", {R"("SztMqFqGxHoJiiI//////w==")", R"("/w==")", "null", R"("AA==")", "null"}},
          {"neg", {R"("ew==")", R"("/w==")", "null", R"("AA==")", "null"}}},
         {{"fixed", decimal(2, 10, "fixed")},
          {"free", variable_scale},
          {"big", decimal(0, 38, "big")},
          {"neg", decimal(-2, 5, "neg")}}},
        {"micro",
         "  time_precision_mode: adaptive_time_microseconds\n  decimal_handling_mode: double\n",
         {{"t3", {"49530123000", schema("int64", "io.debezium.time.MicroTime", "t3")}},
          {"t6", {"49530123456", schema("int64", "io.debezium.time.MicroTime", "t6")}},
          {"ts3", {"1709288130123", schema("int64", "io.debezium.time.Timestamp", "ts3")}},
          {"ts6", {"1709288130123456", schema("int64", "io.debezium.time.MicroTimestamp", "ts6")}},
          {"d", {"19782", schema("int32", "io.debezium.time.Date", "d")}}},
         {{"fixed", {"24.9", "-0.01", R"("NaN")", "0.0", "null"}},
          {"free", {"1.5", "-1.2345678901234568E29", R"("NaN")", "0.0", R"("-Infinity")"}},
          {"big", {"1.0E38", "-1.0", R"("NaN")", "0.0", "null"}},
          {"neg", {"12300.0", "-100.0", "null", "0.0", "null"}}},
         {{"fixed", plain("double", "fixed")},
          {"free", plain("double", "free")},
          {"big", plain("double", "big")},
          {"neg", plain("double", "neg")}}},
        {"connect",
         "  time_precision_mode: connect\n  decimal_handling_mode: string\n",
         {{"t3", {"49530123", schema("int32", "org.apache.kafka.connect.data.Time", "t3")}},
          {"t6", {"49530123", schema("int32", "org.apache.kafka.connect.data.Time", "t6")}},
          {"ts3",
           {"1709288130123", schema("int64", "org.apache.kafka.connect.data.Timestamp", "ts3")}},
          {"ts6",
           {"1709288130123", schema("int64", "org.apache.kafka.connect.data.Timestamp", "ts6")}},
          {"d", {"19782", schema("int32", "org.apache.kafka.connect.data.Date", "d")}}},
         {{"fixed", {R"("24.90")", R"("-0.01")", R"("NaN")", R"("0.00")", "null"}},
          {"free",
           {R"("1.50")", R"("-123456789012345678901234567890.123456789")", R"("NaN")", R"("0.000")",
            R"("-Infinity")"}},
          {"big",
           {R"("99999999999999999999999999999999999999")", R"("-1")", R"("NaN")", R"("0")",
            "null"}},
          {"neg", {R"("12300")", R"("-100")", "null", R"("0")", "null"}}},
         {{"fixed", plain("string", "fixed")},
          {"free", plain("string", "free")},
          {"big", plain("string", "big")},
          {"neg", plain("string", "neg")}}},
    };
    const std::string sink = "sink:\n  type: stdout\n  schemas: true\n";
    std::vector<std::string> files;
    std::vector<std::vector<Event>> snapshots;
    for (const auto &v : variants) {
        files.push_back(
            f.WritePipeline("modes_" + v.name, "[public.tp, public.dec]", v.setting, sink));
        snapshots.push_back(f.RunOnce(files.back()));
    }
    insert(1001);
    for (size_t n = 0; n < variants.size(); ++n) {
        const Variant &v = variants[n];
        CAPTURE(v.name);
        std::vector<Event> stream = f.RunOnce(files[n]);
        for (int base : {1, 1001}) {
            const std::vector<Event> &events = base == 1 ? snapshots[n] : stream;
            CAPTURE(base);
            std::map<long, Event> tp = ById(events, "tp");
            std::map<long, Event> dec = ById(events, "dec");
            REQUIRE(tp.size() == 2);
            REQUIRE(dec.size() == dec_rows.size());
            std::map<std::string, std::string> values = RawAfter(tp.at(base).raw);
            std::map<std::string, std::string> schemas = AfterSchema(tp.at(base).raw);
            for (const auto &[column, expected] : v.tp) {
                CAPTURE(column);
                CHECK(values.at(column) == expected.first);
                CHECK(schemas.at(column) == expected.second);
                CHECK(RawAfter(tp.at(base + 1).raw).at(column) == "null");
            }
            for (const auto &[column, expected] : v.dec) {
                CAPTURE(column);
                CHECK(AfterSchema(dec.at(base).raw).at(column) == v.dec_schema.at(column));
                for (size_t k = 0; k < expected.size(); ++k) {
                    CAPTURE(k);
                    CHECK(RawAfter(dec.at(base + static_cast<long>(k)).raw).at(column) ==
                          expected[k]);
                }
            }
        }
    }
}

TEST_CASE(
    "schemas name Debezium's semantic types, and NOT NULL columns are required in both paths") {
    CdcFixture f;
    f.Sql(kMoodType);
    f.Sql(
        "CREATE TABLE shaped (id int PRIMARY KEY, d date NOT NULL, price numeric(10,2) NOT NULL, "
        "free numeric, m mood NOT NULL, moods mood[], tags text[] NOT NULL, b bytea NOT NULL, "
        "ts timestamptz, u uuid, j jsonb, ok boolean NOT NULL)");
    const std::string row =
        "'2024-02-29', 24.90, 1.5, 'ok', '{sad}', '{a}', '\\x00', '2024-03-01 10:15:30+05:30', "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{}', true";
    f.Sql("INSERT INTO shaped VALUES (1, " + row + ")");
    std::string file = f.WritePipeline("schemas", "[public.shaped]", "",
                                       "sink:\n  type: stdout\n  schemas: true\n");
    std::vector<Event> events = f.RunOnce(file);
    f.Sql("INSERT INTO shaped VALUES (2, " + row + ")");
    std::vector<Event> more = f.RunOnce(file);
    events.insert(events.end(), more.begin(), more.end());
    REQUIRE(events.size() == 2);
    CHECK(events[0].op == "r");
    CHECK(events[1].op == "c");

    const std::string enum_params =
        std::string(R"("parameters":{"allowed":")") + kMoodAllowed + R"("})";
    const std::map<std::string, std::string> expected = {
        {"id", R"({"type":"int32","optional":false,"field":"id"})"},
        {"d",
         R"({"type":"int32","optional":false,"name":"io.debezium.time.Date","version":1,"field":"d"})"},
        // Precise numeric stays optional even when NOT NULL: NaN has no Decimal and maps to null.
        {"price",
         R"({"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,)"
         R"("parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"price"})"},
        {"free",
         R"({"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},)"
         R"({"type":"bytes","optional":false,"field":"value"}],"optional":true,)"
         R"("name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal","field":"free"})"},
        {"m", R"({"type":"string","optional":false,"name":"io.debezium.data.Enum","version":1,)" +
                  enum_params + R"(,"field":"m"})"},
        {"moods",
         R"({"type":"array","items":{"type":"string","optional":true,"name":"io.debezium.data.Enum",)"
         R"("version":1,)" +
             enum_params + R"(},"optional":true,"field":"moods"})"},
        {"tags",
         R"({"type":"array","items":{"type":"string","optional":true},"optional":false,"field":"tags"})"},
        {"b", R"({"type":"bytes","optional":false,"field":"b"})"},
        {"ts",
         R"({"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts"})"},
        {"u",
         R"({"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1,"field":"u"})"},
        {"j",
         R"({"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"j"})"},
        {"ok", R"({"type":"boolean","optional":false,"field":"ok"})"},
    };
    for (const Event &e : events) {
        CAPTURE(e.op);
        CHECK(AfterSchema(e.raw) == expected);
        std::map<std::string, std::string> after = RawAfter(e.raw);
        CHECK(after.at("d") == "19782");
        CHECK(after.at("price") == R"("Cbo=")");  // 2490
        CHECK(after.at("m") == R"("ok")");
        CHECK(after.at("moods") == R"(["sad"])");
        CHECK(after.at("b") == R"("AA==")");
        CHECK(after.at("ts") == R"("2024-03-01T04:45:30Z")");
    }
    // The envelope's row structs are named after the topic.
    CHECK(
        events[0].raw.find(R"("optional":true,"name":"foo.public.shaped.Value","field":"after")") !=
        std::string::npos);
}

TEST_CASE(
    "an enum type created mid-stream decodes, and unchanged TOASTed columns get the placeholder") {
    CdcFixture f;
    f.Sql("CREATE TABLE late (id int PRIMARY KEY, name text)");
    f.Sql("CREATE TABLE toasty (id int PRIMARY KEY, n int, big text, blob bytea, arr text[])");
    f.Sql(
        "ALTER TABLE toasty ALTER COLUMN big SET STORAGE EXTERNAL, ALTER COLUMN blob SET STORAGE "
        "EXTERNAL, "
        "ALTER COLUMN arr SET STORAGE EXTERNAL");
    f.Sql("INSERT INTO late VALUES (1, 'a')");
    f.Sql(
        "INSERT INTO toasty VALUES (1, 0, repeat('x', 10000), decode(repeat('ab', 10000), 'hex'), "
        "ARRAY(SELECT repeat('y', 100) FROM generate_series(1, 100)))");
    std::string file = f.WritePipeline("late", "[public.late, public.toasty]", "",
                                       "sink:\n  type: stdout\n  schemas: true\n");
    std::vector<Event> snapshot = f.RunOnce(file);
    REQUIRE(snapshot.size() == 2);
    std::map<std::string, std::string> toast_read = RawAfter(ById(snapshot, "toasty").at(1).raw);
    CHECK(toast_read.at("big") == "\"" + std::string(10000, 'x') + "\"");
    CHECK(toast_read.at("blob").size() == 2 + (10000 + 2) / 3 * 4);

    // The enum type is created while cdcctl streams: a restarted cdcctl would find it in the
    // catalog at startup, this one only learns of it from pgoutput's Relation message.
    auto run = f.Start({"run", file});
    REQUIRE_MESSAGE(run->WaitForStderr("Streaming from slot", std::chrono::seconds(60)),
                    run->ReadStderrSoFar());
    f.Sql("CREATE TYPE size AS ENUM ('S', 'M', 'L')");
    f.Sql("ALTER TABLE late ADD COLUMN s size NOT NULL DEFAULT 'M', ADD COLUMN ss size[]");
    f.Sql("INSERT INTO late VALUES (2, 'b', 'L', '{S,NULL,L}')");
    f.Sql("UPDATE toasty SET n = 1 WHERE id = 1");
    bool both = run->WaitForStdout(R"("table":"toasty")", std::chrono::seconds(60));
    run->Kill(SIGTERM);
    ProcessResult result = run->Wait();
    REQUIRE_MESSAGE(both, result.Describe());
    CHECK_MESSAGE(result.exit_code == 0, result.Describe());
    std::vector<Event> stream = ParseEvents(result.out);
    REQUIRE(stream.size() == 2);

    const Event late = ById(stream, "late").at(2);
    std::map<std::string, std::string> after = RawAfter(late.raw);
    CHECK(after.at("s") == R"("L")");
    CHECK(after.at("ss") == R"(["S",null,"L"])");
    std::map<std::string, std::string> schema = AfterSchema(late.raw);
    // (Whether NOT NULL makes "s" required is the last test's business.)
    CHECK(schema.at("s").find(
              R"("name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"S,M,L"},)") !=
          std::string::npos);
    CHECK(schema.at("ss") ==
          R"({"type":"array","items":{"type":"string","optional":true,)"
          R"("name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"S,M,L"}},)"
          R"("optional":true,"field":"ss"})");

    const Event toast = ById(stream, "toasty").at(1);
    CHECK(toast.op == "u");
    std::map<std::string, std::string> updated = RawAfter(toast.raw);
    CHECK(updated.at("n") == "1");
    CHECK(updated.at("big") == R"("__debezium_unavailable_value")");
    CHECK(updated.at("blob") ==
          R"("X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==")");  // base64 of the placeholder
    CHECK(updated.at("arr") == R"(["__debezium_unavailable_value"])");
}

// pgoutput does not carry nullability: the Relation handler reads it from the catalog.
TEST_CASE("NOT NULL changes made mid-stream reach the stream's schema") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text NOT NULL)");
    std::string file = f.WritePipeline("nullability", "[public.product]", "",
                                       "sink:\n  type: stdout\n  schemas: true\n");
    CHECK(f.RunOnce(file).empty());
    auto run = f.Start({"run", file});
    REQUIRE_MESSAGE(run->WaitForStderr("Streaming from slot", std::chrono::seconds(60)),
                    run->ReadStderrSoFar());
    f.Sql("ALTER TABLE product ADD COLUMN sku text NOT NULL DEFAULT 'none'");
    f.Sql("INSERT INTO product VALUES (1, 'kettle', 'K-1')");
    f.Sql("ALTER TABLE product ALTER COLUMN name DROP NOT NULL");
    f.Sql("INSERT INTO product VALUES (2, NULL, 'K-2')");
    bool both = run->WaitForStdout(R"("id":2)", std::chrono::seconds(60));
    run->Kill(SIGTERM);
    ProcessResult result = run->Wait();
    REQUIRE_MESSAGE(both, result.Describe());
    std::vector<Event> events = ParseEvents(result.out);
    REQUIRE(events.size() == 2);
    CHECK(AfterSchema(events[0].raw).at("sku") ==
          R"({"type":"string","optional":false,"field":"sku"})");
    CHECK(RawAfter(events[1].raw).at("name") == "null");
    CHECK(AfterSchema(events[1].raw).at("name") ==
          R"({"type":"string","optional":true,"field":"name"})");
}
