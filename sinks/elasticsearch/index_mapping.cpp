#include "sinks/elasticsearch/index_mapping.h"

#include "core/json/json_writer.h"

namespace cdcctl::es {
namespace {

using namespace std::string_view_literals;

void AppendType(std::string *out, std::string_view type) {
    out->append(R"({"type":")"sv);
    out->append(type);
    out->append(R"("})"sv);
}

void AppendProperties(std::string *out, const std::vector<FieldSchema> &fields, bool converted) {
    out->append(R"({"properties":{)"sv);
    for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out->push_back(',');
        json::AppendString(out, fields[i].name);
        out->push_back(':');
        AppendFieldMapping(out, fields[i], converted);
    }
    out->append("}}");
}

std::string_view NumericType(FieldType t) {
    switch (t) {
        case FieldType::kBoolean:
            return "boolean";
        case FieldType::kInt8:
            return "byte";
        case FieldType::kInt16:
            return "short";
        case FieldType::kInt32:
            return "integer";
        case FieldType::kInt64:
            return "long";
        case FieldType::kFloat32:
            return "float";
        case FieldType::kFloat64:
            return "double";
        default:
            return "";
    }
}

}  // namespace

void AppendFieldMapping(std::string *out, const FieldSchema &f, bool converted) {
    const std::string &sem = f.semantic;
    if (f.type == FieldType::kArray) {
        if (!f.fields.empty())
            AppendFieldMapping(out, f.fields[0], converted);
        else
            AppendType(out, "keyword");
        return;
    }
    if (sem == semantic::kDate || sem == semantic::kConnectDate) {
        if (converted)
            out->append(R"({"type":"date","format":"strict_date"})"sv);
        else
            AppendType(out, "integer");
        return;
    }
    if (sem == semantic::kTimestamp || sem == semantic::kConnectTimestamp) {
        if (converted)
            out->append(R"({"type":"date","format":"strict_date_optional_time"})"sv);
        else
            out->append(R"({"type":"date","format":"epoch_millis"})"sv);
        return;
    }
    if (sem == semantic::kMicroTimestamp || sem == semantic::kNanoTimestamp) {
        if (converted)
            out->append(R"({"type":"date","format":"strict_date_optional_time"})"sv);
        else
            AppendType(out, "long");
        return;
    }
    if (sem == semantic::kZonedTimestamp) {
        out->append(R"({"type":"date","format":"strict_date_optional_time"})"sv);
        return;
    }
    if (sem == semantic::kDecimal) {
        AppendType(out, converted ? "keyword" : "binary");
        return;
    }
    if (sem == semantic::kVariableScaleDecimal) {
        if (converted)
            AppendType(out, "keyword");
        else
            out->append(
                R"({"properties":{"scale":{"type":"integer"},"value":{"type":"binary"}}})"sv);
        return;
    }
    if (sem == semantic::kUuid || sem == semantic::kEnum || sem == semantic::kZonedTime) {
        AppendType(out, "keyword");
        return;
    }
    if (sem == semantic::kJson) {
        AppendType(out, "text");
        return;
    }
    // decimal_handling_mode: string gives a plain string; the source type tells it from text.
    constexpr uint32_t kNumericOid = 1700;
    if (f.type == FieldType::kString &&
        (f.source_type_oid == kNumericOid || f.source_type == "numeric")) {
        AppendType(out, "keyword");
        return;
    }
    switch (f.type) {
        case FieldType::kString:
            out->append(
                R"({"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}})"sv);
            return;
        case FieldType::kBytes:
            AppendType(out, "binary");
            return;
        case FieldType::kStruct:
            AppendProperties(out, f.fields, converted);
            return;
        default:
            AppendType(out, NumericType(f.type));
            return;
    }
}

std::string IndexCreateBody(const TableSchema &table, EsDocument document) {
    std::string out = R"({"mappings":{"properties":{)";
    if (document == EsDocument::kRow) {
        for (size_t i = 0; i < table.columns.size(); ++i) {
            if (i > 0) out.push_back(',');
            json::AppendString(&out, table.columns[i].name);
            out.push_back(':');
            AppendFieldMapping(&out, table.columns[i], true);
        }
    } else {
        out += R"("before":)";
        AppendProperties(&out, table.columns, false);
        out += R"(,"after":)";
        AppendProperties(&out, table.columns, false);
        out += R"(,"op":{"type":"keyword"},"ts_ms":{"type":"date","format":"epoch_millis"})";
    }
    out += "}}}";
    return out;
}

}  // namespace cdcctl::es
