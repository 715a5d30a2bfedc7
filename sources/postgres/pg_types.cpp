#include "sources/postgres/pg_types.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/event/decimal.h"
#include "core/event/temporal.h"
#include "core/util/int_math.h"

namespace cdcctl::postgres {

namespace {

// ---------------------------------------------------------------------------------------------
// Registry

struct Builtin {
    uint32_t oid;
    const char *name;
    uint32_t element;  // 0 for a base type
};

constexpr Builtin kBuiltins[] = {
    {oid::kBool, "bool", 0},
    {oid::kBytea, "bytea", 0},
    {oid::kChar, "char", 0},
    {oid::kName, "name", 0},
    {oid::kInt8, "int8", 0},
    {oid::kInt2, "int2", 0},
    {oid::kInt4, "int4", 0},
    {oid::kText, "text", 0},
    {oid::kOid, "oid", 0},
    {oid::kJson, "json", 0},
    {oid::kFloat4, "float4", 0},
    {oid::kFloat8, "float8", 0},
    {oid::kBpchar, "bpchar", 0},
    {oid::kVarchar, "varchar", 0},
    {oid::kDate, "date", 0},
    {oid::kTime, "time", 0},
    {oid::kTimestamp, "timestamp", 0},
    {oid::kTimestamptz, "timestamptz", 0},
    {oid::kInterval, "interval", 0},
    {oid::kTimetz, "timetz", 0},
    {oid::kNumeric, "numeric", 0},
    {oid::kUuid, "uuid", 0},
    {oid::kJsonb, "jsonb", 0},
    {oid::kBoolArray, "_bool", oid::kBool},
    {oid::kByteaArray, "_bytea", oid::kBytea},
    {oid::kCharArray, "_char", oid::kChar},
    {oid::kNameArray, "_name", oid::kName},
    {oid::kInt2Array, "_int2", oid::kInt2},
    {oid::kInt4Array, "_int4", oid::kInt4},
    {oid::kTextArray, "_text", oid::kText},
    {oid::kBpcharArray, "_bpchar", oid::kBpchar},
    {oid::kVarcharArray, "_varchar", oid::kVarchar},
    {oid::kInt8Array, "_int8", oid::kInt8},
    {oid::kFloat4Array, "_float4", oid::kFloat4},
    {oid::kFloat8Array, "_float8", oid::kFloat8},
    {oid::kOidArray, "_oid", oid::kOid},
    {oid::kTimestampArray, "_timestamp", oid::kTimestamp},
    {oid::kDateArray, "_date", oid::kDate},
    {oid::kTimeArray, "_time", oid::kTime},
    {oid::kTimestamptzArray, "_timestamptz", oid::kTimestamptz},
    {oid::kIntervalArray, "_interval", oid::kInterval},
    {oid::kNumericArray, "_numeric", oid::kNumeric},
    {oid::kTimetzArray, "_timetz", oid::kTimetz},
    {oid::kUuidArray, "_uuid", oid::kUuid},
    {oid::kJsonArray, "_json", oid::kJson},
    {oid::kJsonbArray, "_jsonb", oid::kJsonb},
};

// ---------------------------------------------------------------------------------------------
// Errors

[[noreturn]] void Fail(std::string_view type, std::string_view text, std::string_view why) {
    // Long values (a 1 MB json, say) would drown the message; keep the start, which is where a
    // reader looks first, and make control characters visible-safe.
    constexpr size_t kShown = 64;
    std::string shown;
    for (size_t i = 0; i < text.size() && i < kShown; ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        shown.push_back(c < 0x20 || c == 0x7F ? '?' : static_cast<char>(c));
    }
    if (text.size() > kShown) shown += "...";
    std::string msg = "cannot read PostgreSQL ";
    msg += type.empty() ? std::string_view("value") : type;
    msg += " value '";
    msg += shown;
    msg += "': ";
    msg += why;
    throw ProtocolError("postgres", msg);
}

// ---------------------------------------------------------------------------------------------
// Lexing helpers over [p, end)

// Reads between min_digits and max_digits decimal digits.
bool ReadNumber(const char *&p, const char *end, int min_digits, int max_digits, int64_t *v) {
    int64_t n = 0;
    int count = 0;
    while (p < end && IsDecimalDigit(*p) && count < max_digits) {
        n = n * 10 + (*p - '0');
        ++p;
        ++count;
    }
    if (count < min_digits) return false;
    if (p < end && IsDecimalDigit(*p)) return false;  // more digits than allowed
    *v = n;
    return true;
}

bool Consume(const char *&p, const char *end, std::string_view lit) {
    if (static_cast<size_t>(end - p) < lit.size()) return false;
    if (std::string_view(p, lit.size()) != lit) return false;
    p += lit.size();
    return true;
}

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;
// Debezium's month for MicroDuration: 365.25 / 12 = 30.4375 days, exactly 2629800 seconds.
constexpr int64_t kMicrosPerMonth = 2629800 * kMicrosPerSecond;

// Debezium's stand-ins for infinite timestamps: PgJDBC's DATE_POSITIVE_INFINITY and
// DATE_NEGATIVE_INFINITY taken as microseconds since the epoch.
constexpr int64_t kTimestampPlusInfinityMicros = 9223372036825200000LL;
constexpr int64_t kTimestampMinusInfinityMicros = -9223372036832400000LL;

// A parsed date: proleptic Gregorian, year 0 = 1 BC.
struct CivilDate {
    int64_t year = 0;
    unsigned month = 0;
    unsigned day = 0;
};

// A parsed time of day.
struct CivilTime {
    int64_t hour = 0, minute = 0, second = 0;
    int64_t micros = 0;        // fractional part, in microseconds
    std::string_view fraction;  // the fractional digits as printed (no dot), for ISO output
    int64_t Micros() const { return ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond + micros; }
};

// YYYY-MM-DD (the year has four or more digits); the era suffix is read by the caller.
bool ReadDate(const char *&p, const char *end, CivilDate *d) {
    int64_t y, m, day;
    if (!ReadNumber(p, end, 4, 9, &y) || !Consume(p, end, "-")) return false;
    if (!ReadNumber(p, end, 2, 2, &m) || !Consume(p, end, "-")) return false;
    if (!ReadNumber(p, end, 2, 2, &day)) return false;
    if (m < 1 || m > 12 || y == 0) return false;
    d->year = y;
    d->month = static_cast<unsigned>(m);
    d->day = static_cast<unsigned>(day);
    return true;
}

// Checks the day against the month once the era (and so leap-ness) is known.
bool ApplyEra(const char *&p, const char *end, CivilDate *d) {
    if (Consume(p, end, " BC")) d->year = 1 - d->year;
    return d->day >= 1 && d->day <= DaysInMonth(d->year, d->month);
}

// HH:MM:SS[.f{1,6}]; 24:00:00 is allowed (PostgreSQL's end of day).
bool ReadTime(const char *&p, const char *end, CivilTime *t) {
    if (!ReadNumber(p, end, 2, 2, &t->hour) || !Consume(p, end, ":")) return false;
    if (!ReadNumber(p, end, 2, 2, &t->minute) || !Consume(p, end, ":")) return false;
    if (!ReadNumber(p, end, 2, 2, &t->second)) return false;
    t->micros = 0;
    t->fraction = {};
    if (p < end && *p == '.') {
        ++p;
        const char *start = p;
        int64_t f;
        if (!ReadNumber(p, end, 1, 6, &f)) return false;
        t->fraction = std::string_view(start, p - start);
        for (size_t i = t->fraction.size(); i < 6; ++i) f *= 10;
        t->micros = f;
    }
    if (t->minute > 59 || t->second > 59 || t->hour > 24) return false;
    if (t->hour == 24 && (t->minute != 0 || t->second != 0 || t->micros != 0)) return false;
    return true;
}

// HH:MM:SS[.fraction]Z from seconds of the day.
void AppendZonedTime(std::string *out, int64_t secs_of_day, std::string_view fraction) {
    AppendIsoTimeOfDay(out, secs_of_day);
    // PostgreSQL already drops trailing zeros from the fraction, which is what java.time's
    // ISO formatter prints too, so the digits are copied as printed.
    if (!fraction.empty()) {
        out->push_back('.');
        out->append(fraction);
    }
    out->push_back('Z');
}

// ---------------------------------------------------------------------------------------------
// Numeric

bool IsSpecialNumeric(std::string_view text) {
    return text == "NaN" || text == "Infinity" || text == "-Infinity";
}

// ---------------------------------------------------------------------------------------------
// Schema mapping

int TimePrecision(int32_t typmod) { return typmod >= 0 && typmod <= 6 ? typmod : 6; }

void SetSemantic(FieldSchema *f, FieldType type, std::string_view semantic) {
    f->type = type;
    f->semantic = std::string(semantic);
    f->version = semantic.empty() ? 0 : 1;
}

void MapType(FieldSchema *f, uint32_t type_oid, int32_t typmod, const PgTypeRegistry &types,
             TimePrecisionMode time_mode, DecimalHandlingMode decimal_mode, bool *may_be_null) {
    const PgTypeInfo *info = types.Find(type_oid);
    f->source_type = info ? info->name : std::string();
    f->source_type_oid = type_oid;
    f->type_modifier = typmod;
    switch (type_oid) {
        case oid::kBool: f->type = FieldType::kBoolean; return;
        case oid::kInt2: f->type = FieldType::kInt16; return;
        case oid::kInt4: f->type = FieldType::kInt32; return;
        case oid::kInt8:
        case oid::kOid: f->type = FieldType::kInt64; return;
        case oid::kFloat4: f->type = FieldType::kFloat32; return;
        case oid::kFloat8: f->type = FieldType::kFloat64; return;
        case oid::kText:
        case oid::kVarchar:
        case oid::kBpchar:
        case oid::kName:
        case oid::kChar: f->type = FieldType::kString; return;
        case oid::kBytea: f->type = FieldType::kBytes; return;
        case oid::kUuid: SetSemantic(f, FieldType::kString, semantic::kUuid); return;
        case oid::kJson:
        case oid::kJsonb: SetSemantic(f, FieldType::kString, semantic::kJson); return;
        case oid::kDate:
            SetSemantic(f, FieldType::kInt32,
                        time_mode == TimePrecisionMode::kConnect ? semantic::kConnectDate : semantic::kDate);
            return;
        case oid::kTime:
            if (time_mode == TimePrecisionMode::kConnect) {
                SetSemantic(f, FieldType::kInt32, semantic::kConnectTime);
            } else if (time_mode == TimePrecisionMode::kAdaptive && TimePrecision(typmod) <= 3) {
                SetSemantic(f, FieldType::kInt32, semantic::kTime);
            } else {
                SetSemantic(f, FieldType::kInt64, semantic::kMicroTime);
            }
            return;
        case oid::kTimestamp:
            if (time_mode == TimePrecisionMode::kConnect) {
                SetSemantic(f, FieldType::kInt64, semantic::kConnectTimestamp);
            } else if (TimePrecision(typmod) <= 3) {
                SetSemantic(f, FieldType::kInt64, semantic::kTimestamp);
            } else {
                SetSemantic(f, FieldType::kInt64, semantic::kMicroTimestamp);
            }
            return;
        case oid::kTimestamptz: SetSemantic(f, FieldType::kString, semantic::kZonedTimestamp); return;
        case oid::kTimetz: SetSemantic(f, FieldType::kString, semantic::kZonedTime); return;
        case oid::kInterval: SetSemantic(f, FieldType::kInt64, semantic::kMicroDuration); return;
        case oid::kNumeric: {
            if (decimal_mode == DecimalHandlingMode::kDouble) {
                f->type = FieldType::kFloat64;
                return;
            }
            if (decimal_mode == DecimalHandlingMode::kString) {
                f->type = FieldType::kString;
                return;
            }
            *may_be_null = true;  // NaN and the infinities have no Decimal representation
            if (typmod < 4) {
                SetSemantic(f, FieldType::kStruct, semantic::kVariableScaleDecimal);
                FieldSchema scale, value;
                scale.name = "scale";
                scale.type = FieldType::kInt32;
                scale.optional = false;
                value.name = "value";
                value.type = FieldType::kBytes;
                value.optional = false;
                f->fields = {std::move(scale), std::move(value)};
                return;
            }
            // typmod = ((precision << 16) | (scale & 0x7FF)) + VARHDRSZ; the scale is an 11-bit
            // signed number since PostgreSQL 15 allows negative scales.
            int32_t packed = typmod - 4;
            int32_t precision = (packed >> 16) & 0xFFFF;
            int32_t scale = ((packed & 0x7FF) ^ 1024) - 1024;
            SetSemantic(f, FieldType::kBytes, semantic::kDecimal);
            f->parameters = {{"scale", std::to_string(scale)},
                             {"connect.decimal.precision", std::to_string(precision)}};
            return;
        }
        default: break;
    }
    if (info != nullptr && info->kind == PgTypeInfo::Kind::kEnum) {
        SetSemantic(f, FieldType::kString, semantic::kEnum);
        std::string allowed;
        for (size_t i = 0; i < info->enum_labels.size(); ++i) {
            if (i > 0) allowed.push_back(',');
            allowed += info->enum_labels[i];
        }
        f->parameters = {{"allowed", std::move(allowed)}};
        return;
    }
    // box is the one builtin type whose array delimiter is ';' (pg_type.typdelim), and its own
    // text holds commas: its arrays cannot be split on ',', so they stay text like any unknown
    // type rather than turn into wrong items.
    constexpr uint32_t kBoxOid = 603;
    if (info != nullptr && info->kind == PgTypeInfo::Kind::kArray && info->element_oid != kBoxOid) {
        f->type = FieldType::kArray;
        FieldSchema item;
        bool item_null = false;
        MapType(&item, info->element_oid, typmod, types, time_mode, decimal_mode, &item_null);
        item.optional = true;
        f->fields = {std::move(item)};
        return;
    }
    // Unknown: the text as PostgreSQL printed it.
    f->type = FieldType::kString;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

PgTypeRegistry::PgTypeRegistry() {
    for (const Builtin &b : kBuiltins) {
        PgTypeInfo info;
        info.oid = b.oid;
        info.name = b.name;
        info.kind = b.element != 0 ? PgTypeInfo::Kind::kArray : PgTypeInfo::Kind::kBase;
        info.element_oid = b.element;
        types_.emplace(b.oid, std::move(info));
    }
}

void PgTypeRegistry::AddEnum(uint32_t type_oid, std::string name, std::vector<std::string> labels) {
    PgTypeInfo &info = types_[type_oid];
    info = PgTypeInfo{};
    info.oid = type_oid;
    info.name = std::move(name);
    info.kind = PgTypeInfo::Kind::kEnum;
    info.enum_labels = std::move(labels);
}

void PgTypeRegistry::AddArray(uint32_t type_oid, std::string name, uint32_t element_oid) {
    PgTypeInfo &info = types_[type_oid];
    info = PgTypeInfo{};
    info.oid = type_oid;
    info.name = std::move(name);
    info.kind = PgTypeInfo::Kind::kArray;
    info.element_oid = element_oid;
}

void PgTypeRegistry::AddBase(uint32_t type_oid, std::string name) {
    PgTypeInfo &info = types_[type_oid];
    info = PgTypeInfo{};
    info.oid = type_oid;
    info.name = std::move(name);
}

const PgTypeInfo *PgTypeRegistry::Find(uint32_t type_oid) const {
    auto it = types_.find(type_oid);
    return it == types_.end() ? nullptr : &it->second;
}

FieldSchema MapColumn(std::string name, uint32_t type_oid, int32_t typmod, bool not_null,
                      const PgTypeRegistry &types, TimePrecisionMode time_mode,
                      DecimalHandlingMode decimal_mode) {
    FieldSchema f;
    f.name = std::move(name);
    bool may_be_null = false;
    MapType(&f, type_oid, typmod, types, time_mode, decimal_mode, &may_be_null);
    f.optional = !not_null || may_be_null;
    return f;
}

// ---------------------------------------------------------------------------------------------
// Converter

PgTextConverter::PgTextConverter(const FieldSchema &field) {
    type_name_ = field.source_type.empty() ? std::string(FieldTypeName(field.type)) : field.source_type;
    const std::string &sem = field.semantic;
    switch (field.type) {
        case FieldType::kBoolean: kind_ = Kind::kBool; break;
        case FieldType::kInt8:
            throw ConfigError("postgres", "column '" + field.name + "': no PostgreSQL type is read as int8");
        case FieldType::kInt16: kind_ = Kind::kInt16; break;
        case FieldType::kInt32:
            if (sem == semantic::kDate || sem == semantic::kConnectDate) kind_ = Kind::kDateDays;
            else if (sem == semantic::kTime || sem == semantic::kConnectTime) kind_ = Kind::kTimeMillis;
            else kind_ = Kind::kInt32;
            break;
        case FieldType::kInt64:
            if (sem == semantic::kMicroTime) kind_ = Kind::kTimeMicros;
            else if (sem == semantic::kTimestamp || sem == semantic::kConnectTimestamp) kind_ = Kind::kTimestampMillis;
            else if (sem == semantic::kMicroTimestamp) kind_ = Kind::kTimestampMicros;
            else if (sem == semantic::kMicroDuration) kind_ = Kind::kIntervalMicros;
            else kind_ = Kind::kInt64;
            break;
        case FieldType::kFloat32: kind_ = Kind::kFloat32; break;
        case FieldType::kFloat64: kind_ = Kind::kFloat64; break;
        case FieldType::kString:
            if (sem == semantic::kZonedTimestamp) kind_ = Kind::kZonedTimestamp;
            else if (sem == semantic::kZonedTime) kind_ = Kind::kZonedTime;
            else kind_ = Kind::kText;
            break;
        case FieldType::kBytes:
            if (sem == semantic::kDecimal) {
                kind_ = Kind::kDecimal;
                const std::string *scale = field.Parameter("scale");
                if (scale == nullptr ||
                    std::from_chars(scale->data(), scale->data() + scale->size(), scale_).ec != std::errc()) {
                    throw ConfigError("postgres", "column '" + field.name +
                                                      "': a Decimal schema needs an integer 'scale' parameter");
                }
            } else {
                kind_ = Kind::kBytea;
            }
            break;
        case FieldType::kStruct:
            if (sem != semantic::kVariableScaleDecimal) {
                throw ConfigError("postgres", "column '" + field.name + "': no text conversion for a struct of type '" +
                                                  sem + "'");
            }
            kind_ = Kind::kVariableDecimal;
            break;
        case FieldType::kArray:
            if (field.fields.size() != 1) {
                throw ConfigError("postgres", "column '" + field.name + "': an array schema needs one item schema");
            }
            kind_ = Kind::kArray;
            element_ = std::make_unique<PgTextConverter>(field.fields[0]);
            break;
    }
}

PgTextConverter::~PgTextConverter() = default;
PgTextConverter::PgTextConverter(PgTextConverter &&) noexcept = default;
PgTextConverter &PgTextConverter::operator=(PgTextConverter &&) noexcept = default;

void PgTextConverter::Parse(std::string_view text, Value *out) const {
    const char *p = text.data();
    const char *end = p + text.size();
    switch (kind_) {
        case Kind::kText: out->SetString(text); return;

        case Kind::kBool:
            if (text == "t") out->SetBool(true);
            else if (text == "f") out->SetBool(false);
            else Fail(type_name_, text, "expected 't' or 'f'");
            return;

        case Kind::kInt16:
        case Kind::kInt32:
        case Kind::kInt64: {
            int64_t v;
            auto r = std::from_chars(p, end, v);
            if (r.ec != std::errc() || r.ptr != end || text.empty()) Fail(type_name_, text, "not an integer");
            if (kind_ == Kind::kInt16 && (v < INT16_MIN || v > INT16_MAX)) Fail(type_name_, text, "out of range for int16");
            if (kind_ == Kind::kInt32 && (v < INT32_MIN || v > INT32_MAX)) Fail(type_name_, text, "out of range for int32");
            out->SetInt(v);
            return;
        }

        case Kind::kFloat32:
        case Kind::kFloat64: {
            // numeric in double mode comes here too, with the same spellings of the specials.
            if (text == "NaN") { out->SetDouble(std::numeric_limits<double>::quiet_NaN()); return; }
            if (text == "Infinity") { out->SetDouble(std::numeric_limits<double>::infinity()); return; }
            if (text == "-Infinity") { out->SetDouble(-std::numeric_limits<double>::infinity()); return; }
            if (text.empty() || !(IsDecimalDigit(*p) || *p == '-' || *p == '.')) Fail(type_name_, text, "not a number");
            if (kind_ == Kind::kFloat32) {
                // Parse as a float so that the value is the float PostgreSQL stored; widening to
                // double is exact and the encoder prints it back as the float's shortest form.
                float f;
                auto r = std::from_chars(p, end, f);
                if (r.ec != std::errc() || r.ptr != end) Fail(type_name_, text, "not a number");
                out->SetDouble(f);
            } else {
                double d;
                auto r = std::from_chars(p, end, d);
                if (r.ec != std::errc() || r.ptr != end) Fail(type_name_, text, "not a number");
                out->SetDouble(d);
            }
            return;
        }

        case Kind::kDecimal:
        case Kind::kVariableDecimal: {
            if (IsSpecialNumeric(text)) {
                out->SetNull();  // no Decimal can hold NaN or an infinity (see header)
                return;
            }
            DecimalDigits d;
            if (!SplitDecimalText(text, &d)) Fail(type_name_, text, "not a decimal number");
            if (kind_ == Kind::kVariableDecimal) {
                // Debezium strips trailing zeros but never goes below scale 0.
                while (!d.frac_digits.empty() && d.frac_digits.back() == '0') d.frac_digits.remove_suffix(1);
                std::vector<Value> &items = out->SetStruct();
                items.resize(2);
                items[0].SetInt(static_cast<int32_t>(d.frac_digits.size()));
                items[1].SetBytes({});
                UnscaledFromDigits(d, 0, &items[1].mutable_str());
                return;
            }
            DecimalDigits fitted;
            size_t zeros = 0;
            switch (FitToScale(d, scale_, &fitted, &zeros)) {
                case ScaleFit::kOk: break;
                case ScaleFit::kTooManyFractionDigits:
                    Fail(type_name_, text, "more fractional digits than the column's scale");
                case ScaleFit::kFractionWithNegativeScale:
                    Fail(type_name_, text, "fractional digits in a column with a negative scale");
                case ScaleFit::kNotMultiple:
                    Fail(type_name_, text, "not a multiple of the column's negative scale");
            }
            out->SetBytes({});
            UnscaledFromDigits(fitted, zeros, &out->mutable_str());
            return;
        }

        case Kind::kDateDays: {
            // The common case, YYYY-MM-DD with a four-digit year, without the general lexer.
            if (text.size() == 10 && p[4] == '-' && p[7] == '-') {
                unsigned digit[10];
                bool digits = true;
                for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
                    digit[i] = static_cast<unsigned char>(p[i]) - unsigned{'0'};
                    digits &= digit[i] <= 9;
                }
                if (digits) {
                    int64_t year = digit[0] * 1000 + digit[1] * 100 + digit[2] * 10 + digit[3];
                    unsigned month = digit[5] * 10 + digit[6];
                    unsigned day = digit[8] * 10 + digit[9];
                    if (year != 0 && month >= 1 && month <= 12 && day >= 1 && day <= DaysInMonth(year, month)) {
                        out->SetInt(DaysFromCivil(year, month, day));
                        return;
                    }
                }
                // Anything else gets the general path and its error message.
            }
            if (text == "infinity") { out->SetInt(DaysFromCivil(-5877611, 6, 21)); return; }
            if (text == "-infinity") { out->SetInt(DaysFromCivil(-5877611, 6, 22)); return; }
            CivilDate d;
            if (!ReadDate(p, end, &d) || !ApplyEra(p, end, &d) || p != end) Fail(type_name_, text, "expected YYYY-MM-DD[ BC]");
            out->SetInt(DaysFromCivil(d.year, d.month, d.day));
            return;
        }

        case Kind::kTimeMillis:
        case Kind::kTimeMicros: {
            CivilTime t;
            if (!ReadTime(p, end, &t) || p != end) Fail(type_name_, text, "expected HH:MM:SS[.ffffff]");
            // Debezium's millisecond Time truncates the sub-millisecond digits.
            out->SetInt(kind_ == Kind::kTimeMillis ? t.Micros() / 1000 : t.Micros());
            return;
        }

        case Kind::kTimestampMillis:
        case Kind::kTimestampMicros: {
            bool millis = kind_ == Kind::kTimestampMillis;
            if (text == "infinity") {
                out->SetInt(millis ? kTimestampPlusInfinityMicros / 1000 : kTimestampPlusInfinityMicros);
                return;
            }
            if (text == "-infinity") {
                out->SetInt(millis ? kTimestampMinusInfinityMicros / 1000 : kTimestampMinusInfinityMicros);
                return;
            }
            CivilDate d;
            CivilTime t;
            if (!ReadDate(p, end, &d) || !Consume(p, end, " ") || !ReadTime(p, end, &t) || t.hour == 24 ||
                !ApplyEra(p, end, &d) || p != end) {
                Fail(type_name_, text, "expected YYYY-MM-DD HH:MM:SS[.ffffff][ BC]");
            }
            // In 128 bits: PostgreSQL's last timestamps have int64 milliseconds but not
            // microseconds.
            __int128 micros =
                static_cast<__int128>(DaysFromCivil(d.year, d.month, d.day)) * kMicrosPerDay +
                t.Micros();
            out->SetInt(SaturateToInt64(millis ? FloorDiv128(micros, 1000) : micros));
            return;
        }

        case Kind::kZonedTimestamp: {
            if (text == "infinity" || text == "-infinity") {
                out->SetString(text);  // what Debezium sends for infinite timestamptz values
                return;
            }
            CivilDate d;
            CivilTime t;
            int64_t offset;
            if (!ReadDate(p, end, &d) || !Consume(p, end, " ") || !ReadTime(p, end, &t) || t.hour == 24 ||
                !ReadUtcOffset(p, end, &offset) || !ApplyEra(p, end, &d) || p != end) {
                Fail(type_name_, text, "expected YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM[:SS]][ BC]");
            }
            // Seconds since the epoch cannot overflow: PostgreSQL's years stay below 300000.
            int64_t secs = DaysFromCivil(d.year, d.month, d.day) * 86400 + t.hour * 3600 + t.minute * 60 +
                           t.second - offset;
            int64_t days = FloorDiv(secs, kSecondsPerDay);
            out->SetString({});
            std::string &s = out->mutable_str();
            AppendIsoDate(&s, days);
            s.push_back('T');
            AppendZonedTime(&s, secs - days * kSecondsPerDay, t.fraction);
            return;
        }

        case Kind::kZonedTime: {
            CivilTime t;
            int64_t offset;
            if (!ReadTime(p, end, &t) || !ReadUtcOffset(p, end, &offset) || p != end) {
                Fail(type_name_, text, "expected HH:MM:SS[.ffffff]+HH[:MM[:SS]]");
            }
            out->SetString({});
            std::string &s = out->mutable_str();
            if (t.hour == 24 && offset == 0) {
                s = "24:00:00Z";  // Debezium keeps PostgreSQL's end-of-day boundary at UTC
                return;
            }
            int64_t secs = t.hour * 3600 + t.minute * 60 + t.second - offset;
            AppendZonedTime(&s, FloorMod(secs, kSecondsPerDay), t.fraction);
            return;
        }

        case Kind::kIntervalMicros: {
            if (text == "infinity") { out->SetInt(INT64_MAX); return; }
            if (text == "-infinity") { out->SetInt(INT64_MIN); return; }
            int64_t months = 0, days = 0;
            __int128 time_us = 0;
            bool any = false, seen_time = false;
            while (p < end) {
                if (any) {
                    if (*p != ' ') Fail(type_name_, text, "expected a space between interval fields");
                    ++p;
                }
                any = true;
                const char *tok = p;
                while (p < end && *p != ' ') ++p;
                std::string_view token(tok, p - tok);
                if (token.find(':') != std::string_view::npos) {
                    if (seen_time) Fail(type_name_, text, "two time fields");
                    seen_time = true;
                    const char *q = token.data();
                    const char *tend = q + token.size();
                    bool negative = false;
                    if (*q == '-' || *q == '+') negative = *q++ == '-';
                    int64_t h, m, s, frac = 0;
                    if (!ReadNumber(q, tend, 1, 18, &h) || !Consume(q, tend, ":") || !ReadNumber(q, tend, 2, 2, &m) ||
                        !Consume(q, tend, ":") || !ReadNumber(q, tend, 2, 2, &s) || m > 59 || s > 59) {
                        Fail(type_name_, text, "expected [+|-]H:MM:SS[.ffffff]");
                    }
                    if (q < tend && *q == '.') {
                        ++q;
                        const char *f0 = q;
                        if (!ReadNumber(q, tend, 1, 6, &frac)) Fail(type_name_, text, "bad fractional seconds");
                        for (auto n = q - f0; n < 6; ++n) frac *= 10;
                    }
                    if (q != tend) Fail(type_name_, text, "unexpected characters after the time");
                    time_us = (static_cast<__int128>(h) * 3600 + m * 60 + s) * kMicrosPerSecond + frac;
                    if (negative) time_us = -time_us;
                    continue;
                }
                int64_t n;
                const char *q = token.data();
                if (*q == '+') ++q;
                auto r = std::from_chars(q, token.data() + token.size(), n);
                if (r.ec != std::errc() || r.ptr != token.data() + token.size()) {
                    Fail(type_name_, text, "expected a number before an interval unit");
                }
                if (p >= end) Fail(type_name_, text, "a number without a unit");
                ++p;
                const char *unit_start = p;
                while (p < end && *p != ' ') ++p;
                std::string_view unit(unit_start, p - unit_start);
                bool ok;
                if (unit == "year" || unit == "years") ok = CheckedMulAdd(n, 12, months, &months);
                else if (unit == "mon" || unit == "mons") ok = !__builtin_add_overflow(months, n, &months);
                else if (unit == "day" || unit == "days") ok = !__builtin_add_overflow(days, n, &days);
                else Fail(type_name_, text, "unknown interval unit");
                if (!ok) Fail(type_name_, text, "out of range for MicroDuration");
            }
            if (!any) Fail(type_name_, text, "empty interval");
            out->SetInt(SaturateToInt64(static_cast<__int128>(months) * kMicrosPerMonth +
                                 static_cast<__int128>(days) * kMicrosPerDay + time_us));
            return;
        }

        case Kind::kBytea: {
            if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
                Fail(type_name_, text, "expected \\x followed by pairs of hex digits (bytea_output=hex)");
            }
            out->SetBytes({});
            std::string &b = out->mutable_str();
            b.resize((text.size() - 2) / 2);
            for (size_t i = 0; i < b.size(); ++i) {
                int hi = HexDigitValue(text[2 + 2 * i]), lo = HexDigitValue(text[3 + 2 * i]);
                if (hi < 0 || lo < 0) Fail(type_name_, text, "not a hex digit");
                b[i] = static_cast<char>(hi << 4 | lo);
            }
            return;
        }

        case Kind::kArray: ParseArray(text, out); return;
    }
}

void PgTextConverter::ParseArray(std::string_view text, Value *out) const {
    const char *p = text.data();
    const char *end = p + text.size();
    // Arrays whose lower bound is not 1 carry their dimensions first: "[0:2]={1,2,3}".
    if (p < end && *p == '[') {
        while (p < end && *p != '=') ++p;
        if (p == end) Fail(type_name_, text, "dimension decoration without '='");
        ++p;
    }
    if (p == end || *p != '{') Fail(type_name_, text, "an array must start with '{'");
    p = ParseArrayLevel(p, end, text, out, 1);
    if (p != end) Fail(type_name_, text, "unexpected characters after the array");
}

const char *PgTextConverter::ParseArrayLevel(const char *p, const char *end, std::string_view whole, Value *out,
                                             int depth) const {
    // PostgreSQL arrays have at most 6 dimensions (MAXDIM); the limit also bounds recursion.
    if (depth > 6) Fail(type_name_, whole, "more than 6 array dimensions");
    std::vector<Value> &items = out->SetArray();
    ++p;  // '{'
    auto skip_space = [&] {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
    };
    skip_space();
    if (p < end && *p == '}') return p + 1;
    while (true) {
        skip_space();
        if (p >= end) Fail(type_name_, whole, "unterminated array");
        items.emplace_back();
        Value &item = items.back();
        if (*p == '{') {
            p = ParseArrayLevel(p, end, whole, &item, depth + 1);
        } else if (*p == '"') {
            ++p;
            const char *start = p;
            bool escaped = false;
            while (p < end && *p != '"') {
                if (*p == '\\') {
                    escaped = true;
                    ++p;
                    if (p == end) break;
                }
                ++p;
            }
            if (p >= end) Fail(type_name_, whole, "unterminated quoted array element");
            std::string_view elem(start, p - start);
            ++p;  // closing quote
            if (escaped) {
                scratch_.clear();
                for (size_t i = 0; i < elem.size(); ++i) {
                    if (elem[i] == '\\') ++i;
                    scratch_.push_back(elem[i]);
                }
                elem = scratch_;
            }
            element_->Parse(elem, &item);
        } else {
            const char *start = p;
            while (p < end && *p != ',' && *p != '}') {
                if (*p == '"' || *p == '{') Fail(type_name_, whole, "unexpected character in an unquoted array element");
                ++p;
            }
            const char *stop = p;
            while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) --stop;
            std::string_view elem(start, stop - start);
            if (elem.empty()) Fail(type_name_, whole, "empty array element");
            if (elem.size() == 4 && (elem[0] | 0x20) == 'n' && (elem[1] | 0x20) == 'u' && (elem[2] | 0x20) == 'l' &&
                (elem[3] | 0x20) == 'l') {
                item.SetNull();
            } else {
                element_->Parse(elem, &item);
            }
        }
        skip_space();
        if (p >= end) Fail(type_name_, whole, "unterminated array");
        if (*p == ',') {
            ++p;
            continue;
        }
        if (*p == '}') return p + 1;
        Fail(type_name_, whole, "expected ',' or '}' in an array");
    }
}

void ParseText(const FieldSchema &field, std::string_view text, Value *out) {
    PgTextConverter(field).Parse(text, out);
}

}  // namespace cdcctl::postgres
