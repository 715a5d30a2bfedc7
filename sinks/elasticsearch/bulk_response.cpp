#include "sinks/elasticsearch/bulk_response.h"

namespace cdcctl::es {
namespace {

// The string member `key` of `e`, or "" when there is none.
std::string_view StringMember(simdjson::dom::element e, std::string_view key) {
    std::string_view v;
    if (e[key].get_string().get(v)) return {};
    return v;
}

}  // namespace

bool BulkResponseParser::Parse(const std::string &body, size_t expected,
                               std::vector<ItemResult> *items, std::string *error) {
    items->clear();
    errors_ = false;
    simdjson::dom::element doc;
    if (auto err = parser_.parse(body).get(doc)) {
        *error =
            std::string("the _bulk response is not JSON (") + simdjson::error_message(err) + ")";
        return false;
    }
    bool errors = false;
    if (doc["errors"].get_bool().get(errors)) {
        *error = "the _bulk response has no \"errors\" member";
        return false;
    }
    errors_ = errors;
    simdjson::dom::array list;
    if (doc["items"].get_array().get(list)) {
        *error = "the _bulk response has no \"items\" array";
        return false;
    }
    items->reserve(expected);
    for (simdjson::dom::element entry : list) {
        simdjson::dom::object wrapper;
        if (entry.get_object().get(wrapper) || wrapper.size() != 1) {
            *error = "a _bulk response item is not an object with one action";
            return false;
        }
        simdjson::dom::element result = (*wrapper.begin()).value;
        ItemResult r;
        int64_t status = 0;
        if (result["status"].get_int64().get(status)) {
            *error = "a _bulk response item has no status";
            return false;
        }
        r.status = static_cast<int>(status);
        r.index = StringMember(result, "_index");
        r.id = StringMember(result, "_id");
        simdjson::dom::element e;
        bool has_error = !result["error"].get(e);
        if (has_error) {
            if (e.is_object()) {
                r.error_type = StringMember(e, "type");
                r.reason = StringMember(e, "reason");
            } else if (e.get_string().get(r.reason)) {
                r.reason = {};
            }
        }
        r.verdict = ClassifyItemStatus(r.status, has_error);
        items->push_back(r);
    }
    if (items->size() != expected) {
        *error = "the _bulk response has " + std::to_string(items->size()) + " items for " +
                 std::to_string(expected) + " actions";
        return false;
    }
    return true;
}

std::string ErrorSummary(const std::string &body) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (!parser.parse(body).get(doc)) {
        simdjson::dom::element e;
        if (!doc["error"].get(e)) {
            std::string_view reason;
            if (e.is_object()) {
                std::string_view type = StringMember(e, "type");
                reason = StringMember(e, "reason");
                if (!type.empty()) return std::string(type) + ": " + std::string(reason);
            } else if (!e.get_string().get(reason)) {
                return std::string(reason);
            }
        }
    }
    std::string s = body.substr(0, 200);
    for (char &c : s) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    return s.empty() ? "(empty body)" : s;
}

}  // namespace cdcctl::es
