// How the Parquet sink turns Debezium values into column values, seen through a column writer
// that records what it is given (no file): ZonedTimestamp text with any offset, and decimals.
// Whole files read back by real readers are tests/integration/parquet_sink_test.cpp.
#include "sinks/parquet/row_layout.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "sources/postgres/source_block.h"

using namespace cdcctl;

namespace {

// Records every call as text: the value, or "null".
class RecordingColumn : public parquet::ColumnWriter {
public:
    void WriteNull(int16_t, int16_t) override { calls.push_back("null"); }
    void WriteBool(bool v, int16_t) override { calls.push_back(v ? "true" : "false"); }
    void WriteInt32(int32_t v, int16_t) override { calls.push_back(std::to_string(v)); }
    void WriteInt64(int64_t v, int16_t) override { calls.push_back(std::to_string(v)); }
    void WriteFloat(float v, int16_t) override { calls.push_back(std::to_string(v)); }
    void WriteDouble(double v, int16_t) override { calls.push_back(std::to_string(v)); }
    void WriteBytes(std::string_view v, int16_t) override { calls.emplace_back(v); }
    const parquet::ColumnDescriptor &descriptor() const override { return descriptor_; }

    std::vector<std::string> calls;

private:
    parquet::ColumnDescriptor descriptor_{};
};

size_t Leaves(const parquet::SchemaNode &n) {
    if (!n.is_group()) return 1;
    size_t count = 0;
    for (const auto &c : n.children) count += Leaves(c);
    return count;
}

FieldSchema Column(std::string name, FieldType type, std::string_view semantic = {}) {
    FieldSchema f;
    f.name = std::move(name);
    f.type = type;
    f.semantic = std::string(semantic);
    f.optional = true;
    return f;
}

FieldSchema DecimalColumn(std::string name, int precision, int scale) {
    FieldSchema f = Column(std::move(name), FieldType::kBytes, semantic::kDecimal);
    f.parameters = {{"scale", std::to_string(scale)},
                    {"connect.decimal.precision", std::to_string(precision)}};
    return f;
}

// Writes one insert of `value` into a one-column table (row content) and returns what the
// column's writer got.
std::string WriteOne(const FieldSchema &column, Value value) {
    TableSchema table;
    table.topic = "foo.public.t";
    table.schema = "public";
    table.table = "t";
    table.columns = {column};
    ParquetRowLayout layout(table, ParquetContent::kRow, postgres::PostgresSourceBlock(), "foo");
    std::vector<std::unique_ptr<RecordingColumn>> owned;
    std::vector<parquet::ColumnWriter *> columns;
    for (size_t i = 0; i < Leaves(layout.schema()); ++i) {
        owned.push_back(std::make_unique<RecordingColumn>());
        columns.push_back(owned.back().get());
    }
    ChangeEvent e;
    e.op = Op::kCreate;
    e.has_after = true;
    e.after = {std::move(value)};
    layout.WriteEvent(e, columns);
    REQUIRE(owned[0]->calls.size() == 1);
    return owned[0]->calls[0];
}

std::string Zoned(std::string text) {
    return WriteOne(Column("at", FieldType::kString, semantic::kZonedTimestamp),
                    Value::String(std::move(text)));
}

constexpr int64_t k20240101Micros = int64_t{19723} * 86400 * 1000000;

}  // namespace

TEST_CASE("a ZonedTimestamp in UTC becomes microseconds since the epoch") {
    CHECK(Zoned("2024-01-01T00:00:00Z") == std::to_string(k20240101Micros));
    CHECK(Zoned("2024-01-01T00:00:00.123456Z") == std::to_string(k20240101Micros + 123456));
    CHECK(Zoned("1969-12-31T23:59:59.999999Z") == "-1");
}

TEST_CASE("a ZonedTimestamp with an offset becomes the same instant in UTC") {
    CHECK(Zoned("2024-01-01T09:00:00+09:00") == std::to_string(k20240101Micros));
    CHECK(Zoned("2023-12-31T19:00:00-05:00") == std::to_string(k20240101Micros));
    CHECK(Zoned("2024-01-01T05:30:15.5+05:30:15") == std::to_string(k20240101Micros + 500000));
}

TEST_CASE("ZonedTimestamp infinities and values beyond int64 microseconds clamp") {
    CHECK(Zoned("infinity") == std::to_string(INT64_MAX));
    CHECK(Zoned("-infinity") == std::to_string(-INT64_MAX));
    CHECK(Zoned("+294276-12-31T23:59:59.999999Z") == std::to_string(INT64_MAX));
}

TEST_CASE("a ZonedTimestamp that is not an instant stops the run") {
    CHECK_THROWS_AS(Zoned("2024-01-01T00:00:00"), SinkError);
    CHECK_THROWS_AS(Zoned("2023-02-29T00:00:00Z"), SinkError);
}

TEST_CASE("decimals become INT32, INT64 or fixed bytes by precision, beyond 38 digits text") {
    const Value v = Value::Bytes(std::string("\xF6\x46", 2));  // -2490
    CHECK(WriteOne(DecimalColumn("d", 5, 2), v) == "-2490");
    CHECK(WriteOne(DecimalColumn("d", 18, 2), v) == "-2490");
    CHECK(WriteOne(DecimalColumn("d", 20, 2), v) == std::string(7, '\xFF') + "\xF6\x46");
    CHECK(WriteOne(DecimalColumn("d", 40, 2), v) == "-24.90");
}

TEST_CASE("a decimal too wide for its fixed bytes stops the run") {
    // 2^72 needs ten bytes; DECIMAL(20, 0) has nine.
    std::string wide("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", 10);
    CHECK_THROWS_AS(WriteOne(DecimalColumn("d", 20, 0), Value::Bytes(wide)), SinkError);
}
