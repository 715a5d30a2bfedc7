// The indices the sink writes to: each table's events go to the index its template names
// (BulkEncoder::IndexOf), and a missing index is created with a mapping derived from the table
// (index_mapping.h) before the first document reaches it, so that Elasticsearch does not guess
// the field types from whichever row comes first. An index that exists is used as it is.
//
// This is the one place that decides which index a table's documents land in and prepares it,
// so that a later way of preparing one (a full-refresh sync writing into a fresh index and then
// swapping an alias onto it) changes this class and not the writer.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "core/event/schema.h"
#include "sinks/elasticsearch/bulk_request.h"
#include "sinks/elasticsearch/es_config.h"
#include "sinks/elasticsearch/node_set.h"

namespace cdcctl::es {

// `s` with everything but unreserved characters (RFC 3986) percent-encoded, for a URL path.
std::string PercentEncode(std::string_view s);

class IndexManager {
public:
    // All three must outlive the manager.
    IndexManager(const ElasticsearchSinkConfig &cfg, BulkEncoder &encoder, SetupClient &setup)
        : cfg_(cfg), encoder_(encoder), setup_(setup) {}

    // Makes sure the index of `table` exists, creating it when it does not; throws SinkError when
    // it can be neither found nor created. Cheap for the table of the previous call, which is
    // what consecutive events mostly have.
    void Ensure(const TableSchemaPtr &table) {
        if (table.get() != last_ensured_) EnsureSlow(table);
    }

private:
    void EnsureSlow(const TableSchemaPtr &table);
    [[noreturn]] void Fail(const std::string &index, const HttpResponse &r, size_t node,
                           const char *what);

    const ElasticsearchSinkConfig &cfg_;
    BulkEncoder &encoder_;
    SetupClient &setup_;
    std::unordered_set<std::string> known_indices_;
    const TableSchema *last_ensured_ = nullptr;
};

}  // namespace cdcctl::es
