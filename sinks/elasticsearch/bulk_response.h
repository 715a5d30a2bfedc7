// Reading a _bulk response.
//
// Wire format: {"took":N,"errors":bool,"items":[{"<action>":{"_index":..,"_id":..,"status":N,
// "result":..,"error":{"type":..,"reason":..,...}}}, ...]} with exactly one item per action of
// the request, in request order. "errors": false means every item succeeded; when true, every
// item is read and classified (retry.h): nothing is dropped silently. A response that is not
// JSON, or whose item count differs from the request's, is a protocol error.
//
// One simdjson parser is reused for every response; the string_views in the results point into
// it and stay valid until the next Parse.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "sinks/elasticsearch/retry.h"

namespace cdcctl::es {

struct ItemResult {
    ItemVerdict verdict = ItemVerdict::kDone;
    int status = 0;
    std::string_view index, id;
    std::string_view error_type, reason;  // empty when the item has no error
};

class BulkResponseParser {
public:
    // Reads `body` (the response to a request of `expected` items). On success fills `items`
    // (cleared first) and returns true; else sets *error.
    bool Parse(const std::string &body, size_t expected, std::vector<ItemResult> *items,
               std::string *error);
    // Whether the last response said "errors": true.
    bool errors() const { return errors_; }

private:
    simdjson::dom::parser parser_;
    bool errors_ = false;
};

// The "type: reason" of an error response body ({"error":{"type","reason"},"status"}), or the
// start of the body when it is not one; for messages.
std::string ErrorSummary(const std::string &body);

}  // namespace cdcctl::es
