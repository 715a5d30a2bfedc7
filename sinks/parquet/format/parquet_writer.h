// A Parquet file writer of our own (Apache Arrow is not packaged for Debian 12), written from the
// parquet-format specification (parquet.thrift, Encodings.md, LogicalTypes.md).
//
// Shape of a file: "PAR1", row groups (one column chunk per leaf column, each an optional
// dictionary page followed by data pages v1), the FileMetaData footer in the Thrift compact
// protocol, its 4-byte little-endian length, "PAR1".
//
// The caller shreds its rows (Dremel): for every leaf column it writes one entry per value slot
// with its definition and repetition level; a null (or an empty or absent list) is an entry with
// def < the leaf's max_def and no value. The writer buffers one row group in memory, encodes it
// on FlushRowGroup() (or Close()), and writes the bytes through an Output.
//
// Encodings: definition and repetition levels with the RLE/bit-packed hybrid; values with
// RLE_DICTIONARY while a column's dictionary stays under Options::dictionary_max_bytes, falling
// back to PLAIN for the rest of the column chunk when it grows past it; BOOLEAN is PLAIN. A
// dictionary that does not pay (near-unique values: ids, timestamps, UUIDs) is given up early,
// every 4096 values and at the first page cut; when no page has been written yet the chunk then
// has no dictionary page at all. Setting dictionary_max_bytes to 0 turns dictionaries off.
// Statistics per column chunk (and per data page): null_count, min_value and max_value in the
// column's sort order (signed for ints, decimals stored as INT32/INT64/FIXED_LEN_BYTE_ARRAY,
// dates, times and timestamps; unsigned bytewise for strings, binary, UUID, JSON; unsigned for
// UINT_*; floats ignore NaN, and -0.0/+0.0 as the spec says). Byte-array bounds longer than 64
// bytes are truncated (still valid bounds, flagged inexact).
//
// The writer is single-threaded. If Output::Write throws, the file is incomplete and the writer
// must be discarded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cdcctl::parquet {

enum class PhysicalType : uint8_t {
    kBoolean = 0,
    kInt32 = 1,
    kInt64 = 2,
    kFloat = 4,
    kDouble = 5,
    kByteArray = 6,
    kFixedLenByteArray = 7,
};

enum class Codec : uint8_t { kUncompressed = 0, kSnappy = 1, kGzip = 2, kZstd = 6 };

enum class TimeUnit : uint8_t { kMillis, kMicros, kNanos };

// The LogicalType union of parquet.thrift (the writer also fills the legacy ConvertedType where
// one exists, for older readers).
struct LogicalType {
    enum class Kind : uint8_t {
        kNone,
        kString,
        kEnum,
        kDecimal,
        kDate,
        kTime,
        kTimestamp,
        kInteger,
        kJson,
        kUuid,
        kList,  // on the outer group of a 3-level LIST
    };
    Kind kind = Kind::kNone;
    int bit_width = 0;     // kInteger: 8, 16, 32, 64
    bool is_signed = true;  // kInteger
    int precision = 0;      // kDecimal
    int scale = 0;          // kDecimal
    bool adjusted_to_utc = false;  // kTime, kTimestamp
    TimeUnit unit = TimeUnit::kMicros;  // kTime, kTimestamp

    static LogicalType String() { return {Kind::kString}; }
    static LogicalType Json() { return {Kind::kJson}; }
    static LogicalType Uuid() { return {Kind::kUuid}; }
    static LogicalType Date() { return {Kind::kDate}; }
    static LogicalType Enum() { return {Kind::kEnum}; }
    static LogicalType List() { return {Kind::kList}; }
    static LogicalType Integer(int bits, bool is_signed) {
        LogicalType t{Kind::kInteger};
        t.bit_width = bits;
        t.is_signed = is_signed;
        return t;
    }
    static LogicalType Decimal(int precision, int scale) {
        LogicalType t{Kind::kDecimal};
        t.precision = precision;
        t.scale = scale;
        return t;
    }
    static LogicalType Time(TimeUnit unit, bool utc) {
        LogicalType t{Kind::kTime};
        t.unit = unit;
        t.adjusted_to_utc = utc;
        return t;
    }
    static LogicalType Timestamp(TimeUnit unit, bool utc) {
        LogicalType t{Kind::kTimestamp};
        t.unit = unit;
        t.adjusted_to_utc = utc;
        return t;
    }
};

enum class Repetition : uint8_t { kRequired = 0, kOptional = 1, kRepeated = 2 };

// One node of the schema tree. A node with children is a group; one without is a leaf column.
struct SchemaNode {
    std::string name;
    Repetition repetition = Repetition::kOptional;
    PhysicalType type = PhysicalType::kByteArray;  // leaves only
    int32_t type_length = 0;                       // kFixedLenByteArray only
    LogicalType logical;
    std::vector<SchemaNode> children;

    bool is_group() const { return !children.empty(); }

    static SchemaNode Leaf(std::string name, Repetition rep, PhysicalType type,
                           LogicalType logical = {}, int32_t type_length = 0) {
        SchemaNode n;
        n.name = std::move(name);
        n.repetition = rep;
        n.type = type;
        n.logical = logical;
        n.type_length = type_length;
        return n;
    }
    static SchemaNode Group(std::string name, Repetition rep, std::vector<SchemaNode> children,
                            LogicalType logical = {}) {
        SchemaNode n;
        n.name = std::move(name);
        n.repetition = rep;
        n.logical = logical;
        n.children = std::move(children);
        return n;
    }
    // The standard 3-level list: <rep> group <name> (LIST) { repeated group list { <element> } },
    // where `element` is named "element".
    static SchemaNode List(std::string name, Repetition rep, SchemaNode element);
};

// Where the file's bytes go. Write() writes everything or throws (the sink turns errno such as
// ENOSPC into a SinkError that names the file).
class Output {
public:
    virtual ~Output() = default;
    virtual void Write(const uint8_t *data, size_t size) = 0;
};

struct WriterOptions {
    Codec codec = Codec::kSnappy;
    int compression_level = 0;  // 0: the codec's default (zstd 3, gzip 6)
    size_t data_page_bytes = 1 << 20;       // a data page is cut once its values reach this
    size_t dictionary_max_bytes = 1 << 20;  // past this a column chunk falls back to PLAIN
    std::string created_by = "cdcctl";
    std::vector<std::pair<std::string, std::string>> key_value_metadata;
};

// A leaf column as the writer sees it, with its levels computed from the schema path.
struct ColumnDescriptor {
    std::vector<std::string> path;  // from the root's child down to the leaf
    PhysicalType type;
    int32_t type_length = 0;
    LogicalType logical;
    int16_t max_def = 0;
    int16_t max_rep = 0;
};

class ColumnWriter {
public:
    virtual ~ColumnWriter() = default;
    // An entry without a value: def < max_def (a null at some level, or an empty list).
    virtual void WriteNull(int16_t def, int16_t rep = 0) = 0;
    // An entry with a value (def = max_def). Use the call matching the column's physical type;
    // INT32 columns of 8/16-bit integers, dates, millisecond times and small decimals take
    // WriteInt32; FIXED_LEN_BYTE_ARRAY takes WriteBytes with exactly type_length bytes.
    virtual void WriteBool(bool v, int16_t rep = 0) = 0;
    virtual void WriteInt32(int32_t v, int16_t rep = 0) = 0;
    virtual void WriteInt64(int64_t v, int16_t rep = 0) = 0;
    virtual void WriteFloat(float v, int16_t rep = 0) = 0;
    virtual void WriteDouble(double v, int16_t rep = 0) = 0;
    virtual void WriteBytes(std::string_view v, int16_t rep = 0) = 0;
    virtual const ColumnDescriptor &descriptor() const = 0;
};

class FileWriter {
public:
    // Writes the leading magic through `out`. `root` is the schema's root group (its name is
    // the message name; its repetition is ignored). Throws std::invalid_argument for a schema
    // Parquet cannot express (an empty group, a FIXED_LEN_BYTE_ARRAY without a length, a
    // logical type on the wrong physical type).
    FileWriter(Output &out, const SchemaNode &root, WriterOptions options);
    ~FileWriter();
    FileWriter(const FileWriter &) = delete;
    FileWriter &operator=(const FileWriter &) = delete;

    // Leaf columns in schema order (depth first).
    size_t num_columns() const;
    ColumnWriter &column(size_t i);

    // The caller wrote `n` more complete rows into every column (rows are counted by the
    // caller because repeated columns hold several entries per row).
    void AddRows(int64_t n);
    int64_t buffered_rows() const;
    // Encoded-size estimate of the buffered row group (uncompressed values and levels).
    size_t buffered_bytes() const;
    // Encodes, compresses and writes the buffered rows as one row group (nothing if empty).
    void FlushRowGroup();
    // Bytes written through Output so far.
    uint64_t bytes_written() const;
    int64_t rows_written() const;  // in flushed row groups

    // Flushes the last row group and writes the footer and the trailing magic. The writer is
    // unusable afterwards.
    void Close();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cdcctl::parquet
