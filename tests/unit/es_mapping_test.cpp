// The mapping the Elasticsearch sink creates a missing index with, per column type, for row and
// envelope documents.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <memory>
#include <string>

#include "sinks/elasticsearch/index_mapping.h"

using namespace cdcctl;
using namespace cdcctl::es;

namespace {

FieldSchema Field(std::string name, FieldType type, std::string_view sem = {}) {
    FieldSchema f;
    f.name = std::move(name);
    f.type = type;
    f.semantic = std::string(sem);
    return f;
}

std::string Mapping(const FieldSchema &f, bool converted = true) {
    std::string out;
    AppendFieldMapping(&out, f, converted);
    return out;
}

}  // namespace

TEST_CASE("numbers map to their Elasticsearch types, booleans to boolean") {
    CHECK(Mapping(Field("a", FieldType::kBoolean)) == R"({"type":"boolean"})");
    CHECK(Mapping(Field("a", FieldType::kInt8)) == R"({"type":"byte"})");
    CHECK(Mapping(Field("a", FieldType::kInt16)) == R"({"type":"short"})");
    CHECK(Mapping(Field("a", FieldType::kInt32)) == R"({"type":"integer"})");
    CHECK(Mapping(Field("a", FieldType::kInt64)) == R"({"type":"long"})");
    CHECK(Mapping(Field("a", FieldType::kFloat32)) == R"({"type":"float"})");
    CHECK(Mapping(Field("a", FieldType::kFloat64)) == R"({"type":"double"})");
}

TEST_CASE(
    "strings are text with a keyword sub-field; uuid, enum are keywords; json is text; bytes "
    "binary") {
    CHECK(Mapping(Field("a", FieldType::kString)) ==
          R"({"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}})");
    CHECK(Mapping(Field("a", FieldType::kString, semantic::kUuid)) == R"({"type":"keyword"})");
    CHECK(Mapping(Field("a", FieldType::kString, semantic::kEnum)) == R"({"type":"keyword"})");
    CHECK(Mapping(Field("a", FieldType::kString, semantic::kJson)) == R"({"type":"text"})");
    CHECK(Mapping(Field("a", FieldType::kBytes)) == R"({"type":"binary"})");
}

TEST_CASE("dates and timestamps are date fields in row documents, Debezium numbers in envelopes") {
    CHECK(Mapping(Field("d", FieldType::kInt32, semantic::kDate)) ==
          R"({"type":"date","format":"strict_date"})");
    CHECK(Mapping(Field("d", FieldType::kInt32, semantic::kDate), false) ==
          R"({"type":"integer"})");
    CHECK(Mapping(Field("t", FieldType::kInt64, semantic::kMicroTimestamp)) ==
          R"({"type":"date","format":"strict_date_optional_time"})");
    CHECK(Mapping(Field("t", FieldType::kInt64, semantic::kMicroTimestamp), false) ==
          R"({"type":"long"})");
    CHECK(Mapping(Field("t", FieldType::kInt64, semantic::kTimestamp), false) ==
          R"({"type":"date","format":"epoch_millis"})");
    CHECK(Mapping(Field("z", FieldType::kString, semantic::kZonedTimestamp)) ==
          R"({"type":"date","format":"strict_date_optional_time"})");
    CHECK(Mapping(Field("t", FieldType::kInt64, semantic::kMicroTime)) == R"({"type":"long"})");
}

TEST_CASE("decimals: string and precise are keywords (exact text), double is double") {
    FieldSchema as_string = Field("p", FieldType::kString);
    as_string.source_type = "numeric";
    CHECK(Mapping(as_string) == R"({"type":"keyword"})");
    CHECK(Mapping(Field("p", FieldType::kBytes, semantic::kDecimal)) == R"({"type":"keyword"})");
    CHECK(Mapping(Field("p", FieldType::kStruct, semantic::kVariableScaleDecimal)) ==
          R"({"type":"keyword"})");
    CHECK(Mapping(Field("p", FieldType::kFloat64)) == R"({"type":"double"})");
    CHECK(Mapping(Field("p", FieldType::kBytes, semantic::kDecimal), false) ==
          R"({"type":"binary"})");
}

TEST_CASE("arrays map as their items") {
    FieldSchema a = Field("tags", FieldType::kArray);
    a.fields = {Field("", FieldType::kInt32, semantic::kDate)};
    CHECK(Mapping(a) == R"({"type":"date","format":"strict_date"})");
}

TEST_CASE("the create body lists every column for rows, before/after for envelopes, and is JSON") {
    TableSchema t;
    t.columns = {Field("id", FieldType::kInt64), Field("name", FieldType::kString)};
    std::string row = IndexCreateBody(t, EsDocument::kRow);
    CHECK(
        row ==
        R"({"mappings":{"properties":{"id":{"type":"long"},"name":{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}}}})");
    std::string env = IndexCreateBody(t, EsDocument::kEnvelope);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(!parser.parse(env).get(doc));
    std::string_view type;
    CHECK(
        !doc["mappings"]["properties"]["after"]["properties"]["id"]["type"].get_string().get(type));
    CHECK(type == "long");
    CHECK(!doc["mappings"]["properties"]["op"]["type"].get_string().get(type));
    CHECK(type == "keyword");
}
