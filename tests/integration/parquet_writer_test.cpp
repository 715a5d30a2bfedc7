// The Parquet writer (sinks/parquet/format) against two independent readers: DuckDB (through
// @duckdb/node-api) and hyparquet (a JavaScript reader written from the Parquet specification).
// Every file is written through the public API, read back by both, and compared value by value
// and type by type, together with what the readers report of the metadata (statistics,
// encodings, codecs, row groups). The readers live in tests/readers and print JSON.
#include "sinks/parquet/format/parquet_writer.h"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/servers/process.h"

using namespace cdcctl::testing;
namespace pq = cdcctl::parquet;
using pq::LogicalType;
using pq::PhysicalType;
using pq::Repetition;
using pq::SchemaNode;
using pq::TimeUnit;

namespace {

const std::string kReaders = CDCCTL_SOURCE_DIR "/tests/readers";

class FileOutput : public pq::Output {
public:
    explicit FileOutput(const std::string &path) : path_(path), f_(std::fopen(path.c_str(), "wb")) {
        REQUIRE_MESSAGE(f_ != nullptr, "cannot create " << path);
    }
    ~FileOutput() override {
        if (f_ != nullptr) std::fclose(f_);
    }
    void Write(const uint8_t *data, size_t size) override {
        if (std::fwrite(data, 1, size, f_) != size)
            throw std::runtime_error("short write to " + path_);
    }
    void Close() {
        REQUIRE(std::fclose(f_) == 0);
        f_ = nullptr;
    }

private:
    std::string path_;
    std::FILE *f_;
};

// A parsed JSON document; elements stay valid while it lives.
struct Json {
    std::unique_ptr<simdjson::dom::parser> parser = std::make_unique<simdjson::dom::parser>();
    simdjson::dom::element root;
};

Json ParseJson(const std::string &text) {
    Json j;
    auto r = j.parser->parse(text);
    REQUIRE_MESSAGE(r.error() == simdjson::SUCCESS,
                    "reader printed invalid JSON: " << text.substr(0, 2000));
    j.root = r.value();
    return j;
}

std::string Min(simdjson::dom::element e) {
    return simdjson::minify(e);
}

std::string RunReader(const std::vector<std::string> &args) {
    std::vector<std::string> argv = {"node"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(argv, {}, std::chrono::seconds(180), kReaders);
    REQUIRE_MESSAGE(r.exit_code == 0, "node " << args.front() << ": " << r.Describe());
    return r.out;
}

Json Duck(const std::string &file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {kReaders + "/duckdb_read.mjs"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(file);
    return ParseJson(RunReader(args));
}

Json Hyp(const std::string &file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {kReaders + "/hyparquet_read.mjs"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(file);
    return ParseJson(RunReader(args));
}

// DuckDB's DESCRIBE: column name -> type.
std::vector<std::pair<std::string, std::string>> DuckColumns(const Json &j) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto c : j.root["columns"].get_array()) {
        out.emplace_back(std::string(c["name"].get_string().value()),
                         std::string(c["type"].get_string().value()));
    }
    return out;
}

// DuckDB's rows: one vector of minified JSON values per row.
std::vector<std::vector<std::string>> DuckRows(const Json &j) {
    std::vector<std::vector<std::string>> out;
    for (auto row : j.root["rows"].get_array()) {
        out.emplace_back();
        for (auto v : row.get_array()) out.back().push_back(Min(v));
    }
    return out;
}

// hyparquet's rows: column -> minified JSON value.
std::vector<std::map<std::string, std::string>> HypRows(const Json &j) {
    std::vector<std::map<std::string, std::string>> out;
    for (auto row : j.root["rows"].get_array()) {
        out.emplace_back();
        for (auto field : row.get_object()) out.back()[std::string(field.key)] = Min(field.value);
    }
    return out;
}

// DuckDB's parquet_metadata() rows for one column path, in row group order.
std::vector<simdjson::dom::element> DuckMeta(const Json &j, const std::string &path) {
    std::vector<simdjson::dom::element> out;
    for (auto r : j.root["metadata"].get_array()) {
        if (r["path_in_schema"].get_string().value() == path) out.push_back(r);
    }
    return out;
}

std::string Str(simdjson::dom::element e) {
    if (e.is_null()) return "null";
    if (e.is_string()) return std::string(e.get_string().value());
    return Min(e);
}

// hyparquet's column chunk metadata for one path (joined with '.') in row group `rg`.
simdjson::dom::element HypChunk(const Json &j, size_t rg, const std::string &path) {
    for (auto c : j.root["metadata"]["row_groups"].at(rg)["columns"].get_array()) {
        std::string p;
        for (auto part : c["path"].get_array()) {
            if (!p.empty()) p += '.';
            p += std::string(part.get_string().value());
        }
        if (p == path) return c;
    }
    FAIL("hyparquet has no column " << path);
    return {};
}

// hyparquet's SchemaElement by name (the first one with that name).
simdjson::dom::element HypSchema(const Json &j, const std::string &name) {
    for (auto e : j.root["metadata"]["schema"].get_array()) {
        if (e["name"].get_string().value() == name) return e;
    }
    FAIL("hyparquet has no schema element " << name);
    return {};
}

std::string Bytes(std::initializer_list<int> b) {
    std::string s;
    for (int x : b) s.push_back(static_cast<char>(x));
    return s;
}

// The unscaled value as FIXED_LEN_BYTE_ARRAY(16): big-endian two's complement.
std::string Int128BE(__int128 v) {
    std::string s(16, '\0');
    auto u = static_cast<unsigned __int128>(v);
    for (int i = 15; i >= 0; --i) {
        s[i] = static_cast<char>(static_cast<uint8_t>(u));
        u >>= 8;
    }
    return s;
}

}  // namespace

TEST_CASE("readers: both node readers are installed") {
    ProcessResult r = RunProcess({"node", "-e",
                                  "import('@duckdb/"
                                  "node-api').then(()=>import('hyparquet')).then(()=>import('"
                                  "hyparquet-compressors')).then(()=>console.log('ok'))"},
                                 {}, std::chrono::seconds(60), kReaders);
    REQUIRE_MESSAGE(r.exit_code == 0,
                    "run scripts/setup to install tests/readers/node_modules: " << r.Describe());
    CHECK(r.out == "ok\n");
}

namespace {

// Every flat logical type, each column optional, and one required column. Five rows: ordinary
// values, the low extremes, the high extremes, all nulls, and the float specials.
SchemaNode AllTypesSchema() {
    auto leaf = [](const char *name, PhysicalType t, LogicalType l = {}, int32_t len = 0) {
        return SchemaNode::Leaf(name, Repetition::kOptional, t, l, len);
    };
    return SchemaNode::Group(
        "all_types", Repetition::kRequired,
        {
            SchemaNode::Leaf("id", Repetition::kRequired, PhysicalType::kInt64),
            leaf("b", PhysicalType::kBoolean),
            leaf("i8", PhysicalType::kInt32, LogicalType::Integer(8, true)),
            leaf("u8", PhysicalType::kInt32, LogicalType::Integer(8, false)),
            leaf("i16", PhysicalType::kInt32, LogicalType::Integer(16, true)),
            leaf("u16", PhysicalType::kInt32, LogicalType::Integer(16, false)),
            leaf("i32", PhysicalType::kInt32, LogicalType::Integer(32, true)),
            leaf("u32", PhysicalType::kInt32, LogicalType::Integer(32, false)),
            leaf("i64", PhysicalType::kInt64, LogicalType::Integer(64, true)),
            leaf("u64", PhysicalType::kInt64, LogicalType::Integer(64, false)),
            leaf("f", PhysicalType::kFloat),
            leaf("d", PhysicalType::kDouble),
            leaf("s", PhysicalType::kByteArray, LogicalType::String()),
            leaf("e", PhysicalType::kByteArray, LogicalType::Enum()),
            leaf("j", PhysicalType::kByteArray, LogicalType::Json()),
            leaf("bin", PhysicalType::kByteArray),
            leaf("dec9", PhysicalType::kInt32, LogicalType::Decimal(9, 2)),
            leaf("dec18", PhysicalType::kInt64, LogicalType::Decimal(18, 4)),
            leaf("dec38", PhysicalType::kFixedLenByteArray, LogicalType::Decimal(38, 10), 16),
            leaf("date", PhysicalType::kInt32, LogicalType::Date()),
            leaf("t_ms", PhysicalType::kInt32, LogicalType::Time(TimeUnit::kMillis, false)),
            leaf("t_us", PhysicalType::kInt64, LogicalType::Time(TimeUnit::kMicros, false)),
            leaf("t_ns", PhysicalType::kInt64, LogicalType::Time(TimeUnit::kNanos, false)),
            leaf("t_us_utc", PhysicalType::kInt64, LogicalType::Time(TimeUnit::kMicros, true)),
            leaf("ts_ms", PhysicalType::kInt64, LogicalType::Timestamp(TimeUnit::kMillis, false)),
            leaf("ts_us", PhysicalType::kInt64, LogicalType::Timestamp(TimeUnit::kMicros, false)),
            leaf("ts_ns", PhysicalType::kInt64, LogicalType::Timestamp(TimeUnit::kNanos, false)),
            leaf("ts_us_utc", PhysicalType::kInt64,
                 LogicalType::Timestamp(TimeUnit::kMicros, true)),
            leaf("uuid", PhysicalType::kFixedLenByteArray, LogicalType::Uuid(), 16),
        });
}

const std::string kUuidA = Bytes({0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42,
                                  0x66, 0x14, 0x17, 0x40, 0x00});
const std::string kUuidMax(16, '\xff');
const std::string kUuidMin(16, '\0');

void WriteAllTypes(pq::FileWriter &w, int row) {
    auto c = [&](size_t i) -> pq::ColumnWriter & { return w.column(i); };
    c(0).WriteInt64(row);
    if (row == 3) {  // all nulls
        for (size_t i = 1; i < w.num_columns(); ++i) c(i).WriteNull(0);
        return;
    }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    switch (row) {
        case 0:
            c(1).WriteBool(true);
            c(2).WriteInt32(-5);
            c(3).WriteInt32(200);
            c(4).WriteInt32(-1234);
            c(5).WriteInt32(60000);
            c(6).WriteInt32(123456789);
            c(7).WriteInt32(static_cast<int32_t>(3000000000u));
            c(8).WriteInt64(1234567890123LL);
            c(9).WriteInt64(static_cast<int64_t>(10000000000000000000ull));
            c(10).WriteFloat(1.5f);
            c(11).WriteDouble(2.25);
            c(12).WriteBytes("hello");
            c(13).WriteBytes("RED");
            c(14).WriteBytes(R"({"a":[1,2]})");
            c(15).WriteBytes(Bytes({0x00, 0xff, 0x10}));
            c(16).WriteInt32(12345);
            c(17).WriteInt64(-123456789);
            c(18).WriteBytes(Int128BE(1234567890123456789LL));
            c(19).WriteInt32(19723);             // 2024-01-01
            c(20).WriteInt32(45296789);          // 12:34:56.789
            c(21).WriteInt64(45296789012LL);     // 12:34:56.789012
            c(22).WriteInt64(45296789012345LL);  // 12:34:56.789012345
            c(23).WriteInt64(3600000000LL);      // 01:00:00 UTC
            c(24).WriteInt64(1704067200123LL);   // 2024-01-01 00:00:00.123
            c(25).WriteInt64(1704067200123456LL);
            c(26).WriteInt64(1704067200123456789LL);
            c(27).WriteInt64(1704067200123456LL);
            c(28).WriteBytes(kUuidA);
            break;
        case 1:  // low extremes
            c(1).WriteBool(false);
            c(2).WriteInt32(-128);
            c(3).WriteInt32(0);
            c(4).WriteInt32(-32768);
            c(5).WriteInt32(0);
            c(6).WriteInt32(std::numeric_limits<int32_t>::min());
            c(7).WriteInt32(0);
            c(8).WriteInt64(std::numeric_limits<int64_t>::min());
            c(9).WriteInt64(0);
            c(10).WriteFloat(-std::numeric_limits<float>::infinity());
            c(11).WriteDouble(-inf);
            c(12).WriteBytes("");
            c(13).WriteBytes("");
            c(14).WriteBytes("[]");
            c(15).WriteBytes("");
            c(16).WriteInt32(-999999999);
            c(17).WriteInt64(-999999999999999999LL);
            c(18).WriteBytes(
                Int128BE(-(static_cast<__int128>(99999999999999999LL) * 1000000000000000000LL +
                           999999999999999999LL) *
                             10 -
                         9));
            c(19).WriteInt32(-719528);  // 0000-01-01
            c(20).WriteInt32(0);
            c(21).WriteInt64(0);
            c(22).WriteInt64(0);
            c(23).WriteInt64(0);
            c(24).WriteInt64(-1);
            c(25).WriteInt64(-1);
            c(26).WriteInt64(-1);
            c(27).WriteInt64(-1);
            c(28).WriteBytes(kUuidMin);
            break;
        case 2:  // high extremes
            c(1).WriteBool(true);
            c(2).WriteInt32(127);
            c(3).WriteInt32(255);
            c(4).WriteInt32(32767);
            c(5).WriteInt32(65535);
            c(6).WriteInt32(std::numeric_limits<int32_t>::max());
            c(7).WriteInt32(-1);  // 4294967295
            c(8).WriteInt64(std::numeric_limits<int64_t>::max());
            c(9).WriteInt64(-1);  // 2^64 - 1
            c(10).WriteFloat(std::numeric_limits<float>::infinity());
            c(11).WriteDouble(inf);
            c(12).WriteBytes("h\xc3\xa9llo \xe2\x82\xac");
            c(13).WriteBytes("\xc3\xa9t\xc3\xa9");
            c(14).WriteBytes(R"({"k":"v\u00e9"})");
            c(15).WriteBytes(Bytes({0xff, 0xff}));
            c(16).WriteInt32(999999999);
            c(17).WriteInt64(999999999999999999LL);
            c(18).WriteBytes(
                Int128BE(static_cast<__int128>(99999999999999999LL) * 1000000000000000000LL * 10 +
                         9999999999999999999ULL));
            c(19).WriteInt32(2932896);  // 9999-12-31
            c(20).WriteInt32(86399999);
            c(21).WriteInt64(86399999999LL);
            c(22).WriteInt64(86399999999999LL);
            c(23).WriteInt64(86399999999LL);
            c(24).WriteInt64(253402300799999LL);
            c(25).WriteInt64(253402300799999999LL);
            c(26).WriteInt64(std::numeric_limits<int64_t>::max());
            c(27).WriteInt64(253402300799999999LL);
            c(28).WriteBytes(kUuidMax);
            break;
        case 4:  // float specials
            c(1).WriteBool(false);
            for (int i = 2; i <= 7; ++i) c(i).WriteInt32(1);
            c(8).WriteInt64(1);
            c(9).WriteInt64(1);
            c(10).WriteFloat(std::numeric_limits<float>::quiet_NaN());
            c(11).WriteDouble(nan);
            c(12).WriteBytes("z");
            c(13).WriteBytes("BLUE");
            c(14).WriteBytes("null");
            c(15).WriteBytes(Bytes({0x7f}));
            c(16).WriteInt32(-1);
            c(17).WriteInt64(1);
            c(18).WriteBytes(Int128BE(-1));
            c(19).WriteInt32(-1);
            c(20).WriteInt32(1);
            c(21).WriteInt64(1);
            c(22).WriteInt64(1);
            c(23).WriteInt64(1);
            c(24).WriteInt64(0);
            c(25).WriteInt64(0);
            c(26).WriteInt64(0);
            c(27).WriteInt64(0);
            c(28).WriteBytes(kUuidA);
            break;
    }
}

std::string WriteAllTypesFile(const std::string &path, pq::Codec codec) {
    FileOutput out(path);
    pq::WriterOptions o;
    o.codec = codec;
    o.key_value_metadata = {{"cdcctl.table", "public.all_types"}, {"note", "k\"v"}};
    pq::FileWriter w(out, AllTypesSchema(), o);
    REQUIRE(w.num_columns() == 29);
    for (int r = 0; r < 5; ++r) {
        WriteAllTypes(w, r);
        w.AddRows(1);
    }
    w.Close();
    out.Close();
    return path;
}

}  // namespace

namespace {

// What DuckDB must print for the five rows of WriteAllTypes, column by column (its own text for
// dates, times, timestamps, decimals, UUIDs and blobs).
const std::vector<std::string> kDuckTypes = {
    "BIGINT",       "BOOLEAN",       "TINYINT",        "UTINYINT",
    "SMALLINT",     "USMALLINT",     "INTEGER",        "UINTEGER",
    "BIGINT",       "UBIGINT",       "FLOAT",          "DOUBLE",
    "VARCHAR",      "VARCHAR",       "VARCHAR",        "BLOB",
    "DECIMAL(9,2)", "DECIMAL(18,4)", "DECIMAL(38,10)", "DATE",
    "TIME",         "TIME",          "TIME_NS",        "TIME WITH TIME ZONE",
    "TIMESTAMP",    "TIMESTAMP",     "TIMESTAMP_NS",   "TIMESTAMP WITH TIME ZONE",
    "UUID"};

const std::vector<std::string> kDuckRows = {
    R"(["0",true,-5,200,-1234,60000,123456789,3000000000,"1234567890123","10000000000000000000",1.5,2.25,"hello","RED","{\"a\":[1,2]}","\\x00\\xFF\\x10","123.45","-12345.6789","123456789.0123456789","2024-01-01","12:34:56.789","12:34:56.789012","12:34:56.789012345","01:00:00+00","2024-01-01 00:00:00.123","2024-01-01 00:00:00.123456","2024-01-01 00:00:00.123456789","2024-01-01 00:00:00.123456+00","123e4567-e89b-12d3-a456-426614174000"])",
    R"(["1",false,-128,0,-32768,0,-2147483648,0,"-9223372036854775808","0","-Infinity","-Infinity","","","[]","","-9999999.99","-99999999999999.9999","-99999999999999999999999999.9999999999","0000-01-01","00:00:00","00:00:00","00:00:00","00:00:00+00","1969-12-31 23:59:59.999","1969-12-31 23:59:59.999999","1969-12-31 23:59:59.999999999","1969-12-31 23:59:59.999999+00","00000000-0000-0000-0000-000000000000"])",
    R"(["2",true,127,255,32767,65535,2147483647,4294967295,"9223372036854775807","18446744073709551615","Infinity","Infinity","héllo €","été","{\"k\":\"v\\u00e9\"}","\\xFF\\xFF","9999999.99","99999999999999.9999","99999999999999999999999999.9999999999","9999-12-31","23:59:59.999","23:59:59.999999","23:59:59.999999999","23:59:59.999999+00","9999-12-31 23:59:59.999","9999-12-31 23:59:59.999999","2262-04-11 23:47:16.854775807","9999-12-31 23:59:59.999999+00","ffffffff-ffff-ffff-ffff-ffffffffffff"])",
    R"(["3",null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null])",
    R"(["4",false,1,1,1,1,1,1,"1","1","NaN","NaN","z","BLUE","null","\\x7F","-0.01","0.0001","-0.0000000001","1969-12-31","00:00:00.001","00:00:00.000001","00:00:00.000000001","00:00:00.000001+00","1970-01-01 00:00:00","1970-01-01 00:00:00","1970-01-01 00:00:00","1970-01-01 00:00:00+00","123e4567-e89b-12d3-a456-426614174000"])",
};

// The same rows as hyparquet gives them (see hyparquet_read.mjs for its conversions); the
// decimal columns are compared separately because hyparquet turns them into doubles.
const std::vector<std::string> kHypRows = {
    R"({"id":"0","b":true,"i8":-5,"u8":200,"i16":-1234,"u16":60000,"i32":123456789,"u32":3000000000,"i64":"1234567890123","u64":"10000000000000000000","f":1.5,"d":2.25,"s":"hello","e":"RED","j":"{\"a\":[1,2]}","date":"2024-01-01","t_ms":45296789,"t_us":"45296789012","t_ns":"45296789012345","t_us_utc":"3600000000","ts_ms":"2024-01-01T00:00:00.123Z","ts_us":"2024-01-01T00:00:00.123456Z","ts_ns":"2024-01-01T00:00:00.123456789Z","ts_us_utc":"2024-01-01T00:00:00.123456Z","uuid":"123e4567-e89b-12d3-a456-426614174000"})",
    R"({"id":"1","b":false,"i8":-128,"u8":0,"i16":-32768,"u16":0,"i32":-2147483648,"u32":0,"i64":"-9223372036854775808","u64":"0","f":"-Infinity","d":"-Infinity","s":"","e":"","j":"[]","date":"0000-01-01","t_ms":0,"t_us":"0","t_ns":"0","t_us_utc":"0","ts_ms":"1969-12-31T23:59:59.999Z","ts_us":"1969-12-31T23:59:59.999999Z","ts_ns":"1969-12-31T23:59:59.999999999Z","ts_us_utc":"1969-12-31T23:59:59.999999Z","uuid":"00000000-0000-0000-0000-000000000000"})",
    R"({"id":"2","b":true,"i8":127,"u8":255,"i16":32767,"u16":65535,"i32":2147483647,"u32":4294967295,"i64":"9223372036854775807","u64":"18446744073709551615","f":"Infinity","d":"Infinity","s":"héllo €","e":"été","j":"{\"k\":\"v\\u00e9\"}","date":"9999-12-31","t_ms":86399999,"t_us":"86399999999","t_ns":"86399999999999","t_us_utc":"86399999999","ts_ms":"9999-12-31T23:59:59.999Z","ts_us":"9999-12-31T23:59:59.999999Z","ts_ns":"2262-04-11T23:47:16.854775807Z","ts_us_utc":"9999-12-31T23:59:59.999999Z","uuid":"ffffffff-ffff-ffff-ffff-ffffffffffff"})",
    R"({"id":"3","b":null,"i8":null,"u8":null,"i16":null,"u16":null,"i32":null,"u32":null,"i64":null,"u64":null,"f":null,"d":null,"s":null,"e":null,"j":null,"date":null,"t_ms":null,"t_us":null,"t_ns":null,"t_us_utc":null,"ts_ms":null,"ts_us":null,"ts_ns":null,"ts_us_utc":null,"uuid":null})",
    R"({"id":"4","b":false,"i8":1,"u8":1,"i16":1,"u16":1,"i32":1,"u32":1,"i64":"1","u64":"1","f":"NaN","d":"NaN","s":"z","e":"BLUE","j":"null","date":"1969-12-31","t_ms":1,"t_us":"1","t_ns":"1","t_us_utc":"1","ts_ms":"1970-01-01T00:00:00.000Z","ts_us":"1970-01-01T00:00:00.000000Z","ts_ns":"1970-01-01T00:00:00.000000000Z","ts_us_utc":"1970-01-01T00:00:00.000000Z","uuid":"123e4567-e89b-12d3-a456-426614174000"})",
};

void CheckAllTypesRows(const Json &duck, const Json &hyp) {
    auto cols = DuckColumns(duck);
    REQUIRE(cols.size() == kDuckTypes.size());
    for (size_t i = 0; i < cols.size(); ++i) {
        INFO("column " << cols[i].first);
        CHECK(cols[i].second == kDuckTypes[i]);
    }
    auto rows = DuckRows(duck);
    REQUIRE(rows.size() == kDuckRows.size());
    size_t r = 0;
    for (auto row : duck.root["rows"].get_array()) {
        INFO("DuckDB row " << r);
        CHECK(Min(row) == kDuckRows[r]);
        ++r;
    }
    auto hrows = HypRows(hyp);
    REQUIRE(hrows.size() == kHypRows.size());
    const std::vector<std::optional<double>> dec9 = {123.45, -9999999.99, 9999999.99, std::nullopt,
                                                     -0.01};
    const std::vector<std::optional<double>> dec18 = {-12345.6789, -99999999999999.9999,
                                                      99999999999999.9999, std::nullopt, 0.0001};
    const std::vector<std::optional<double>> dec38 = {123456789.0123456789, -1e26, 1e26,
                                                      std::nullopt, -1e-10};
    for (size_t i = 0; i < hrows.size(); ++i) {
        INFO("hyparquet row " << i);
        Json expected = ParseJson(kHypRows[i]);
        for (auto field : expected.root.get_object()) {
            std::string key(field.key);
            INFO("column " << key);
            CHECK(hrows[i][key] == Min(field.value));
        }
        auto check_decimal = [&](const char *col, std::optional<double> want) {
            INFO("column " << col);
            if (!want) {
                CHECK(hrows[i][col] == "null");
            } else {
                CHECK(std::stod(hrows[i][col]) == doctest::Approx(*want).epsilon(1e-12));
            }
        };
        check_decimal("dec9", dec9[i]);
        check_decimal("dec18", dec18[i]);
        check_decimal("dec38", dec38[i]);
    }
}

}  // namespace

TEST_CASE("every logical type reads back identically with DuckDB and hyparquet") {
    TempDir dir("cdcctl-pqw-");
    std::string file = WriteAllTypesFile(dir.File("all.parquet"), pq::Codec::kUncompressed);
    Json duck = Duck(file, {"--metadata", "--schema", "--kv"});
    Json hyp = Hyp(file);
    CheckAllTypesRows(duck, hyp);

    SUBCASE("binary values keep every byte") {
        Json hex = Hyp(file, {"--bytes-as-hex"});
        std::vector<std::string> bin;
        for (auto row : hex.root["rows"].get_array()) bin.push_back(Min(row["bin"]));
        CHECK(bin == std::vector<std::string>{R"("0x00ff10")", R"("0x")", R"("0xffff")", "null",
                                              R"("0x7f")"});
    }

    SUBCASE("the schema carries logical and converted types") {
        struct Want {
            const char *name, *type, *converted, *logical;
        };
        const std::vector<Want> want = {
            {"id", "INT64", "null", "null"},
            {"b", "BOOLEAN", "null", "null"},
            {"i8", "INT32", "INT_8", R"({"type":"INTEGER","bitWidth":8,"isSigned":true})"},
            {"u8", "INT32", "UINT_8", R"({"type":"INTEGER","bitWidth":8,"isSigned":false})"},
            {"i16", "INT32", "INT_16", R"({"type":"INTEGER","bitWidth":16,"isSigned":true})"},
            {"u16", "INT32", "UINT_16", R"({"type":"INTEGER","bitWidth":16,"isSigned":false})"},
            {"i32", "INT32", "INT_32", R"({"type":"INTEGER","bitWidth":32,"isSigned":true})"},
            {"u32", "INT32", "UINT_32", R"({"type":"INTEGER","bitWidth":32,"isSigned":false})"},
            {"i64", "INT64", "INT_64", R"({"type":"INTEGER","bitWidth":64,"isSigned":true})"},
            {"u64", "INT64", "UINT_64", R"({"type":"INTEGER","bitWidth":64,"isSigned":false})"},
            {"f", "FLOAT", "null", "null"},
            {"d", "DOUBLE", "null", "null"},
            {"s", "BYTE_ARRAY", "UTF8", R"({"type":"STRING"})"},
            {"e", "BYTE_ARRAY", "ENUM", R"({"type":"ENUM"})"},
            {"j", "BYTE_ARRAY", "JSON", R"({"type":"JSON"})"},
            {"bin", "BYTE_ARRAY", "null", "null"},
            {"dec9", "INT32", "DECIMAL", R"({"type":"DECIMAL","scale":2,"precision":9})"},
            {"dec18", "INT64", "DECIMAL", R"({"type":"DECIMAL","scale":4,"precision":18})"},
            {"dec38", "FIXED_LEN_BYTE_ARRAY", "DECIMAL",
             R"({"type":"DECIMAL","scale":10,"precision":38})"},
            {"date", "INT32", "DATE", R"({"type":"DATE"})"},
            {"t_ms", "INT32", "TIME_MILLIS",
             R"({"type":"TIME","isAdjustedToUTC":false,"unit":"MILLIS"})"},
            {"t_us", "INT64", "TIME_MICROS",
             R"({"type":"TIME","isAdjustedToUTC":false,"unit":"MICROS"})"},
            {"t_ns", "INT64", "null", R"({"type":"TIME","isAdjustedToUTC":false,"unit":"NANOS"})"},
            {"t_us_utc", "INT64", "TIME_MICROS",
             R"({"type":"TIME","isAdjustedToUTC":true,"unit":"MICROS"})"},
            {"ts_ms", "INT64", "TIMESTAMP_MILLIS",
             R"({"type":"TIMESTAMP","isAdjustedToUTC":false,"unit":"MILLIS"})"},
            {"ts_us", "INT64", "TIMESTAMP_MICROS",
             R"({"type":"TIMESTAMP","isAdjustedToUTC":false,"unit":"MICROS"})"},
            {"ts_ns", "INT64", "null",
             R"({"type":"TIMESTAMP","isAdjustedToUTC":false,"unit":"NANOS"})"},
            {"ts_us_utc", "INT64", "TIMESTAMP_MICROS",
             R"({"type":"TIMESTAMP","isAdjustedToUTC":true,"unit":"MICROS"})"},
            {"uuid", "FIXED_LEN_BYTE_ARRAY", "null", R"({"type":"UUID"})"},
        };
        CHECK(Str(HypSchema(hyp, "all_types")["num_children"]) == "29");
        for (const Want &w : want) {
            INFO("column " << w.name);
            auto e = HypSchema(hyp, w.name);
            CHECK(Str(e["type"]) == w.type);
            CHECK(Str(e["converted_type"]) == w.converted);
            CHECK(Str(e["logical_type"]) == w.logical);
            CHECK(Str(e["repetition_type"]) ==
                  (std::string(w.name) == "id" ? "REQUIRED" : "OPTIONAL"));
        }
        // DuckDB's parquet_schema() decodes the same annotations from the footer.
        std::map<std::string, std::string> duck_logical;
        for (auto e : duck.root["schema"].get_array())
            duck_logical[Str(e["name"])] = Str(e["logical_type"]) + " " + Str(e["converted_type"]);
        // DuckDB prints the i8 bitWidth as a raw char: 16 is "\x10".
        CHECK(duck_logical["u16"] == "IntType(bitWidth=\x10, isSigned=0) UINT_16");
        CHECK(duck_logical["dec38"] == "DecimalType(scale=10, precision=38) DECIMAL");
        CHECK(duck_logical["t_ns"] ==
              "TimeType(isAdjustedToUTC=0, unit=TimeUnit(MILLIS=<null>, MICROS=<null>, "
              "NANOS=NanoSeconds())) null");
        CHECK(duck_logical["ts_us_utc"] ==
              "TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, "
              "MICROS=MicroSeconds(), NANOS=<null>)) TIMESTAMP_MICROS");
        CHECK(duck_logical["uuid"] == "UUIDType() null");
        CHECK(duck_logical["j"] == "JsonType() JSON");
        CHECK(duck_logical["e"] == "EnumType() ENUM");
        CHECK(Str(HypSchema(hyp, "dec9")["scale"]) == "2");
        CHECK(Str(HypSchema(hyp, "dec9")["precision"]) == "9");
        CHECK(Str(HypSchema(hyp, "dec38")["type_length"]) == "16");
        CHECK(Str(HypSchema(hyp, "uuid")["type_length"]) == "16");
    }

    SUBCASE("the footer carries created_by and the key/value metadata") {
        CHECK(Str(hyp.root["metadata"]["created_by"]) == "cdcctl");
        CHECK(Min(hyp.root["metadata"]["key_value_metadata"]) ==
              R"({"cdcctl.table":"public.all_types","note":"k\"v"})");
        std::map<std::string, std::string> kv;
        for (auto r : duck.root["kv"].get_array()) kv[Str(r["key"])] = Str(r["value"]);
        CHECK(kv["cdcctl.table"] == "public.all_types");
        CHECK(kv["note"] == "k\\x22v");  // DuckDB prints the BLOB value with its escapes
        CHECK(Str(hyp.root["metadata"]["num_rows"]) == "5");
    }

    SUBCASE("statistics: null counts and min/max in each type's sort order, NaN left out") {
        // DuckDB's text of stats_min_value / stats_max_value, per column.
        struct Want {
            const char *path, *min, *max;
        };
        const std::vector<Want> want = {
            {"id", "0", "4"},
            {"b", "false", "true"},
            {"i8", "-128", "127"},
            {"u8", "0", "255"},
            {"i16", "-32768", "32767"},
            {"u16", "0", "65535"},
            {"i32", "-2147483648", "2147483647"},
            {"u32", "0", "4294967295"},  // unsigned order: 4294967295 is stored as -1
            {"i64", "-9223372036854775808", "9223372036854775807"},
            {"u64", "0", "18446744073709551615"},
            {"s", "", "z"},    // bytewise unsigned: "z" > "h\xc3\xa9llo"
            {"e", "", "été"},  // 0xC3 sorts after ASCII
            {"j", "[]", R"({"k":"v\u00e9"})"},
            {"bin", "", "\\xFF\\xFF"},
            {"dec9", "-9999999.99", "9999999.99"},
            {"dec18", "-99999999999999.9999", "99999999999999.9999"},
            {"dec38", "-99999999999999999999999999.9999999999",
             "99999999999999999999999999.9999999999"},
            {"date", "0001-01-01 (BC)", "9999-12-31"},  // DuckDB prints year 0 as 1 BC
            {"t_ms", "00:00:00", "23:59:59.999"},
            {"t_ns", "00:00:00", "23:59:59.999999999"},
            {"ts_us", "1969-12-31 23:59:59.999999", "9999-12-31 23:59:59.999999"},
            {"ts_us_utc", "1969-12-31 23:59:59.999999+00", "9999-12-31 23:59:59.999999+00"},
            {"uuid", "00000000-0000-0000-0000-000000000000",
             "ffffffff-ffff-ffff-ffff-ffffffffffff"},
        };
        for (const Want &w : want) {
            INFO("column " << w.path);
            auto m = DuckMeta(duck, w.path);
            REQUIRE(m.size() == 1);
            CHECK(Str(m[0]["stats_min_value"]) == w.min);
            CHECK(Str(m[0]["stats_max_value"]) == w.max);
            CHECK(Str(m[0]["stats_null_count"]) == (std::string(w.path) == "id" ? "0" : "1"));
        }
        // hyparquet decodes the same bounds from the raw bytes. (DuckDB does not use float bounds
        // of a chunk that holds NaN, so those are checked here only.)
        CHECK(Min(HypChunk(hyp, 0, "f")["statistics"]) ==
              R"({"null_count":"1","min_value":"-Infinity","max_value":"Infinity"})");
        CHECK(Min(HypChunk(hyp, 0, "u64")["statistics"]) ==
              R"({"null_count":"1","min_value":"0","max_value":"18446744073709551615"})");
        CHECK(Min(HypChunk(hyp, 0, "d")["statistics"]) ==
              R"({"null_count":"1","min_value":"-Infinity","max_value":"Infinity"})");
        CHECK(Min(HypChunk(hyp, 0, "dec38")["statistics"]["null_count"]) == R"("1")");
        CHECK(
            Min(HypChunk(hyp, 0, "ts_ns")["statistics"]) ==
            R"({"null_count":"1","min_value":"1969-12-31T23:59:59.999999999Z","max_value":"2262-04-11T23:47:16.854775807Z"})");
        CHECK(
            Min(HypChunk(hyp, 0, "uuid")["statistics"]) ==
            R"({"null_count":"1","min_value":"00000000-0000-0000-0000-000000000000","max_value":"ffffffff-ffff-ffff-ffff-ffffffffffff"})");
    }
}

TEST_CASE("each codec compresses pages that both readers decompress") {
    TempDir dir("cdcctl-pqw-");
    const std::vector<std::pair<pq::Codec, std::string>> codecs = {
        {pq::Codec::kUncompressed, "UNCOMPRESSED"},
        {pq::Codec::kSnappy, "SNAPPY"},
        {pq::Codec::kGzip, "GZIP"},
        {pq::Codec::kZstd, "ZSTD"}};
    for (const auto &[codec, name] : codecs) {
        INFO("codec " << name);
        std::string file = WriteAllTypesFile(dir.File(name + ".parquet"), codec);
        Json duck = Duck(file, {"--metadata"});
        Json hyp = Hyp(file);
        CheckAllTypesRows(duck, hyp);
        for (auto m : duck.root["metadata"].get_array()) CHECK(Str(m["compression"]) == name);
        for (auto c : hyp.root["metadata"]["row_groups"].at(0)["columns"].get_array())
            CHECK(Str(c["codec"]) == name);
    }
}

TEST_CASE("3-level lists and nested optional groups, with every kind of null") {
    // tags:  optional LIST<optional STRING>    max_def 3, max_rep 1
    // nums:  required LIST<required INT64>     max_def 1, max_rep 1
    // addr:  optional { city: optional STRING, geo: optional { lat: required DOUBLE,
    //                                                         lon: optional DOUBLE } }
    // matrix: optional LIST<optional LIST<optional INT32>>   max_def 5, max_rep 2
    SchemaNode root = SchemaNode::Group(
        "nested", Repetition::kRequired,
        {
            SchemaNode::Leaf("id", Repetition::kRequired, PhysicalType::kInt32),
            SchemaNode::List("tags", Repetition::kOptional,
                             SchemaNode::Leaf("x", Repetition::kOptional, PhysicalType::kByteArray,
                                              LogicalType::String())),
            SchemaNode::List("nums", Repetition::kRequired,
                             SchemaNode::Leaf("x", Repetition::kRequired, PhysicalType::kInt64)),
            SchemaNode::Group(
                "addr", Repetition::kOptional,
                {
                    SchemaNode::Leaf("city", Repetition::kOptional, PhysicalType::kByteArray,
                                     LogicalType::String()),
                    SchemaNode::Group(
                        "geo", Repetition::kOptional,
                        {
                            SchemaNode::Leaf("lat", Repetition::kRequired, PhysicalType::kDouble),
                            SchemaNode::Leaf("lon", Repetition::kOptional, PhysicalType::kDouble),
                        }),
                }),
            SchemaNode::List("matrix", Repetition::kOptional,
                             SchemaNode::List("row", Repetition::kOptional,
                                              SchemaNode::Leaf("x", Repetition::kOptional,
                                                               PhysicalType::kInt32))),
        });
    TempDir dir("cdcctl-pqw-");
    std::string file = dir.File("nested.parquet");
    {
        FileOutput out(file);
        pq::WriterOptions o;
        o.codec = pq::Codec::kSnappy;
        pq::FileWriter w(out, root, o);
        REQUIRE(w.num_columns() == 7);
        auto &id = w.column(0), &tags = w.column(1), &nums = w.column(2), &city = w.column(3),
             &lat = w.column(4), &lon = w.column(5), &matrix = w.column(6);
        CHECK(tags.descriptor().max_def == 3);
        CHECK(tags.descriptor().max_rep == 1);
        CHECK(tags.descriptor().path == std::vector<std::string>{"tags", "list", "element"});
        CHECK(nums.descriptor().max_def == 1);
        CHECK(city.descriptor().max_def == 2);
        CHECK(lat.descriptor().max_def == 2);
        CHECK(lon.descriptor().max_def == 3);
        CHECK(matrix.descriptor().max_def == 5);
        CHECK(matrix.descriptor().max_rep == 2);

        // row 0: tags ["a","b"], nums [1,2,3], addr {city "Oslo", geo {59.9, 10.7}}, matrix
        // [[1,2],[3]]
        id.WriteInt32(0);
        tags.WriteBytes("a", 0);
        tags.WriteBytes("b", 1);
        nums.WriteInt64(1, 0);
        nums.WriteInt64(2, 1);
        nums.WriteInt64(3, 1);
        city.WriteBytes("Oslo");
        lat.WriteDouble(59.9);
        lon.WriteDouble(10.7);
        matrix.WriteInt32(1, 0);
        matrix.WriteInt32(2, 2);
        matrix.WriteInt32(3, 1);
        w.AddRows(1);
        // row 1: tags [] (empty), nums [], addr null, matrix null
        id.WriteInt32(1);
        tags.WriteNull(1);
        nums.WriteNull(0);
        city.WriteNull(0);
        lat.WriteNull(0);
        lon.WriteNull(0);
        matrix.WriteNull(0);
        w.AddRows(1);
        // row 2: tags null, nums [7], addr {city null, geo null}, matrix [] (empty)
        id.WriteInt32(2);
        tags.WriteNull(0);
        nums.WriteInt64(7);
        city.WriteNull(1);
        lat.WriteNull(1);
        lon.WriteNull(1);
        matrix.WriteNull(1);
        w.AddRows(1);
        // row 3: tags ["x", null, ""], nums [], addr {city "", geo {lat 0, lon null}},
        //        matrix [null, [], [null, 4]]
        id.WriteInt32(3);
        tags.WriteBytes("x", 0);
        tags.WriteNull(2, 1);
        tags.WriteBytes("", 1);
        nums.WriteNull(0);
        city.WriteBytes("");
        lat.WriteDouble(0.0);
        lon.WriteNull(2);
        matrix.WriteNull(2, 0);
        matrix.WriteNull(3, 1);
        matrix.WriteNull(4, 1);
        matrix.WriteInt32(4, 2);
        w.AddRows(1);
        // row 4: tags [null], nums [-1], addr {city "Rome", geo null}, matrix [[]]
        id.WriteInt32(4);
        tags.WriteNull(2, 0);
        nums.WriteInt64(-1);
        city.WriteBytes("Rome");
        lat.WriteNull(1);
        lon.WriteNull(1);
        matrix.WriteNull(3, 0);
        w.AddRows(1);
        w.Close();
        out.Close();
    }
    Json duck = Duck(file, {"--metadata"});
    auto cols = DuckColumns(duck);
    REQUIRE(cols.size() == 5);
    CHECK(cols[0] == std::pair<std::string, std::string>{"id", "INTEGER"});
    CHECK(cols[1] == std::pair<std::string, std::string>{"tags", "VARCHAR[]"});
    CHECK(cols[2] == std::pair<std::string, std::string>{"nums", "BIGINT[]"});
    CHECK(cols[3] ==
          std::pair<std::string, std::string>{
              "addr", R"(STRUCT("city" VARCHAR, "geo" STRUCT("lat" DOUBLE, "lon" DOUBLE)))"});
    CHECK(cols[4] == std::pair<std::string, std::string>{"matrix", "INTEGER[][]"});
    std::vector<std::string> rows;
    for (auto r : duck.root["rows"].get_array()) rows.push_back(Min(r));
    CHECK(
        rows ==
        std::vector<std::string>{
            R"([0,["a","b"],["1","2","3"],{"city":"Oslo","geo":{"lat":59.9,"lon":10.7}},[[1,2],[3]]])",
            R"([1,[],[],null,null])",
            R"([2,null,["7"],{"city":null,"geo":null},[]])",
            R"([3,["x",null,""],[],{"city":"","geo":{"lat":0,"lon":null}},[null,[],[null,4]]])",
            R"([4,[null],["-1"],{"city":"Rome","geo":null},[[]]])",
        });

    Json hyp = Hyp(file);
    std::vector<std::string> hrows;
    for (auto r : hyp.root["rows"].get_array()) hrows.push_back(Min(r));
    CHECK(
        hrows ==
        std::vector<std::string>{
            R"({"id":0,"tags":["a","b"],"nums":["1","2","3"],"addr":{"city":"Oslo","geo":{"lat":59.9,"lon":10.7}},"matrix":[[1,2],[3]]})",
            R"({"id":1,"tags":[],"nums":[],"addr":null,"matrix":null})",
            R"({"id":2,"tags":null,"nums":["7"],"addr":{"city":null,"geo":null},"matrix":[]})",
            R"({"id":3,"tags":["x",null,""],"nums":[],"addr":{"city":"","geo":{"lat":0,"lon":null}},"matrix":[null,[],[null,4]]})",
            R"({"id":4,"tags":[null],"nums":["-1"],"addr":{"city":"Rome","geo":null},"matrix":[[]]})",
        });

    // Schema: LIST on the outer group, a repeated "list" group, the "element".
    CHECK(Str(HypSchema(hyp, "tags")["converted_type"]) == "LIST");
    CHECK(Str(HypSchema(hyp, "tags")["logical_type"]) == R"({"type":"LIST"})");
    CHECK(Str(HypSchema(hyp, "list")["repetition_type"]) == "REPEATED");
    CHECK(Str(HypSchema(hyp, "addr")["num_children"]) == "2");
    CHECK(Str(HypSchema(hyp, "geo")["num_children"]) == "2");

    // null_count counts the entries without a leaf value (nulls at any level, empty lists).
    auto meta = DuckMeta(duck, "tags, list, element");
    REQUIRE(meta.size() == 1);
    CHECK(Str(meta[0]["num_values"]) == "8");
    CHECK(Str(meta[0]["stats_null_count"]) == "4");
    CHECK(Str(meta[0]["stats_min_value"]) == "");
    CHECK(Str(meta[0]["stats_max_value"]) == "x");
    auto lat_meta = DuckMeta(duck, "addr, geo, lat");
    REQUIRE(lat_meta.size() == 1);
    CHECK(Str(lat_meta[0]["stats_null_count"]) == "3");
    CHECK(Str(lat_meta[0]["stats_min_value"]) == "-0.0");  // a zero min is written as -0.0
    CHECK(Str(lat_meta[0]["stats_max_value"]) == "59.9");
}

namespace {

// hyparquet's encoding_stats of a chunk: "PAGE_TYPE/ENCODING" -> count.
std::map<std::string, int64_t> EncodingStats(simdjson::dom::element chunk) {
    std::map<std::string, int64_t> out;
    for (auto s : chunk["encoding_stats"].get_array()) {
        out[Str(s["page_type"]) + "/" + Str(s["encoding"])] = s["count"].get_int64().value();
    }
    return out;
}

}  // namespace

TEST_CASE(
    "dictionary encoding falls back to PLAIN once the dictionary outgrows dictionary_max_bytes") {
    const int kRows = 30000;
    const char *kColors[] = {"red", "green", "blue", "cyan", "magenta"};
    auto grow_value = [](int i) { return "value-" + std::to_string(i / 2); };  // each value twice
    TempDir dir("cdcctl-pqw-");
    std::string file = dir.File("dict.parquet");
    {
        FileOutput out(file);
        pq::WriterOptions o;
        o.codec = pq::Codec::kZstd;
        o.dictionary_max_bytes = 2000;
        o.data_page_bytes = 1024;
        SchemaNode root = SchemaNode::Group(
            "dict", Repetition::kRequired,
            {
                SchemaNode::Leaf("id", Repetition::kRequired, PhysicalType::kInt64),
                SchemaNode::Leaf("low", Repetition::kOptional, PhysicalType::kByteArray,
                                 LogicalType::String()),
                SchemaNode::Leaf("grow", Repetition::kOptional, PhysicalType::kByteArray,
                                 LogicalType::String()),
                SchemaNode::Leaf("small", Repetition::kRequired, PhysicalType::kInt32),
                SchemaNode::Leaf("tag", Repetition::kRequired, PhysicalType::kFixedLenByteArray,
                                 LogicalType::Uuid(), 16),
            });
        pq::FileWriter w(out, root, o);
        for (int i = 0; i < kRows; ++i) {
            w.column(0).WriteInt64(i);
            if (i % 7 == 3) {
                w.column(1).WriteNull(0);
            } else {
                w.column(1).WriteBytes(kColors[i % 5]);
            }
            std::string g = grow_value(i);
            w.column(2).WriteBytes(g);
            w.column(3).WriteInt32(i % 100);
            w.column(4).WriteBytes(i % 3 == 0 ? kUuidA : i % 3 == 1 ? kUuidMin : kUuidMax);
            w.AddRows(1);
            if (i + 1 == kRows / 2) {
                CHECK(w.buffered_rows() == kRows / 2);
                CHECK(w.rows_written() == 0);
                w.FlushRowGroup();
            }
        }
        CHECK(w.buffered_rows() == kRows / 2);
        w.Close();
        CHECK(w.rows_written() == kRows);
        out.Close();
    }

    Json hyp = Hyp(file);
    auto rows = HypRows(hyp);
    REQUIRE(rows.size() == kRows);
    int mismatches = 0;
    for (int i = 0; i < kRows; ++i) {
        std::string low = i % 7 == 3 ? "null" : "\"" + std::string(kColors[i % 5]) + "\"";
        if (rows[i]["id"] != "\"" + std::to_string(i) + "\"" || rows[i]["low"] != low ||
            rows[i]["grow"] != "\"" + grow_value(i) + "\"" ||
            rows[i]["small"] != std::to_string(i % 100)) {
            if (++mismatches < 5) FAIL_CHECK("hyparquet row " << i << " differs");
        }
    }
    CHECK(mismatches == 0);

    // The growing column: dictionary page, dictionary-encoded pages up to the limit, then PLAIN;
    // the second row group starts over with a fresh dictionary.
    REQUIRE(hyp.root["metadata"]["row_groups"].get_array().size() == 2);
    for (size_t rg = 0; rg < 2; ++rg) {
        INFO("row group " << rg);
        auto grow = EncodingStats(HypChunk(hyp, rg, "grow"));
        CHECK(grow["DICTIONARY_PAGE/PLAIN"] == 1);
        CHECK(grow["DATA_PAGE/RLE_DICTIONARY"] >= 1);
        CHECK(grow["DATA_PAGE/PLAIN"] > 1);
        CHECK(Min(HypChunk(hyp, rg, "grow")["encodings"]) == R"(["PLAIN","RLE","RLE_DICTIONARY"])");
    }
    // Few distinct values: dictionary-encoded throughout, over several pages.
    auto low = EncodingStats(HypChunk(hyp, 0, "low"));
    CHECK(low["DICTIONARY_PAGE/PLAIN"] == 1);
    CHECK(low["DATA_PAGE/RLE_DICTIONARY"] > 1);
    CHECK(low.count("DATA_PAGE/PLAIN") == 0);
    // FIXED_LEN_BYTE_ARRAY dictionary entries are the raw 16 bytes.
    auto tag = EncodingStats(HypChunk(hyp, 0, "tag"));
    CHECK(tag["DICTIONARY_PAGE/PLAIN"] == 1);
    CHECK(tag.count("DATA_PAGE/PLAIN") == 0);
    CHECK(rows[3]["tag"] == R"("123e4567-e89b-12d3-a456-426614174000")");
    CHECK(rows[4]["tag"] == R"("00000000-0000-0000-0000-000000000000")");
    CHECK(rows[29999]["tag"] == R"("ffffffff-ffff-ffff-ffff-ffffffffffff")");
    auto small = EncodingStats(HypChunk(hyp, 0, "small"));
    CHECK(small.count("DATA_PAGE/PLAIN") == 0);
    CHECK(Min(HypChunk(hyp, 0, "small")["encodings"]) == R"(["PLAIN","RLE_DICTIONARY"])");
    // A unique column is not worth a dictionary: PLAIN data pages after at most a few others.
    auto id = EncodingStats(HypChunk(hyp, 0, "id"));
    CHECK(id["DATA_PAGE/PLAIN"] > 1);

    // DuckDB reads the same values (checked by aggregate, and a sample of rows around the switch).
    Json duck =
        Duck(file, {"--metadata", "--sql",
                    "SELECT count(*), count(low), count(DISTINCT low), count(DISTINCT grow), "
                    "min(grow), max(grow), sum(id), sum(small), count(DISTINCT tag), "
                    "bool_and(grow = 'value-' || (id // 2)), count(*) FILTER "
                    "(WHERE tag = '123e4567-e89b-12d3-a456-426614174000') FROM t"});
    CHECK(
        Min(duck.root["rows"]) ==
        R"([["30000","25714","5","15000","value-0","value-9999","449985000","1485000","3",true,"10000"]])");
    auto gm = DuckMeta(duck, "grow");
    REQUIRE(gm.size() == 2);
    CHECK(Str(gm[0]["compression"]) == "ZSTD");
    CHECK(!gm[0]["dictionary_page_offset"].is_null());
    CHECK(!gm[1]["dictionary_page_offset"].is_null());
    CHECK(Str(gm[0]["stats_min_value"]) == "value-0");
    CHECK(Str(gm[0]["stats_max_value"]) == "value-999");  // bytewise: "value-999" > "value-7499"
    CHECK(Str(gm[1]["stats_min_value"]) == "value-10000");
    CHECK(Str(gm[1]["stats_max_value"]) == "value-9999");
    auto lm = DuckMeta(duck, "low");
    CHECK(std::stoi(Str(lm[0]["stats_null_count"])) + std::stoi(Str(lm[1]["stats_null_count"])) ==
          4286);
}

TEST_CASE("each row group carries its own statistics, in each type's sort order") {
    TempDir dir("cdcctl-pqw-");
    std::string file = dir.File("groups.parquet");
    uint64_t written = 0;
    {
        FileOutput out(file);
        pq::WriterOptions o;
        o.codec = pq::Codec::kGzip;
        o.data_page_bytes = 256;
        SchemaNode root = SchemaNode::Group(
            "groups", Repetition::kRequired,
            {
                SchemaNode::Leaf("n", Repetition::kRequired, PhysicalType::kInt64),
                SchemaNode::Leaf("u", Repetition::kOptional, PhysicalType::kInt64,
                                 LogicalType::Integer(64, false)),
                SchemaNode::Leaf("f", Repetition::kOptional, PhysicalType::kDouble),
                SchemaNode::Leaf("s", Repetition::kOptional, PhysicalType::kByteArray,
                                 LogicalType::String()),
                SchemaNode::Leaf("none", Repetition::kOptional, PhysicalType::kInt32),
                SchemaNode::Leaf("dec", Repetition::kOptional, PhysicalType::kFixedLenByteArray,
                                 LogicalType::Decimal(20, 2), 9),
            });
        pq::FileWriter w(out, root, o);
        auto dec9 = [](int64_t v) {  // big-endian two's complement in 9 bytes
            std::string s(9, '\0');
            auto u = static_cast<uint64_t>(v);
            for (int i = 8; i >= 1; --i) {
                s[i] = static_cast<char>(u & 0xff);
                u >>= 8;
            }
            s[0] = v < 0 ? '\xff' : '\0';
            return s;
        };
        for (int g = 0; g < 3; ++g) {
            for (int i = 0; i < 1000; ++i) {
                int64_t n = g * 1000 + i;
                w.column(0).WriteInt64(n);
                // group 0: small values; group 1: values past 2^63 (negative as int64); group 2:
                // both
                uint64_t u = g == 0   ? static_cast<uint64_t>(i)
                             : g == 1 ? (1ull << 63) + i
                                      : (i % 2 ? ~0ull : 5);
                w.column(1).WriteInt64(static_cast<int64_t>(u));
                // group 2 holds both zeros: min must come out as -0.0 and max as +0.0
                double f = g == 0 ? -i * 0.5 : g == 1 ? i * 0.25 : (i % 2 ? 0.0 : -0.0);
                w.column(2).WriteDouble(f);
                if (i % 10 == 0) {
                    w.column(3).WriteNull(0);
                } else {
                    // bytewise unsigned: "\xc3\xa9" (é) sorts after "z"
                    w.column(3).WriteBytes(g == 1 && i == 501 ? "\xc3\xa9t\xc3\xa9"
                                                              : "k" + std::to_string(n));
                }
                w.column(4).WriteNull(0);
                w.column(5).WriteBytes(dec9(g == 0 ? -n : n * 1000));
                w.AddRows(1);
            }
            CHECK(w.buffered_bytes() > 0);
            w.FlushRowGroup();
            CHECK(w.buffered_rows() == 0);
            CHECK(w.rows_written() == (g + 1) * 1000);
        }
        w.FlushRowGroup();  // nothing buffered: no empty row group
        w.Close();
        written = w.bytes_written();
        out.Close();
    }
    CHECK(written == std::filesystem::file_size(file));

    Json duck = Duck(
        file, {"--metadata", "--sql",
               "SELECT count(*), sum(n), count(none), min(u), max(u), min(dec), max(dec) FROM t"});
    CHECK(Min(duck.root["rows"]) ==
          R"([["3000","4498500","0","0","18446744073709551615","-9.99","29990.00"]])");
    struct Want {
        const char *path;
        std::vector<std::string> min, max, nulls;
    };
    const std::vector<Want> want = {
        {"n", {"0", "1000", "2000"}, {"999", "1999", "2999"}, {"0", "0", "0"}},
        {"u",
         {"0", "9223372036854775808", "5"},
         {"999", "9223372036854776807", "18446744073709551615"},
         {"0", "0", "0"}},
        // zeros as bounds: a min of 0 is written as -0.0 and a max as +0.0, whatever the sign seen
        {"f", {"-499.5", "-0.0", "-0.0"}, {"0.0", "249.75", "0.0"}, {"0", "0", "0"}},
        {"s", {"k1", "k1001", "k2001"}, {"k999", "été", "k2999"}, {"100", "100", "100"}},
        {"none", {"null", "null", "null"}, {"null", "null", "null"}, {"1000", "1000", "1000"}},
        {"dec",
         {"-9.99", "10000.00", "20000.00"},
         {"0.00", "19990.00", "29990.00"},
         {"0", "0", "0"}},
    };
    for (const Want &w : want) {
        INFO("column " << w.path);
        auto m = DuckMeta(duck, w.path);
        REQUIRE(m.size() == 3);
        for (size_t g = 0; g < 3; ++g) {
            INFO("row group " << g);
            CHECK(Str(m[g]["row_group_num_rows"]) == "1000");
            CHECK(Str(m[g]["stats_min_value"]) == w.min[g]);
            CHECK(Str(m[g]["stats_max_value"]) == w.max[g]);
            CHECK(Str(m[g]["stats_null_count"]) == w.nulls[g]);
            CHECK(Str(m[g]["compression"]) == "GZIP");
        }
    }

    Json hyp = Hyp(file, {"--no-rows"});
    REQUIRE(hyp.root["metadata"]["row_groups"].get_array().size() == 3);
    for (size_t g = 0; g < 3; ++g)
        CHECK(Str(hyp.root["metadata"]["row_groups"].at(g)["num_rows"]) == "1000");
    CHECK(Str(hyp.root["metadata"]["num_rows"]) == "3000");
    CHECK(
        Min(HypChunk(hyp, 1, "u")["statistics"]) ==
        R"({"null_count":"0","min_value":"9223372036854775808","max_value":"9223372036854776807"})");
    CHECK(Min(HypChunk(hyp, 1, "none")["statistics"]) ==
          R"({"null_count":"1000","min_value":null,"max_value":null})");
    // Small pages: more than one data page per chunk.
    CHECK(EncodingStats(HypChunk(hyp, 0, "n"))["DATA_PAGE/PLAIN"] > 1);

    // A filter on a bound skips row groups without changing the answer.
    Json filtered = Duck(file, {"--sql", "SELECT count(*), min(n) FROM t WHERE n >= 2500"});
    CHECK(Min(filtered.root["rows"]) == R"([["500","2500"]])");
    Json rows = Hyp(file, {"--max-rows", "3"});
    CHECK(Min(rows.root["rows"].at(0)) ==
          R"({"n":"0","u":"0","f":0,"s":null,"none":null,"dec":0})");
}

TEST_CASE("long byte-array bounds are truncated to 64 bytes and marked inexact") {
    TempDir dir("cdcctl-pqw-");
    std::string file = dir.File("long.parquet");
    const std::string lo(100, 'a');
    const std::string hi = "zz" + std::string(70, 'y');
    std::string accents = "x";
    for (int i = 0; i < 40; ++i) accents += "\xc3\xa9";
    {
        FileOutput out(file);
        SchemaNode root =
            SchemaNode::Group("m", Repetition::kRequired,
                              {
                                  SchemaNode::Leaf("s", Repetition::kRequired,
                                                   PhysicalType::kByteArray, LogicalType::String()),
                                  SchemaNode::Leaf("t", Repetition::kRequired,
                                                   PhysicalType::kByteArray, LogicalType::String()),
                              });
        pq::FileWriter w(out, root, pq::WriterOptions{});
        w.column(0).WriteBytes(lo);
        w.column(1).WriteBytes(accents);
        w.AddRows(1);
        w.column(0).WriteBytes(hi);
        w.column(1).WriteBytes("y");
        w.AddRows(1);
        w.Close();
        out.Close();
    }
    Json duck =
        Duck(file, {"--metadata", "--sql", "SELECT count(*) FROM t WHERE s = '" + hi + "'"});
    CHECK(Min(duck.root["rows"]) == R"([["1"]])");  // the truncated max still admits the value
    auto s = DuckMeta(duck, "s")[0];
    CHECK(Str(s["stats_min_value"]) == std::string(64, 'a'));
    CHECK(Str(s["stats_max_value"]) == "zz" + std::string(61, 'y') + "z");
    CHECK(Str(s["min_is_exact"]) == "false");
    CHECK(Str(s["max_is_exact"]) == "false");
    auto t = DuckMeta(duck, "t")[0];
    std::string cut = "x";
    for (int i = 0; i < 31; ++i) cut += "\xc3\xa9";  // 63 bytes: never half a character
    CHECK(Str(t["stats_min_value"]) == cut);
    CHECK(Str(t["stats_max_value"]) == "y");
    CHECK(Str(t["min_is_exact"]) == "false");
    CHECK(Str(t["max_is_exact"]) == "true");
    Json hyp = Hyp(file);
    CHECK(Str(HypChunk(hyp, 0, "t")["statistics"]["min_value"]) == cut);
    CHECK(Min(hyp.root["rows"].at(0)["s"]) == "\"" + lo + "\"");
}

TEST_CASE("lists over many small pages and several row groups keep every row whole") {
    TempDir dir("cdcctl-pqw-");
    std::string file = dir.File("lists.parquet");
    const int kRows = 3000;
    // row i: a list of (i % 5) elements i*10 + k, with every 7th element null; every 11th row a
    // null list. Row groups of 1000 rows; pages of ~64 bytes.
    auto expected = [](int i) -> std::string {
        if (i % 11 == 0) return "null";
        std::string s = "[";
        for (int k = 0; k < i % 5; ++k) {
            if (k) s += ",";
            s += (i + k) % 7 == 0 ? "null" : std::to_string(i * 10 + k);
        }
        return s + "]";
    };
    {
        FileOutput out(file);
        pq::WriterOptions o;
        o.codec = pq::Codec::kZstd;
        o.data_page_bytes = 64;
        SchemaNode root = SchemaNode::Group(
            "m", Repetition::kRequired,
            {
                SchemaNode::Leaf("id", Repetition::kRequired, PhysicalType::kInt32),
                SchemaNode::List(
                    "l", Repetition::kOptional,
                    SchemaNode::Leaf("x", Repetition::kOptional, PhysicalType::kInt32)),
            });
        pq::FileWriter w(out, root, o);
        auto &l = w.column(1);
        for (int i = 0; i < kRows; ++i) {
            w.column(0).WriteInt32(i);
            if (i % 11 == 0) {
                l.WriteNull(0);
            } else if (i % 5 == 0) {
                l.WriteNull(1);  // empty list
            } else {
                for (int k = 0; k < i % 5; ++k) {
                    int16_t rep = k == 0 ? 0 : 1;
                    if ((i + k) % 7 == 0) {
                        l.WriteNull(2, rep);
                    } else {
                        l.WriteInt32(i * 10 + k, rep);
                    }
                }
            }
            w.AddRows(1);
            if (w.buffered_rows() == 1000) w.FlushRowGroup();
        }
        w.Close();
        out.Close();
    }
    Json duck = Duck(file, {"--metadata", "--sql", "SELECT id, l FROM t ORDER BY id"});
    auto rows = DuckRows(duck);
    REQUIRE(rows.size() == kRows);
    Json hyp = Hyp(file);
    auto hrows = HypRows(hyp);
    REQUIRE(hrows.size() == kRows);
    int bad = 0;
    for (int i = 0; i < kRows; ++i) {
        if (rows[i][1] != expected(i) || hrows[i]["l"] != expected(i) ||
            hrows[i]["id"] != std::to_string(i)) {
            if (++bad < 5)
                FAIL_CHECK("row " << i << ": DuckDB " << rows[i][1] << ", hyparquet "
                                  << hrows[i]["l"] << ", expected " << expected(i));
        }
    }
    CHECK(bad == 0);
    CHECK(hyp.root["metadata"]["row_groups"].get_array().size() == 3);
    auto pages = EncodingStats(HypChunk(hyp, 0, "l.list.element"));
    CHECK(pages["DATA_PAGE/PLAIN"] + pages["DATA_PAGE/RLE_DICTIONARY"] > 10);
}
