// A column value, already converted to its Debezium representation (days since the epoch for a
// Date, microseconds for a MicroTimestamp, an ISO-8601 string for a ZonedTimestamp, the unscaled
// big-endian two's-complement bytes for a precise Decimal, ...). The schema says how to read it.
//
// Values are reused across batches: the setters assign into existing storage, so a row that is
// refilled with values of similar size does not allocate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cdcctl {

class Value {
public:
    enum class Kind : uint8_t {
        kNull,
        kUnavailable,  // unchanged TOASTed column: Debezium's __debezium_unavailable_value
        kBool,
        kInt,
        kDouble,
        kString,  // UTF-8 text
        kBytes,   // raw bytes; JSON encodes them as base64
        kArray,   // items()
        kStruct,  // items() in the order of the schema's fields
    };

    Value() = default;
    static Value Null() { return Value(); }
    static Value Bool(bool b) { Value v; v.SetBool(b); return v; }
    static Value Int(int64_t i) { Value v; v.SetInt(i); return v; }
    static Value Double(double d) { Value v; v.SetDouble(d); return v; }
    static Value String(std::string_view s) { Value v; v.SetString(s); return v; }
    static Value Bytes(std::string_view s) { Value v; v.SetBytes(s); return v; }

    Kind kind() const { return kind_; }
    bool is_null() const { return kind_ == Kind::kNull; }

    void SetNull() { kind_ = Kind::kNull; }
    void SetUnavailable() { kind_ = Kind::kUnavailable; }
    void SetBool(bool b) { kind_ = Kind::kBool; num_.b = b; }
    void SetInt(int64_t i) { kind_ = Kind::kInt; num_.i = i; }
    void SetDouble(double d) { kind_ = Kind::kDouble; num_.d = d; }
    void SetString(std::string_view s) { kind_ = Kind::kString; str_.assign(s.data(), s.size()); }
    void SetBytes(std::string_view s) { kind_ = Kind::kBytes; str_.assign(s.data(), s.size()); }
    // Start an array or struct; fill it through items().
    std::vector<Value> &SetArray() { kind_ = Kind::kArray; items_.clear(); return items_; }
    std::vector<Value> &SetStruct() { kind_ = Kind::kStruct; items_.clear(); return items_; }
    // The string storage, for callers that build text in place; call after SetString("").
    std::string &mutable_str() { return str_; }

    bool as_bool() const { return num_.b; }
    int64_t as_int() const { return num_.i; }
    double as_double() const { return num_.d; }
    std::string_view as_string() const { return str_; }  // kString and kBytes
    const std::vector<Value> &items() const { return items_; }
    std::vector<Value> &items() { return items_; }

    bool operator==(const Value &o) const;
    bool operator!=(const Value &o) const { return !(*this == o); }

private:
    Kind kind_ = Kind::kNull;
    union {
        bool b;
        int64_t i;
        double d;
    } num_{};
    std::string str_;
    std::vector<Value> items_;
};

using Row = std::vector<Value>;

}  // namespace cdcctl
