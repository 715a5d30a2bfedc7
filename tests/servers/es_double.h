// A strict double of the Elasticsearch REST subset cdcctl's sink uses, written from the
// Elasticsearch reference (no Elasticsearch server can be installed on these machines).
//
// It speaks HTTP/1.1 on 127.0.0.1 (keep-alive, Content-Length and chunked request bodies,
// Content-Encoding: gzip request bodies) and serves:
//   GET  /                         cluster info: version.number, version.distribution
//                                  ("opensearch" when Options::distribution says so), tagline
//   HEAD /<index>                  200 or 404
//   PUT  /<index>                  create with {"settings":..,"mappings":..}; 400
//                                  resource_already_exists_exception when it exists
//   GET  /<index>/_mapping
//   POST /_bulk, /<index>/_bulk    application/x-ndjson only; the body must end with "\n";
//                                  index / create / delete actions with _index, _id, version,
//                                  version_type (external, external_gte); answers
//                                  {"took","errors","items":[...]} with per-item status,
//                                  _version, result and error {type, reason}
//   GET  /<index>/_doc/<id>        {"_index","_id","_version","found","_source"}
//   POST /<index>/_refresh, GET /<index>/_count, GET|POST /<index>/_search (match_all, size)
// Documents are stored per index with their version; external versioning is enforced as the
// reference says (external: new > current, external_gte: new >= current, else 409
// version_conflict_engine_exception; a delete leaves a tombstone version that later writes are
// compared against). A malformed NDJSON body (bad JSON, an action without its source line, a
// missing trailing newline, a wrong Content-Type) gets the 400 or 406 the reference documents.
// A document whose field changes JSON type against the stored mapping (a string into a field
// first seen as a number, ...) gets a per-item 400 mapper_parsing_exception, like dynamic
// mapping does.
//
// Faults are injected on request and apply to the next `count` matching requests or items.
//
// Also served: GET /_cluster/health (always green), PUT|POST /<index>/_doc/<id>,
// POST /<index>/_doc, PUT /<index>/_create/<id>, DELETE /<index>/_doc/<id> (the bulk item rules,
// parameters from the query string), DELETE /<index>, the bulk "update" action with "doc",
// "doc_as_upsert" and "upsert" (no scripts), and, for the standalone program, a control API that
// needs no credentials and is never faulted or logged: POST /_double/fault
// {"fault":"reject_429|unavailable_503|item_429|mapper_parsing|reset|slow","count":N,
// "doc_id":"..","delay_ms":N,"endpoint":".."}, DELETE /_double/fault, GET /_double/stats.
//
// Like the reference, _count and _search see a write only after a refresh: POST _refresh, a
// write with ?refresh=true|wait_for, or one second after the first unrefreshed write (the
// default index.refresh_interval). GET _doc is real time. Documents(), Get() see every write.
// Where the double deviates from the reference, the .cpp says so next to the code.
//
// Where the double differs from Elasticsearch (it is not Elasticsearch):
// - parse failures are always mapper_parsing_exception (8.8+ says document_parsing_exception);
// - delete tombstones are kept for the whole test (Elasticsearch: index.gc_deletes, 60s);
// - an action line without its source line at the end of the body is rejected (Elasticsearch
//   drops it silently); update scripts are refused;
// - no date detection or date format checks; one shard, _primary_term 1;
// - _search knows match_all and ids only; hits are sorted by _id; filter_path is ignored and
//   responses are never compressed; writes become searchable one second after the first
//   unrefreshed write (or on _refresh / ?refresh=true);
// - an API key is compared as the raw header value, and there are no 403 permission checks;
// - parse error reasons carry simdjson's wording; with store = false every write is "created"
//   and no versioning or mapping check is made.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cdcctl::testing {

class EsDouble {
public:
    struct Options {
        std::string version = "8.13.4";  // what GET / reports
        std::string distribution;        // "" (Elasticsearch) or "opensearch"
        bool store = true;               // false: accept and count, keep nothing (bench)
        std::string user, password;      // when set, basic auth is required (401)
        std::string api_key;             // when set, "ApiKey <this>" is accepted too
        int port = 0;                    // 0: a free port
    };

    enum class Fault {
        kReject429,         // whole request: 429 with an es_rejected_execution_exception body
        kUnavailable503,    // whole request: 503
        kItem429,           // one bulk item: status 429 es_rejected_execution_exception
        kMapperParsing,     // one bulk item: status 400 mapper_parsing_exception
        kResetMidResponse,  // the request is applied, then the connection is closed after part
                            // of the response was sent
        kSlow,              // the response is delayed by `delay`
    };
    struct FaultRule {
        Fault fault;
        int count = 1;       // how many requests (or items) it hits; -1: until cleared
        std::string doc_id;  // item faults: only items with this _id ("" any)
        std::chrono::milliseconds delay{0};  // kSlow
        // Request faults: only requests whose path ends with this; "" for every request (the
        // control endpoint excepted). The default hits /_bulk and /<index>/_bulk only, so that
        // a client's startup probes (GET /, HEAD /<index>) are not what a fault consumes.
        std::string endpoint = "/_bulk";
    };

    explicit EsDouble(Options options);
    EsDouble() : EsDouble(Options{}) {}
    ~EsDouble();  // stops serving and closes every connection
    EsDouble(const EsDouble &) = delete;
    EsDouble &operator=(const EsDouble &) = delete;

    int port() const;
    std::string url() const;  // http://127.0.0.1:<port>

    void Inject(FaultRule rule);
    void ClearFaults();

    struct StoredDoc {
        std::string source;  // the _source JSON as received
        int64_t version = 0;
    };
    std::optional<StoredDoc> Get(const std::string &index, const std::string &id) const;
    // Every live document of the index, by id.
    std::map<std::string, StoredDoc> Documents(const std::string &index) const;
    bool IndexExists(const std::string &index) const;
    // The mappings JSON the index was created with ("" when created implicitly by a write).
    std::string CreatedMapping(const std::string &index) const;

    struct RequestRecord {
        std::string method, path;
        std::map<std::string, std::string> headers;  // lowercase names
        std::string body;                            // after gzip decoding
        int status = 0;
        std::string target;  // path and query string as sent
    };
    std::vector<RequestRecord> Requests() const;
    // Bulk items accepted (2xx, a 404 not_found delete, or 409), also with store = false. With
    // store = false the request log keeps method, path and status but no headers or bodies.
    uint64_t bulk_items() const;
    uint64_t conflicts() const;  // bulk items answered 409 version_conflict_engine_exception
    int max_in_flight() const;   // the most requests being processed at once
    int connections_opened() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cdcctl::testing
