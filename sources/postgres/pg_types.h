// PostgreSQL column types -> Debezium schemas, and PostgreSQL's TEXT output -> Values.
//
// Every value cdcctl reads from PostgreSQL (COPY text during the snapshot, pgoutput 't' tuple
// columns while streaming) is in the type's text output format under the session settings the
// source always sets: TimeZone=UTC, DateStyle=ISO, IntervalStyle=postgres, extra_float_digits=3,
// bytea_output=hex. The formats read here:
//   bool         t | f
//   int2/4/8,oid decimal integer
//   float4/8     shortest round-trip decimal, NaN, Infinity, -Infinity
//   numeric      [-]digits[.digits], NaN, Infinity, -Infinity (never an exponent)
//   date         YYYY-MM-DD[ BC] (years may have more than four digits), infinity, -infinity
//   time         HH:MM:SS[.ffffff] (24:00:00 allowed)
//   timetz       HH:MM:SS[.ffffff]+HH[:MM[:SS]]
//   timestamp    YYYY-MM-DD HH:MM:SS[.ffffff][ BC], infinity, -infinity
//   timestamptz  as timestamp with +HH[:MM[:SS]] before the optional " BC"
//   interval     [N year[s]] [N mon[s]] [N day[s]] [[+|-]H:MM:SS[.ffffff]], infinity, -infinity
//   bytea        \x followed by hex digit pairs
//   arrays       {a,"b c",NULL,{nested}}, optionally prefixed by dimensions "[0:1]="
//
// Mapping follows Debezium's PostgreSQL connector ("Data type mappings"), with these documented
// choices where Debezium has none or cdcctl differs:
//   - Types cdcctl does not know map to an optional string carrying the text as PostgreSQL
//     printed it (Debezium drops them, or with include.unknown.datatypes sends bytes).
//   - numeric NaN/Infinity cannot be a Kafka Connect Decimal: in precise mode they become null,
//     and MapColumn keeps precise numeric columns optional even when NOT NULL so the schema stays
//     truthful. In double mode they are the doubles NaN/Infinity, in string mode the text.
//   - interval -> MicroDuration counts a month as 30.4375 days (365.25 / 12) like Debezium, but
//     computes in exact integer microseconds where Debezium's floating point can end 1 µs low.
//     PostgreSQL 17's infinite intervals map to INT64_MAX / INT64_MIN.
//   - Legal values beyond int64 microseconds saturate to INT64_MAX / INT64_MIN instead of failing
//     the pipeline: intervals of more than about 292,000 years, and timestamp values after
//     294247-01-10 in MicroTimestamp columns (their milliseconds still fit, so Timestamp and
//     Connect Timestamp columns stay exact). Debezium's Java conversions clamp the same way.
//   - infinity/-infinity: timestamptz gives the strings "infinity"/"-infinity" (Debezium's own
//     behaviour); timestamp gives Debezium's sentinels, PgJDBC's DATE_POSITIVE_INFINITY and
//     DATE_NEGATIVE_INFINITY read as microseconds (9223372036825200000 / -9223372036832400000 µs,
//     divided by 1000 for millisecond schemas); date gives the epoch days Debezium emits,
//     -2147472692 for infinity and -2147472691 for -infinity.
//   - name[] and interval[] are mapped (Debezium leaves those arrays out).
//   - box[] stays text: its elements are separated by ';' and hold commas themselves.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/event/modes.h"
#include "core/event/schema.h"
#include "core/event/value.h"

namespace cdcctl::postgres {

// Builtin type OIDs (pg_type.dat), for the types cdcctl maps specially.
namespace oid {
inline constexpr uint32_t kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21,
                          kInt4 = 23, kText = 25, kOid = 26, kJson = 114, kFloat4 = 700,
                          kFloat8 = 701, kBpchar = 1042, kVarchar = 1043, kDate = 1082,
                          kTime = 1083, kTimestamp = 1114, kTimestamptz = 1184, kInterval = 1186,
                          kTimetz = 1266, kNumeric = 1700, kUuid = 2950, kJsonb = 3802;
inline constexpr uint32_t kBoolArray = 1000, kByteaArray = 1001, kCharArray = 1002,
                          kNameArray = 1003, kInt2Array = 1005, kInt4Array = 1007,
                          kTextArray = 1009, kBpcharArray = 1014, kVarcharArray = 1015,
                          kInt8Array = 1016, kFloat4Array = 1021, kFloat8Array = 1022,
                          kOidArray = 1028, kTimestampArray = 1115, kDateArray = 1182,
                          kTimeArray = 1183, kTimestamptzArray = 1185, kIntervalArray = 1187,
                          kNumericArray = 1231, kTimetzArray = 1270, kUuidArray = 2951,
                          kJsonArray = 199, kJsonbArray = 3807;
}  // namespace oid

// What cdcctl knows about one type.
struct PgTypeInfo {
    enum class Kind : uint8_t { kBase, kEnum, kArray };
    uint32_t oid = 0;
    std::string name;  // pg_type.typname, e.g. "int4", "_text", "mood"
    Kind kind = Kind::kBase;
    std::vector<std::string> enum_labels;  // kEnum: in enumsortorder
    uint32_t element_oid = 0;              // kArray
};

// The builtin types, plus the enum and array types the source looked up in pg_type/pg_enum.
class PgTypeRegistry {
public:
    PgTypeRegistry();  // knows every builtin listed in namespace oid

    void AddEnum(uint32_t type_oid, std::string name, std::vector<std::string> labels);
    void AddArray(uint32_t type_oid, std::string name, uint32_t element_oid);
    // Any other type (a domain, an extension type): mapped as unknown, but named.
    void AddBase(uint32_t type_oid, std::string name);

    // nullptr when the OID is unknown.
    const PgTypeInfo *Find(uint32_t type_oid) const;

private:
    std::unordered_map<uint32_t, PgTypeInfo> types_;
};

// The Debezium schema of a column of type `type_oid` with modifier `typmod` (pg_attribute.atttypmod,
// -1 for none). `not_null` makes the field required, except where a value may still map to null
// (precise numeric, see above). Unknown OIDs map to an optional string.
FieldSchema MapColumn(std::string name, uint32_t type_oid, int32_t typmod, bool not_null,
                      const PgTypeRegistry &types, TimePrecisionMode time_mode,
                      DecimalHandlingMode decimal_mode);

// Converts PostgreSQL's text output of one column into its Debezium Value. Prepared once per
// column from the schema MapColumn produced, then reused for every row: Parse allocates nothing
// beyond growing the Value's own string storage (array items are the exception: each refill
// rebuilds the item list). Not thread-safe: it keeps one scratch buffer for unescaping array
// elements.
class PgTextConverter {
public:
    explicit PgTextConverter(const FieldSchema &field);
    ~PgTextConverter();
    PgTextConverter(PgTextConverter &&) noexcept;
    PgTextConverter &operator=(PgTextConverter &&) noexcept;

    // Throws ProtocolError naming the type and the (truncated) text when it is malformed.
    void Parse(std::string_view text, Value *out) const;

    enum class Kind : uint8_t {
        kText,          // string as is: text, varchar, uuid, json, enum, unknown, numeric string
        kBool,
        kInt16,
        kInt32,
        kInt64,
        kFloat32,
        kFloat64,       // also numeric in double mode
        kDecimal,       // precise numeric with a scale: unscaled two's-complement bytes
        kVariableDecimal,
        kDateDays,
        kTimeMillis,
        kTimeMicros,
        kTimestampMillis,
        kTimestampMicros,
        kZonedTimestamp,
        kZonedTime,
        kIntervalMicros,
        kBytea,
        kArray,
    };
    Kind kind() const { return kind_; }

private:
    void ParseArray(std::string_view text, Value *out) const;
    const char *ParseArrayLevel(const char *p, const char *end, std::string_view whole,
                                Value *out, int depth) const;

    Kind kind_ = Kind::kText;
    int32_t scale_ = 0;         // kDecimal
    std::string type_name_;     // for error messages
    std::unique_ptr<PgTextConverter> element_;  // kArray
    mutable std::string scratch_;               // kArray: an unescaped quoted element
};

// Convenience for cold paths and tests: prepares a converter for `field` and parses `text`.
void ParseText(const FieldSchema &field, std::string_view text, Value *out);

}  // namespace cdcctl::postgres
