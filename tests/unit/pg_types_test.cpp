// PostgreSQL types -> Debezium schemas, and PostgreSQL's text output -> Values.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "core/event/temporal.h"
#include "sources/postgres/pg_types.h"

using namespace cdcctl;
using namespace cdcctl::postgres;

namespace {

constexpr int32_t kNoTypmod = -1;

// numeric(precision, scale) as pg_attribute.atttypmod stores it.
int32_t NumericTypmod(int precision, int scale) { return ((precision << 16) | (scale & 0x7FF)) + 4; }

FieldSchema Map(uint32_t type_oid, int32_t typmod = kNoTypmod,
                TimePrecisionMode time_mode = TimePrecisionMode::kAdaptive,
                DecimalHandlingMode decimal_mode = DecimalHandlingMode::kPrecise, bool not_null = false) {
    static const PgTypeRegistry types;
    return MapColumn("c", type_oid, typmod, not_null, types, time_mode, decimal_mode);
}

Value Parse(const FieldSchema &field, std::string_view text) {
    Value v;
    ParseText(field, text, &v);
    return v;
}

std::string Hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : bytes) {
        s.push_back(kDigits[c >> 4]);
        s.push_back(kDigits[c & 15]);
    }
    return s;
}

std::string ErrorOf(const FieldSchema &field, std::string_view text) {
    try {
        Parse(field, text);
    } catch (const ProtocolError &e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Schema mapping

TEST_CASE("integer, float, boolean and text types map to the plain Kafka Connect types") {
    CHECK(Map(oid::kBool).type == FieldType::kBoolean);
    CHECK(Map(oid::kInt2).type == FieldType::kInt16);
    CHECK(Map(oid::kInt4).type == FieldType::kInt32);
    CHECK(Map(oid::kInt8).type == FieldType::kInt64);
    CHECK(Map(oid::kOid).type == FieldType::kInt64);
    CHECK(Map(oid::kFloat4).type == FieldType::kFloat32);
    CHECK(Map(oid::kFloat8).type == FieldType::kFloat64);
    CHECK(Map(oid::kBytea).type == FieldType::kBytes);
    for (uint32_t text_oid : {oid::kText, oid::kVarchar, oid::kBpchar, oid::kName, oid::kChar}) {
        FieldSchema f = Map(text_oid);
        CHECK(f.type == FieldType::kString);
        CHECK(f.semantic.empty());
        CHECK(f.version == 0);
    }
}

TEST_CASE("a NOT NULL column is required and a nullable one optional") {
    CHECK_FALSE(Map(oid::kInt4, kNoTypmod, TimePrecisionMode::kAdaptive, DecimalHandlingMode::kPrecise, true).optional);
    CHECK(Map(oid::kInt4).optional);
}

TEST_CASE("MapColumn records the column name and the source type") {
    FieldSchema f = Map(oid::kVarchar, 20);
    CHECK(f.name == "c");
    CHECK(f.source_type == "varchar");
    CHECK(f.source_type_oid == oid::kVarchar);
    CHECK(f.type_modifier == 20);
}

TEST_CASE("uuid, json and jsonb are strings with Debezium's semantic names") {
    FieldSchema uuid = Map(oid::kUuid);
    CHECK(uuid.type == FieldType::kString);
    CHECK(uuid.semantic == "io.debezium.data.Uuid");
    CHECK(uuid.version == 1);
    CHECK(Map(oid::kJson).semantic == "io.debezium.data.Json");
    CHECK(Map(oid::kJsonb).semantic == "io.debezium.data.Json");
}

TEST_CASE("an enum maps to io.debezium.data.Enum with its labels in the allowed parameter") {
    PgTypeRegistry types;
    types.AddEnum(16390, "mood", {"sad", "ok", "happy"});
    FieldSchema f = MapColumn("m", 16390, kNoTypmod, false, types, TimePrecisionMode::kAdaptive,
                              DecimalHandlingMode::kPrecise);
    CHECK(f.type == FieldType::kString);
    CHECK(f.semantic == "io.debezium.data.Enum");
    CHECK(f.version == 1);
    REQUIRE(f.Parameter("allowed") != nullptr);
    CHECK(*f.Parameter("allowed") == "sad,ok,happy");
    CHECK(f.source_type == "mood");
}

TEST_CASE("an array of a registered enum is an array of optional Enum items") {
    PgTypeRegistry types;
    types.AddEnum(16390, "mood", {"sad", "happy"});
    types.AddArray(16389, "_mood", 16390);
    FieldSchema f = MapColumn("m", 16389, kNoTypmod, true, types, TimePrecisionMode::kAdaptive,
                              DecimalHandlingMode::kPrecise);
    CHECK(f.type == FieldType::kArray);
    CHECK_FALSE(f.optional);
    REQUIRE(f.fields.size() == 1);
    CHECK(f.fields[0].semantic == "io.debezium.data.Enum");
    CHECK(f.fields[0].optional);
    CHECK(*f.fields[0].Parameter("allowed") == "sad,happy");
}

TEST_CASE("builtin array types map to arrays of their element schema") {
    FieldSchema ints = Map(oid::kInt4Array);
    CHECK(ints.type == FieldType::kArray);
    REQUIRE(ints.fields.size() == 1);
    CHECK(ints.fields[0].type == FieldType::kInt32);
    CHECK(ints.fields[0].optional);
    FieldSchema stamps = Map(oid::kTimestampArray, 3);
    CHECK(stamps.fields[0].semantic == "io.debezium.time.Timestamp");
}

TEST_CASE("box[], whose elements are separated by ';', stays PostgreSQL's text") {
    PgTypeRegistry types;
    types.AddBase(603, "box");
    types.AddArray(1020, "_box", 603);
    FieldSchema f = MapColumn("c", 1020, kNoTypmod, false, types, TimePrecisionMode::kAdaptive,
                              DecimalHandlingMode::kPrecise);
    CHECK(f.type == FieldType::kString);
    CHECK(f.source_type == "_box");
    CHECK(Parse(f, "{(1,1),(0,0);(2,2),(1,1)}") == Value::String("{(1,1),(0,0);(2,2),(1,1)}"));
}

TEST_CASE("an unknown type maps to an optional string") {
    FieldSchema f = Map(99999);
    CHECK(f.type == FieldType::kString);
    CHECK(f.semantic.empty());
    CHECK(f.optional);
}

TEST_CASE("numeric(p,s) in precise mode is a Kafka Connect Decimal with scale and precision") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(10, 2));
    CHECK(f.type == FieldType::kBytes);
    CHECK(f.semantic == "org.apache.kafka.connect.data.Decimal");
    CHECK(f.version == 1);
    REQUIRE(f.parameters.size() == 2);
    CHECK(f.parameters[0] == std::pair<std::string, std::string>{"scale", "2"});
    CHECK(f.parameters[1] == std::pair<std::string, std::string>{"connect.decimal.precision", "10"});
}

TEST_CASE("a NOT NULL precise numeric stays optional because NaN maps to null") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(10, 2), TimePrecisionMode::kAdaptive,
                        DecimalHandlingMode::kPrecise, true);
    CHECK(f.optional);
}

TEST_CASE("numeric without a typmod in precise mode is a VariableScaleDecimal struct") {
    FieldSchema f = Map(oid::kNumeric);
    CHECK(f.type == FieldType::kStruct);
    CHECK(f.semantic == "io.debezium.data.VariableScaleDecimal");
    CHECK(f.version == 1);
    REQUIRE(f.fields.size() == 2);
    CHECK(f.fields[0].name == "scale");
    CHECK(f.fields[0].type == FieldType::kInt32);
    CHECK_FALSE(f.fields[0].optional);
    CHECK(f.fields[1].name == "value");
    CHECK(f.fields[1].type == FieldType::kBytes);
    CHECK_FALSE(f.fields[1].optional);
}

TEST_CASE("numeric in double and string modes maps to double and string") {
    CHECK(Map(oid::kNumeric, NumericTypmod(10, 2), TimePrecisionMode::kAdaptive, DecimalHandlingMode::kDouble).type ==
          FieldType::kFloat64);
    FieldSchema s = Map(oid::kNumeric, kNoTypmod, TimePrecisionMode::kAdaptive, DecimalHandlingMode::kString);
    CHECK(s.type == FieldType::kString);
    CHECK(s.semantic.empty());
}

TEST_CASE("a negative numeric scale from the typmod is kept") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(5, -3));
    CHECK(*f.Parameter("scale") == "-3");
    CHECK(*f.Parameter("connect.decimal.precision") == "5");
}

TEST_CASE("date maps to io.debezium.time.Date, or Connect's Date in connect mode") {
    FieldSchema adaptive = Map(oid::kDate);
    CHECK(adaptive.type == FieldType::kInt32);
    CHECK(adaptive.semantic == "io.debezium.time.Date");
    CHECK(Map(oid::kDate, kNoTypmod, TimePrecisionMode::kConnect).semantic == "org.apache.kafka.connect.data.Date");
}

TEST_CASE("adaptive time: precision up to 3 is Time in ms, above is MicroTime") {
    FieldSchema ms = Map(oid::kTime, 3);
    CHECK(ms.type == FieldType::kInt32);
    CHECK(ms.semantic == "io.debezium.time.Time");
    FieldSchema us = Map(oid::kTime, 4);
    CHECK(us.type == FieldType::kInt64);
    CHECK(us.semantic == "io.debezium.time.MicroTime");
    CHECK(Map(oid::kTime).semantic == "io.debezium.time.MicroTime");
}

TEST_CASE("adaptive_time_microseconds maps every time to MicroTime") {
    FieldSchema f = Map(oid::kTime, 0, TimePrecisionMode::kAdaptiveTimeMicroseconds);
    CHECK(f.type == FieldType::kInt64);
    CHECK(f.semantic == "io.debezium.time.MicroTime");
}

TEST_CASE("connect mode maps time to Connect's Time in ms") {
    FieldSchema f = Map(oid::kTime, 6, TimePrecisionMode::kConnect);
    CHECK(f.type == FieldType::kInt32);
    CHECK(f.semantic == "org.apache.kafka.connect.data.Time");
}

TEST_CASE("timestamp precision chooses Timestamp or MicroTimestamp; connect mode uses Connect's Timestamp") {
    CHECK(Map(oid::kTimestamp, 3).semantic == "io.debezium.time.Timestamp");
    CHECK(Map(oid::kTimestamp, 6).semantic == "io.debezium.time.MicroTimestamp");
    CHECK(Map(oid::kTimestamp).semantic == "io.debezium.time.MicroTimestamp");
    CHECK(Map(oid::kTimestamp, 3, TimePrecisionMode::kAdaptiveTimeMicroseconds).semantic == "io.debezium.time.Timestamp");
    FieldSchema connect = Map(oid::kTimestamp, 6, TimePrecisionMode::kConnect);
    CHECK(connect.type == FieldType::kInt64);
    CHECK(connect.semantic == "org.apache.kafka.connect.data.Timestamp");
}

TEST_CASE("timestamptz, timetz and interval map to ZonedTimestamp, ZonedTime and MicroDuration") {
    CHECK(Map(oid::kTimestamptz).type == FieldType::kString);
    CHECK(Map(oid::kTimestamptz).semantic == "io.debezium.time.ZonedTimestamp");
    CHECK(Map(oid::kTimetz).semantic == "io.debezium.time.ZonedTime");
    FieldSchema interval = Map(oid::kInterval);
    CHECK(interval.type == FieldType::kInt64);
    CHECK(interval.semantic == "io.debezium.time.MicroDuration");
}

// ---------------------------------------------------------------------------------------------
// Text parsing: scalars

TEST_CASE("booleans are read from t and f") {
    CHECK(Parse(Map(oid::kBool), "t") == Value::Bool(true));
    CHECK(Parse(Map(oid::kBool), "f") == Value::Bool(false));
}

TEST_CASE("a malformed value names the type and the value") {
    CHECK(ErrorOf(Map(oid::kBool), "yes") == "cannot read PostgreSQL bool value 'yes': expected 't' or 'f'");
}

TEST_CASE("long malformed values are truncated in the error message") {
    std::string text(200, 'x');
    std::string msg = ErrorOf(Map(oid::kInt4), text);
    CHECK(msg == "cannot read PostgreSQL int4 value '" + std::string(64, 'x') + "...': not an integer");
}

TEST_CASE("integers are range-checked against their column type") {
    CHECK(Parse(Map(oid::kInt2), "-32768") == Value::Int(-32768));
    CHECK(ErrorOf(Map(oid::kInt2), "32768") == "cannot read PostgreSQL int2 value '32768': out of range for int16");
    CHECK(Parse(Map(oid::kInt8), "-9223372036854775808") == Value::Int(INT64_MIN));
    CHECK(ErrorOf(Map(oid::kInt4), "12a") == "cannot read PostgreSQL int4 value '12a': not an integer");
    CHECK(ErrorOf(Map(oid::kInt4), "") == "cannot read PostgreSQL int4 value '': not an integer");
}

TEST_CASE("floats read NaN, Infinity and -Infinity") {
    CHECK(std::isnan(Parse(Map(oid::kFloat8), "NaN").as_double()));
    CHECK(Parse(Map(oid::kFloat8), "Infinity").as_double() == INFINITY);
    CHECK(Parse(Map(oid::kFloat8), "-Infinity").as_double() == -INFINITY);
    CHECK(Parse(Map(oid::kFloat8), "1.5e-07").as_double() == 1.5e-07);
}

TEST_CASE("float4 text is read as the float PostgreSQL stored") {
    CHECK(Parse(Map(oid::kFloat4), "1.1").as_double() == static_cast<double>(1.1f));
}

TEST_CASE("uuid, json and text values pass through as strings") {
    CHECK(Parse(Map(oid::kUuid), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") ==
          Value::String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    CHECK(Parse(Map(oid::kJsonb), R"({"a": [1, 2]})") == Value::String(R"({"a": [1, 2]})"));
}

TEST_CASE("bytea hex output becomes raw bytes") {
    CHECK(Parse(Map(oid::kBytea), "\\x0102ff") == Value::Bytes(std::string("\x01\x02\xff", 3)));
    CHECK(Parse(Map(oid::kBytea), "\\x") == Value::Bytes(""));
    CHECK(Parse(Map(oid::kBytea), "\\xABcd") == Value::Bytes("\xab\xcd"));
}

TEST_CASE("malformed bytea is rejected") {
    CHECK(ErrorOf(Map(oid::kBytea), "\\x0") ==
          "cannot read PostgreSQL bytea value '\\x0': expected \\x followed by pairs of hex digits (bytea_output=hex)");
    CHECK(ErrorOf(Map(oid::kBytea), "\\xzz") == "cannot read PostgreSQL bytea value '\\xzz': not a hex digit");
}

// ---------------------------------------------------------------------------------------------
// Numeric

TEST_CASE("a precise decimal is its unscaled value in big-endian two's complement") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(10, 2));
    CHECK(Hex(Parse(f, "12.34").as_string()) == "04d2");
    CHECK(Hex(Parse(f, "-12.34").as_string()) == "fb2e");
    CHECK(Parse(f, "12.34").kind() == Value::Kind::kBytes);
}

TEST_CASE("decimal bytes are minimal: a sign byte only when the top bit needs it") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(10, 0));
    CHECK(Hex(Parse(f, "128").as_string()) == "0080");
    CHECK(Hex(Parse(f, "-128").as_string()) == "80");
    CHECK(Hex(Parse(f, "-129").as_string()) == "ff7f");
    CHECK(Hex(Parse(f, "0").as_string()) == "00");
    CHECK(Hex(Parse(f, "-0").as_string()) == "00");
}

TEST_CASE("decimals wider than 64 bits convert exactly") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(40, 0));
    CHECK(Hex(Parse(f, "123456789012345678901234567890").as_string()) == "018ee90ff6c373e0ee4e3f0ad2");
    CHECK(Hex(Parse(f, "-123456789012345678901234567890").as_string()) == "fe7116f0093c8c1f11b1c0f52e");
}

TEST_CASE("a decimal with fewer fractional digits than the scale is padded") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(10, 2));
    CHECK(Hex(Parse(f, "0.5").as_string()) == "32");
    CHECK(Hex(Parse(f, "12").as_string()) == "04b0");
}

TEST_CASE("a decimal with more significant fractional digits than the scale is rejected") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(10, 2));
    CHECK(Hex(Parse(f, "1.500").as_string()) == "0096");
    CHECK(ErrorOf(f, "1.234") ==
          "cannot read PostgreSQL numeric value '1.234': more fractional digits than the column's scale");
}

TEST_CASE("a negative scale drops the trailing zeros it implies") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(5, -3));
    CHECK(Hex(Parse(f, "12000").as_string()) == "0c");
    CHECK(ErrorOf(f, "12345") ==
          "cannot read PostgreSQL numeric value '12345': not a multiple of the column's negative scale");
}

TEST_CASE("NaN and infinite numerics are null in precise mode") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(10, 2));
    CHECK(Parse(f, "NaN").is_null());
    CHECK(Parse(f, "Infinity").is_null());
    CHECK(Parse(Map(oid::kNumeric), "-Infinity").is_null());
}

TEST_CASE("a variable-scale decimal strips trailing zeros into scale and value") {
    FieldSchema f = Map(oid::kNumeric);
    Value v = Parse(f, "12.3400");
    REQUIRE(v.kind() == Value::Kind::kStruct);
    REQUIRE(v.items().size() == 2);
    CHECK(v.items()[0] == Value::Int(2));
    CHECK(Hex(v.items()[1].as_string()) == "04d2");
    Value whole = Parse(f, "1200");
    CHECK(whole.items()[0] == Value::Int(0));
    CHECK(Hex(whole.items()[1].as_string()) == "04b0");
    Value zero = Parse(f, "0.000");
    CHECK(zero.items()[0] == Value::Int(0));
    CHECK(Hex(zero.items()[1].as_string()) == "00");
}

TEST_CASE("numeric in double mode reads numbers and the special values") {
    FieldSchema f = Map(oid::kNumeric, kNoTypmod, TimePrecisionMode::kAdaptive, DecimalHandlingMode::kDouble);
    CHECK(Parse(f, "12.34") == Value::Double(12.34));
    CHECK(std::isnan(Parse(f, "NaN").as_double()));
}

TEST_CASE("numeric in string mode keeps PostgreSQL's text") {
    FieldSchema f = Map(oid::kNumeric, kNoTypmod, TimePrecisionMode::kAdaptive, DecimalHandlingMode::kString);
    CHECK(Parse(f, "12.3400") == Value::String("12.3400"));
    CHECK(Parse(f, "NaN") == Value::String("NaN"));
}

TEST_CASE("malformed numerics are rejected") {
    FieldSchema f = Map(oid::kNumeric, NumericTypmod(10, 2));
    CHECK(ErrorOf(f, "1e5") == "cannot read PostgreSQL numeric value '1e5': not a decimal number");
    CHECK(ErrorOf(f, "-") == "cannot read PostgreSQL numeric value '-': not a decimal number");
    CHECK(ErrorOf(f, "1.2.3") == "cannot read PostgreSQL numeric value '1.2.3': not a decimal number");
}

// ---------------------------------------------------------------------------------------------
// Dates and times

TEST_CASE("dates are days since the epoch") {
    FieldSchema f = Map(oid::kDate);
    CHECK(Parse(f, "1970-01-01") == Value::Int(0));
    CHECK(Parse(f, "2024-03-01") == Value::Int(19783));
    CHECK(Parse(f, "1969-12-31") == Value::Int(-1));
    CHECK(Parse(f, "0001-01-01") == Value::Int(-719162));
}

TEST_CASE("BC dates count year 1 BC as year 0") {
    FieldSchema f = Map(oid::kDate);
    CHECK(Parse(f, "0001-12-31 BC") == Value::Int(-719163));
    CHECK(Parse(f, "0001-01-01 BC") == Value::Int(-719163 - 365));  // year 0 is a leap year
}

TEST_CASE("dates beyond year 9999 are read") {
    CHECK(Parse(Map(oid::kDate), "10000-01-01") == Value::Int(2932897));
}

TEST_CASE("infinite dates map to Debezium's sentinel epoch days") {
    CHECK(Parse(Map(oid::kDate), "infinity") == Value::Int(-2147472692));
    CHECK(Parse(Map(oid::kDate), "-infinity") == Value::Int(-2147472691));
}

TEST_CASE("impossible dates are rejected") {
    FieldSchema f = Map(oid::kDate);
    CHECK(ErrorOf(f, "2023-02-29") == "cannot read PostgreSQL date value '2023-02-29': expected YYYY-MM-DD[ BC]");
    CHECK(ErrorOf(f, "2024-13-01") == "cannot read PostgreSQL date value '2024-13-01': expected YYYY-MM-DD[ BC]");
    CHECK(ErrorOf(f, "2024-1-01") == "cannot read PostgreSQL date value '2024-1-01': expected YYYY-MM-DD[ BC]");
}

TEST_CASE("times are microseconds of the day, or truncated milliseconds for Time") {
    CHECK(Parse(Map(oid::kTime), "10:15:30.123456") == Value::Int(36930123456));
    CHECK(Parse(Map(oid::kTime), "10:15:30.5") == Value::Int(36930500000));
    CHECK(Parse(Map(oid::kTime, 3), "10:15:30.123") == Value::Int(36930123));
    CHECK(Parse(Map(oid::kTime, 6, TimePrecisionMode::kConnect), "10:15:30.123999") == Value::Int(36930123));
}

TEST_CASE("24:00:00 is the end of the day") {
    CHECK(Parse(Map(oid::kTime), "24:00:00") == Value::Int(86400000000));
    CHECK(ErrorOf(Map(oid::kTime), "24:00:01") == "cannot read PostgreSQL time value '24:00:01': expected HH:MM:SS[.ffffff]");
}

TEST_CASE("timestamps are a UTC wall clock in micro- or milliseconds") {
    CHECK(Parse(Map(oid::kTimestamp), "2024-03-01 10:15:30.123456") == Value::Int(1709288130123456));
    CHECK(Parse(Map(oid::kTimestamp, 3), "2024-03-01 10:15:30.123") == Value::Int(1709288130123));
}

TEST_CASE("millisecond timestamps before the epoch round down") {
    CHECK(Parse(Map(oid::kTimestamp, 3), "1969-12-31 23:59:59.9995") == Value::Int(-1));
}

TEST_CASE("timestamps beyond year 9999 and BC timestamps are read") {
    FieldSchema f = Map(oid::kTimestamp);
    CHECK(Parse(f, "10000-01-01 00:00:00") == Value::Int(int64_t{2932897} * 86400000000));
    CHECK(Parse(f, "0001-12-31 23:59:59 BC") == Value::Int(int64_t{-719162} * 86400000000 - 1000000));
}

TEST_CASE("PostgreSQL's last timestamp is exact in milliseconds and saturates in microseconds") {
    CHECK(Parse(Map(oid::kTimestamp, 3), "294276-12-31 23:59:59.999") == Value::Int(9224318015999999LL));
    CHECK(Parse(Map(oid::kTimestamp, 0, TimePrecisionMode::kConnect), "294276-12-31 23:59:59") ==
          Value::Int(9224318015999000LL));
    CHECK(Parse(Map(oid::kTimestamp, 6), "294276-12-31 23:59:59.999999") == Value::Int(INT64_MAX));
    CHECK(Parse(Map(oid::kTimestamp, 6), "294247-01-10 04:00:54.775807") == Value::Int(INT64_MAX));
    CHECK(Parse(Map(oid::kTimestamp, 6), "294247-01-10 04:00:54.775806") == Value::Int(INT64_MAX - 1));
}

TEST_CASE("PostgreSQL's first timestamp is exact") {
    CHECK(Parse(Map(oid::kTimestamp, 6), "4714-11-24 00:00:00 BC") == Value::Int(-210866803200000000LL));
}

TEST_CASE("infinite timestamps map to Debezium's sentinels") {
    CHECK(Parse(Map(oid::kTimestamp), "infinity") == Value::Int(9223372036825200000LL));
    CHECK(Parse(Map(oid::kTimestamp), "-infinity") == Value::Int(-9223372036832400000LL));
    CHECK(Parse(Map(oid::kTimestamp, 3), "infinity") == Value::Int(9223372036825200LL));
}

TEST_CASE("a timestamp without its time is rejected") {
    CHECK(ErrorOf(Map(oid::kTimestamp), "2024-03-01") ==
          "cannot read PostgreSQL timestamp value '2024-03-01': expected YYYY-MM-DD HH:MM:SS[.ffffff][ BC]");
}

TEST_CASE("timestamptz becomes an ISO-8601 string in UTC keeping the printed fraction") {
    FieldSchema f = Map(oid::kTimestamptz);
    CHECK(Parse(f, "2024-03-01 10:15:30.123+00") == Value::String("2024-03-01T10:15:30.123Z"));
    CHECK(Parse(f, "2024-03-01 10:15:30.123456+00") == Value::String("2024-03-01T10:15:30.123456Z"));
    CHECK(Parse(f, "2024-03-01 10:15:30+00") == Value::String("2024-03-01T10:15:30Z"));
}

TEST_CASE("timestamptz offsets are normalised to UTC across day boundaries") {
    FieldSchema f = Map(oid::kTimestamptz);
    CHECK(Parse(f, "2024-03-01 10:15:30+05:30") == Value::String("2024-03-01T04:45:30Z"));
    CHECK(Parse(f, "2024-03-01 02:00:00+05") == Value::String("2024-02-29T21:00:00Z"));
    CHECK(Parse(f, "2023-12-31 23:00:00-01:00:30") == Value::String("2024-01-01T00:00:30Z"));
}

TEST_CASE("timestamptz years follow java.time: + beyond 9999, - before year 0") {
    FieldSchema f = Map(oid::kTimestamptz);
    CHECK(Parse(f, "10000-01-01 00:00:00+00") == Value::String("+10000-01-01T00:00:00Z"));
    CHECK(Parse(f, "0001-06-01 00:00:00+00 BC") == Value::String("0000-06-01T00:00:00Z"));
    CHECK(Parse(f, "0002-06-01 00:00:00+00 BC") == Value::String("-0001-06-01T00:00:00Z"));
}

TEST_CASE("infinite timestamptz values stay the strings infinity and -infinity") {
    CHECK(Parse(Map(oid::kTimestamptz), "infinity") == Value::String("infinity"));
    CHECK(Parse(Map(oid::kTimestamptz), "-infinity") == Value::String("-infinity"));
}

TEST_CASE("a timestamptz without an offset is rejected") {
    CHECK(ErrorOf(Map(oid::kTimestamptz), "2024-03-01 10:15:30") ==
          "cannot read PostgreSQL timestamptz value '2024-03-01 10:15:30': "
          "expected YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM[:SS]][ BC]");
}

TEST_CASE("timetz becomes an ISO time in UTC wrapping around midnight") {
    FieldSchema f = Map(oid::kTimetz);
    CHECK(Parse(f, "10:15:30+02") == Value::String("08:15:30Z"));
    CHECK(Parse(f, "10:15:30.123+00") == Value::String("10:15:30.123Z"));
    CHECK(Parse(f, "23:30:00.5-01") == Value::String("00:30:00.5Z"));
    CHECK(Parse(f, "01:00:00+05:30") == Value::String("19:30:00Z"));
    CHECK(Parse(f, "24:00:00+00") == Value::String("24:00:00Z"));
}

// ---------------------------------------------------------------------------------------------
// Intervals

TEST_CASE("intervals are microseconds with Debezium's 30.4375-day month") {
    FieldSchema f = Map(oid::kInterval);
    CHECK(Parse(f, "1 year 2 mons 3 days 04:05:06.789") == Value::Int(37091106789000));
    CHECK(Parse(f, "1 mon") == Value::Int(2629800000000));
    CHECK(Parse(f, "00:00:00") == Value::Int(0));
    CHECK(Parse(f, "1 day") == Value::Int(86400000000));
}

TEST_CASE("interval fields carry their own signs") {
    FieldSchema f = Map(oid::kInterval);
    CHECK(Parse(f, "-1 days +02:00:00") == Value::Int(-79200000000));
    CHECK(Parse(f, "-1 years -2 mons +3 days -04:05:06") ==
          Value::Int(-14 * 2629800000000 + 3 * 86400000000 - 14706000000));
    CHECK(Parse(f, "-00:00:00.5") == Value::Int(-500000));
    CHECK(Parse(f, "123:00:00") == Value::Int(int64_t{123} * 3600000000));
}

TEST_CASE("malformed intervals are rejected") {
    FieldSchema f = Map(oid::kInterval);
    CHECK(ErrorOf(f, "1 fortnight") == "cannot read PostgreSQL interval value '1 fortnight': unknown interval unit");
    CHECK(ErrorOf(f, "3") == "cannot read PostgreSQL interval value '3': a number without a unit");
    CHECK(ErrorOf(f, "") == "cannot read PostgreSQL interval value '': empty interval");
    CHECK(ErrorOf(f, "1:2:3") == "cannot read PostgreSQL interval value '1:2:3': expected [+|-]H:MM:SS[.ffffff]");
}

TEST_CASE("intervals beyond 64-bit microseconds saturate like Debezium's long cast") {
    FieldSchema f = Map(oid::kInterval);
    CHECK(Parse(f, "178000000 years") == Value::Int(INT64_MAX));
    CHECK(Parse(f, "-178000000 years") == Value::Int(INT64_MIN));
    CHECK(Parse(f, "2147483647 days") == Value::Int(INT64_MAX));
    CHECK(Parse(f, "-2147483648 days -2562047788:00:54.775808") == Value::Int(INT64_MIN));
}

TEST_CASE("PostgreSQL's widest interval time part is exactly INT64_MAX microseconds") {
    CHECK(Parse(Map(oid::kInterval), "2562047788:00:54.775807") == Value::Int(INT64_MAX));
    CHECK(Parse(Map(oid::kInterval), "-2562047788:00:54.775808") == Value::Int(INT64_MIN));
}

// ---------------------------------------------------------------------------------------------
// Arrays

TEST_CASE("an integer array with NULL") {
    Value v = Parse(Map(oid::kInt4Array), "{1,2,NULL}");
    REQUIRE(v.kind() == Value::Kind::kArray);
    REQUIRE(v.items().size() == 3);
    CHECK(v.items()[0] == Value::Int(1));
    CHECK(v.items()[1] == Value::Int(2));
    CHECK(v.items()[2].is_null());
}

TEST_CASE("quoted text array elements are unescaped and a quoted NULL is a string") {
    Value v = Parse(Map(oid::kTextArray), R"({"a b","c\"d","e\\f",NULL,"NULL",plain})");
    REQUIRE(v.items().size() == 6);
    CHECK(v.items()[0] == Value::String("a b"));
    CHECK(v.items()[1] == Value::String("c\"d"));
    CHECK(v.items()[2] == Value::String("e\\f"));
    CHECK(v.items()[3].is_null());
    CHECK(v.items()[4] == Value::String("NULL"));
    CHECK(v.items()[5] == Value::String("plain"));
}

TEST_CASE("multi-dimensional arrays become nested arrays") {
    Value v = Parse(Map(oid::kInt4Array), "{{1,2},{3,4}}");
    REQUIRE(v.items().size() == 2);
    REQUIRE(v.items()[1].kind() == Value::Kind::kArray);
    CHECK(v.items()[1].items()[0] == Value::Int(3));
    CHECK(v.items()[1].items()[1] == Value::Int(4));
}

TEST_CASE("an empty array has no items") {
    Value v = Parse(Map(oid::kTextArray), "{}");
    CHECK(v.kind() == Value::Kind::kArray);
    CHECK(v.items().empty());
}

TEST_CASE("array dimension decorations are skipped") {
    Value v = Parse(Map(oid::kInt4Array), "[0:1]={5,6}");
    REQUIRE(v.items().size() == 2);
    CHECK(v.items()[0] == Value::Int(5));
}

TEST_CASE("array elements are converted with the element type") {
    Value v = Parse(Map(oid::kTimestamptzArray), R"({"2024-03-01 10:15:30+02",NULL})");
    CHECK(v.items()[0] == Value::String("2024-03-01T08:15:30Z"));
    Value n = Parse(Map(oid::kNumericArray, NumericTypmod(5, 1)), "{1.5,NaN}");
    CHECK(Hex(n.items()[0].as_string()) == "0f");
    CHECK(n.items()[1].is_null());
}

TEST_CASE("malformed arrays are rejected") {
    FieldSchema f = Map(oid::kInt4Array);
    CHECK(ErrorOf(f, "{1,2") == "cannot read PostgreSQL _int4 value '{1,2': unterminated array");
    CHECK(ErrorOf(f, "1,2}") == "cannot read PostgreSQL _int4 value '1,2}': an array must start with '{'");
    CHECK(ErrorOf(f, "{1,,2}") == "cannot read PostgreSQL _int4 value '{1,,2}': empty array element");
    CHECK(ErrorOf(f, "{1}x") == "cannot read PostgreSQL _int4 value '{1}x': unexpected characters after the array");
    CHECK(ErrorOf(f, "{1,x}") == "cannot read PostgreSQL int4 value 'x': not an integer");
    CHECK(ErrorOf(Map(oid::kTextArray), R"({"abc)") ==
          R"(cannot read PostgreSQL _text value '{"abc': unterminated quoted array element)");
}

TEST_CASE("arrays nested deeper than PostgreSQL allows are rejected") {
    CHECK(ErrorOf(Map(oid::kInt4Array), "{{{{{{{1}}}}}}}") ==
          "cannot read PostgreSQL _int4 value '{{{{{{{1}}}}}}}': more than 6 array dimensions");
}

// ---------------------------------------------------------------------------------------------
// Converter reuse

TEST_CASE("a converter reused across rows overwrites the previous value") {
    PgTextConverter conv(Map(oid::kNumeric, NumericTypmod(10, 2)));
    Value v;
    conv.Parse("-12.34", &v);
    conv.Parse("NaN", &v);
    CHECK(v.is_null());
    conv.Parse("12.34", &v);
    CHECK(Hex(v.as_string()) == "04d2");
}

TEST_CASE("the civil date helpers round-trip across eras") {
    for (int64_t days : {int64_t{-2147472692}, int64_t{-719528}, int64_t{-1}, int64_t{0}, int64_t{19783},
                         int64_t{2932897}}) {
        int64_t y;
        unsigned m, d;
        CivilFromDays(days, &y, &m, &d);
        CHECK(DaysFromCivil(y, m, d) == days);
    }
    int64_t y;
    unsigned m, d;
    CivilFromDays(-2147472692, &y, &m, &d);
    CHECK(y == -5877611);
    CHECK(m == 6);
    CHECK(d == 21);
}
