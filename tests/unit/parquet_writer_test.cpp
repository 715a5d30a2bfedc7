// Byte-level facts of files written by the Parquet writer (sinks/parquet/format), worked out by
// hand from parquet.thrift, Encodings.md and the Thrift compact protocol: the magic, the page
// header and body of small pages, the footer length, and the errors for schemas and calls the
// writer refuses. Reading real files back is tests/integration/parquet_writer_test.cpp.
#include "sinks/parquet/format/parquet_writer.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

using namespace cdcctl::parquet;

namespace {

class MemoryOutput : public Output {
public:
    void Write(const uint8_t *data, size_t size) override {
        bytes.append(reinterpret_cast<const char *>(data), size);
    }
    std::string bytes;
};

std::string B(std::initializer_list<int> v) {
    std::string s;
    for (int x : v) s.push_back(static_cast<char>(x));
    return s;
}

uint32_t FooterLength(const std::string &file) {
    REQUIRE(file.size() >= 12);
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i)
        len |= static_cast<uint32_t>(static_cast<uint8_t>(file[file.size() - 8 + i])) << (8 * i);
    return len;
}

SchemaNode OneColumn(SchemaNode leaf) {
    return SchemaNode::Group("m", Repetition::kRequired, {std::move(leaf)});
}

WriterOptions Plain(Codec codec = Codec::kUncompressed) {
    WriterOptions o;
    o.codec = codec;
    o.dictionary_max_bytes = 0;  // no dictionary
    return o;
}

std::string ErrorOf(const SchemaNode &root) {
    MemoryOutput out;
    try {
        FileWriter w(out, root, WriterOptions{});
    } catch (const std::invalid_argument &e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("a required INT32 column: magic, one PLAIN data page, footer, its length, magic") {
    MemoryOutput out;
    FileWriter w(out, OneColumn(SchemaNode::Leaf("v", Repetition::kRequired, PhysicalType::kInt32)),
                 Plain());
    CHECK(out.bytes == "PAR1");  // the leading magic is written at once
    for (int v : {1, 2, 3}) w.column(0).WriteInt32(v);
    w.AddRows(3);
    w.Close();
    const std::string &f = out.bytes;
    CHECK(w.bytes_written() == f.size());

    const std::string header = B({
        0x15, 0x00,                 // 1: type = DATA_PAGE
        0x15, 0x18,                 // 2: uncompressed_page_size = 12
        0x15, 0x18,                 // 3: compressed_page_size = 12
        0x2C,                       // 5: data_page_header
        0x15, 0x06,                 //   1: num_values = 3
        0x15, 0x00,                 //   2: encoding = PLAIN
        0x15, 0x06,                 //   3: definition_level_encoding = RLE
        0x15, 0x06,                 //   4: repetition_level_encoding = RLE
        0x1C,                       //   5: statistics
        0x36, 0x00,                 //     3: null_count = 0
        0x28, 0x04, 3,    0, 0, 0,  // 5: max_value = 3 (PLAIN int32)
        0x18, 0x04, 1,    0, 0, 0,  // 6: min_value = 1
        0x11, 0x11,                 //     7, 8: is_max_value_exact, is_min_value_exact = true
        0x00, 0x00, 0x00,           // stops: statistics, data_page_header, page header
    });
    const std::string values = B({1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0});
    REQUIRE(f.size() > 4 + header.size() + values.size() + 8);
    CHECK(f.substr(4, header.size()) == header);
    CHECK(f.substr(4 + header.size(), values.size()) == values);
    // The footer fills the rest: it starts right after the page and ends at its length field.
    CHECK(f.substr(f.size() - 4) == "PAR1");
    CHECK(FooterLength(f) == f.size() - 8 - (4 + header.size() + values.size()));
    // FileMetaData opens with 1: version = 2 and 2: the schema list of 2 structs (root + leaf).
    std::string footer = f.substr(4 + header.size() + values.size(), 4);
    CHECK(footer == B({0x15, 0x04, 0x19, 0x2C}));
    // ... and closes with 6: created_by (no key/value metadata, so a delta of 2 from field 4),
    // 7: column_orders, one ColumnOrder union per column holding TYPE_ORDER (field 1), an empty
    // TypeDefinedOrder struct, and the FileMetaData stop.
    const std::string end =
        B({0x28, 0x06, 'c', 'd', 'c', 'c', 't', 'l', 0x19, 0x1C, 0x1C, 0x00, 0x00, 0x00});
    CHECK(f.substr(f.size() - 8 - end.size(), end.size()) == end);
}

TEST_CASE("an optional column prefixes its definition levels with their 4-byte length") {
    MemoryOutput out;
    FileWriter w(out, OneColumn(SchemaNode::Leaf("v", Repetition::kOptional, PhysicalType::kInt32)),
                 Plain());
    w.column(0).WriteInt32(7);
    w.column(0).WriteNull(0);
    w.column(0).WriteInt32(9);
    w.AddRows(3);
    w.Close();
    const std::string header = B({
        0x15, 0x00, 0x15, 0x1C, 0x15, 0x1C,  // DATA_PAGE, 14 bytes, 14 bytes
        0x2C, 0x15, 0x06, 0x15, 0x00, 0x15, 0x06, 0x15, 0x06, 0x1C, 0x36, 0x02,  // null_count = 1
        0x28, 0x04, 9,    0,    0,    0,    0x18, 0x04, 7,    0,    0,    0,
        0x11, 0x11, 0x00, 0x00, 0x00,
    });
    // levels 1 0 1 at width 1: one bit-packed group (0x03) holding 0b101; then the two values
    const std::string body = B({2, 0, 0, 0, 0x03, 0x05, 7, 0, 0, 0, 9, 0, 0, 0});
    CHECK(out.bytes.substr(4, header.size()) == header);
    CHECK(out.bytes.substr(4 + header.size(), body.size()) == body);
}

TEST_CASE("a dictionary page comes first, PLAIN, and the data page holds bit width + RLE indices") {
    MemoryOutput out;
    WriterOptions o;
    o.codec = Codec::kUncompressed;
    FileWriter w(
        out, OneColumn(SchemaNode::Leaf("s", Repetition::kRequired, PhysicalType::kByteArray)), o);
    for (const char *v : {"b", "a", "b", "b"}) w.column(0).WriteBytes(v);
    w.AddRows(4);
    w.Close();
    const std::string dict = B({
        0x15, 0x04,              // type = DICTIONARY_PAGE (2)
        0x15, 0x14, 0x15, 0x14,  // 10 bytes, 10 bytes
        0x4C,                    // 7: dictionary_page_header
        0x15, 0x04,              //   num_values = 2
        0x15, 0x00,              //   encoding = PLAIN
        0x00, 0x00, 1,    0,    0, 0,
        'b',  1,    0,    0,    0, 'a',  // the entries, PLAIN, in first-seen order
    });
    const std::string data = B({
        0x15, 0x00, 0x15, 0x06, 0x15, 0x06,  // DATA_PAGE, 3 bytes, 3 bytes
        0x2C, 0x15, 0x08,                    // num_values = 4
        0x15, 0x10,                          // encoding = RLE_DICTIONARY (8)
        0x15, 0x06, 0x15, 0x06, 0x1C, 0x36, 0x00, 0x28, 0x01,
        'b',  0x18, 0x01, 'a',  0x11, 0x11, 0x00, 0x00, 0x00,
        0x01,        // bit width 1
        0x03, 0x02,  // indices 0 1 0 0, one bit-packed group
    });
    CHECK(out.bytes.substr(4, dict.size()) == dict);
    CHECK(out.bytes.substr(4 + dict.size(), data.size()) == data);
}

TEST_CASE("compressed page bodies are a gzip member, a zstd frame or raw snappy") {
    auto first_body_bytes = [](Codec codec) {
        MemoryOutput out;
        FileWriter w(out,
                     OneColumn(SchemaNode::Leaf("v", Repetition::kRequired, PhysicalType::kInt64)),
                     Plain(codec));
        for (int i = 0; i < 1000; ++i) w.column(0).WriteInt64(42);
        w.AddRows(1000);
        w.Close();
        // The page header ends with statistics min_value = 42 (field 6, 8 bytes), the two
        // exactness flags and three stops.
        const std::string tail = B({0x18, 0x08, 42, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x11, 0, 0, 0});
        size_t at = out.bytes.find(tail, 4);
        REQUIRE(at != std::string::npos);
        return out.bytes.substr(at + tail.size(), 4);
    };
    CHECK(first_body_bytes(Codec::kGzip).substr(0, 3) == B({0x1F, 0x8B, 0x08}));  // RFC 1952
    CHECK(first_body_bytes(Codec::kZstd) == B({0x28, 0xB5, 0x2F, 0xFD}));         // RFC 8878 magic
    CHECK(first_body_bytes(Codec::kSnappy).substr(0, 2) == B({0xC0, 0x3E}));      // varint 8000
    CHECK(first_body_bytes(Codec::kUncompressed) == B({42, 0, 0, 0}));
}

TEST_CASE("a file without rows is the magic, a footer and the magic") {
    MemoryOutput out;
    FileWriter w(out,
                 OneColumn(SchemaNode::Leaf("v", Repetition::kOptional, PhysicalType::kDouble)),
                 WriterOptions{});
    w.FlushRowGroup();  // nothing buffered: no row group
    w.Close();
    const std::string &f = out.bytes;
    CHECK(f.substr(0, 4) == "PAR1");
    CHECK(f.substr(f.size() - 4) == "PAR1");
    CHECK(FooterLength(f) == f.size() - 12);
    CHECK(w.rows_written() == 0);
}

TEST_CASE("data pages are cut at data_page_bytes, only where a row starts") {
    MemoryOutput out;
    WriterOptions o = Plain();
    o.data_page_bytes = 16;
    SchemaNode root = OneColumn(
        SchemaNode::List("l", Repetition::kRequired,
                         SchemaNode::Leaf("x", Repetition::kRequired, PhysicalType::kInt32)));
    FileWriter w(out, root, o);
    // One row of 10 values (40 bytes) then two rows of one value: the long row stays in one page.
    for (int i = 0; i < 10; ++i) w.column(0).WriteInt32(i, i == 0 ? 0 : 1);
    w.column(0).WriteInt32(100, 0);
    w.column(0).WriteInt32(101, 0);
    w.AddRows(3);
    w.Close();
    // Data page headers start with 0x15 0x00 (type DATA_PAGE) and carry num_values at a fixed
    // place for these small sizes; count them by their num_values field.
    const std::string &f = out.bytes;
    size_t first = f.find(B({0x2C, 0x15, 0x14}));   // num_values = 10
    size_t second = f.find(B({0x2C, 0x15, 0x04}));  // num_values = 2 (the next page)
    CHECK(first != std::string::npos);
    CHECK(second != std::string::npos);
    CHECK(first < second);
}

TEST_CASE("schemas Parquet cannot express are refused with a message naming the column") {
    using L = LogicalType;
    auto leaf = [](const char *n, PhysicalType t, L l = {}, int32_t len = 0) {
        return SchemaNode::Leaf(n, Repetition::kOptional, t, l, len);
    };
    CHECK(ErrorOf(SchemaNode::Group("m", Repetition::kRequired, {})) ==
          "Parquet schema: the root 'm' has no columns");
    CHECK(ErrorOf(OneColumn(leaf("f", PhysicalType::kFixedLenByteArray))) ==
          "Parquet schema: 'f' is FIXED_LEN_BYTE_ARRAY without a positive type_length");
    CHECK(ErrorOf(OneColumn(leaf("u", PhysicalType::kByteArray, L::Uuid()))) ==
          "Parquet schema: 'u' is BYTE_ARRAY but logical type UUID needs FIXED_LEN_BYTE_ARRAY(16)");
    CHECK(ErrorOf(OneColumn(leaf("s", PhysicalType::kInt32, L::String()))) ==
          "Parquet schema: 's' is INT32 but logical type STRING needs BYTE_ARRAY");
    CHECK(ErrorOf(OneColumn(leaf("d", PhysicalType::kInt32, L::Decimal(10, 2)))) ==
          "Parquet schema: 'd' has DECIMAL precision 10 but INT32 holds at most 9 digits");
    CHECK(ErrorOf(OneColumn(leaf("d", PhysicalType::kFixedLenByteArray, L::Decimal(39, 2), 16))) ==
          "Parquet schema: 'd' has DECIMAL precision 39 but FIXED_LEN_BYTE_ARRAY(16) holds at most "
          "38 digits");
    CHECK(ErrorOf(OneColumn(leaf("d", PhysicalType::kInt64, L::Decimal(5, 6)))) ==
          "Parquet schema: 'd' has DECIMAL(5,6); it needs precision >= 1 and 0 <= scale <= "
          "precision");
    CHECK(ErrorOf(OneColumn(leaf("t", PhysicalType::kInt64, L::Time(TimeUnit::kMillis, false)))) ==
          "Parquet schema: 't' is INT64 but logical type TIME(MILLIS) needs INT32");
    CHECK(ErrorOf(
              OneColumn(leaf("t", PhysicalType::kInt32, L::Timestamp(TimeUnit::kMicros, true)))) ==
          "Parquet schema: 't' is INT32 but logical type TIMESTAMP needs INT64");
    CHECK(ErrorOf(OneColumn(leaf("i", PhysicalType::kInt32, L::Integer(64, true)))) ==
          "Parquet schema: 'i' is INT32 but logical type INTEGER(64) needs INT64");
    CHECK(ErrorOf(OneColumn(leaf("i", PhysicalType::kInt32, L::Integer(12, true)))) ==
          "Parquet schema: 'i' has INTEGER bit width 12; it must be 8, 16, 32 or 64");
    CHECK(ErrorOf(OneColumn(leaf("l", PhysicalType::kInt32, L::List()))) ==
          "Parquet schema: 'l' is a leaf but LIST annotates a group (use SchemaNode::List)");
    CHECK(ErrorOf(SchemaNode::Group(
              "m", Repetition::kRequired,
              {leaf("a", PhysicalType::kInt32), leaf("a", PhysicalType::kInt64)})) ==
          "Parquet schema: 'a' is defined twice");
    CHECK(ErrorOf(OneColumn(
              SchemaNode::Group("g", Repetition::kOptional, {leaf("", PhysicalType::kInt32)}))) ==
          "Parquet schema: 'g.' has a child without a name");
    CHECK(ErrorOf(OneColumn(SchemaNode::Group("g", Repetition::kOptional,
                                              {leaf("x", PhysicalType::kInt32)}, L::Date()))) ==
          "Parquet schema: 'g' is a group; only LIST may annotate a group");
    CHECK(ErrorOf(OneColumn(SchemaNode::Group("g", Repetition::kOptional,
                                              {leaf("x", PhysicalType::kInt32)}, L::List()))) ==
          "Parquet schema: 'g' is a LIST but does not have exactly one repeated child");
}

TEST_CASE("codecs the writer does not implement, and bad gzip levels, are refused") {
    MemoryOutput out;
    SchemaNode root = OneColumn(SchemaNode::Leaf("v", Repetition::kRequired, PhysicalType::kInt32));
    WriterOptions lzo;
    lzo.codec = static_cast<Codec>(3);
    CHECK_THROWS_WITH_AS(FileWriter(out, root, lzo),
                         "Parquet codec 3 is not supported; use UNCOMPRESSED, SNAPPY, GZIP or ZSTD",
                         std::invalid_argument);
    WriterOptions gzip;
    gzip.codec = Codec::kGzip;
    gzip.compression_level = 12;
    CHECK_THROWS_WITH_AS(FileWriter(out, root, gzip), "gzip compression_level must be 1..9, got 12",
                         std::invalid_argument);
}

TEST_CASE("calls that do not fit the column are refused") {
    MemoryOutput out;
    SchemaNode root = SchemaNode::Group(
        "m", Repetition::kRequired,
        {
            SchemaNode::Leaf("i", Repetition::kOptional, PhysicalType::kInt32),
            SchemaNode::Leaf("u", Repetition::kOptional, PhysicalType::kFixedLenByteArray,
                             LogicalType::Uuid(), 16),
        });
    FileWriter w(out, root, WriterOptions{});
    CHECK_THROWS_WITH_AS(w.column(0).WriteInt64(1),
                         "Parquet column 'i' is INT32; WriteInt64 does not apply to it",
                         std::logic_error);
    CHECK_THROWS_WITH_AS(w.column(0).WriteNull(1),
                         "Parquet column 'i': WriteNull needs def < 1, got 1",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(w.column(0).WriteInt32(1, 1),
                         "Parquet column 'i': repetition level 1 is outside 0..0",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(w.column(1).WriteBytes("short"),
                         "Parquet column 'u' is FIXED_LEN_BYTE_ARRAY(16); got 5 bytes",
                         std::invalid_argument);
    CHECK_THROWS_AS(w.column(2), std::out_of_range);

    FileWriter r(out,
                 OneColumn(SchemaNode::Leaf("req", Repetition::kRequired, PhysicalType::kInt32)),
                 WriterOptions{});
    CHECK_THROWS_WITH_AS(r.column(0).WriteNull(0),
                         "Parquet column 'req' is required at every level; it cannot hold a null",
                         std::invalid_argument);
}

TEST_CASE("an Output that fails makes the flush throw its error, and Close is idempotent") {
    struct FullDisk : Output {
        size_t room = 100;
        void Write(const uint8_t *, size_t size) override {
            if (size > room) throw std::runtime_error("No space left on device");
            room -= size;
        }
    } out;
    FileWriter w(out, OneColumn(SchemaNode::Leaf("v", Repetition::kRequired, PhysicalType::kInt64)),
                 Plain());
    for (int i = 0; i < 100; ++i) w.column(0).WriteInt64(i);
    w.AddRows(100);
    CHECK(w.buffered_bytes() >= 800);
    CHECK_THROWS_WITH_AS(w.FlushRowGroup(), "No space left on device", std::runtime_error);

    MemoryOutput mem;
    FileWriter ok(mem,
                  OneColumn(SchemaNode::Leaf("v", Repetition::kRequired, PhysicalType::kInt64)),
                  Plain());
    ok.column(0).WriteInt64(1);
    ok.AddRows(1);
    ok.Close();
    size_t size = mem.bytes.size();
    ok.Close();  // a second Close writes nothing
    CHECK(mem.bytes.size() == size);
    CHECK_THROWS_AS(ok.FlushRowGroup(), std::logic_error);
}
