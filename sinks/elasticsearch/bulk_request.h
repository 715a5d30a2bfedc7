// Building _bulk request bodies.
//
// Wire format (Elasticsearch "Bulk API", also OpenSearch): NDJSON, each line a JSON object ending
// in "\n", including the last one. Per document an action line and, except for delete, the
// source line:
//   {"index":{"_index":"foo.public.product","_id":"1","version":123,"version_type":"external_gte"}}
//   {"id":1,"name":"kettle","price":"24.90","added":"2026-01-15"}
//   {"delete":{"_index":"foo.public.product","_id":"2","version":456,"version_type":"external_gte"}}
// No "_type": 7.x defaults to _doc and 8.x/OpenSearch have none.
//
// version is ChangeEvent::source.commit_lsn (the commit LSN of the event's transaction; the
// snapshot's consistent point for snapshot reads), so with external_gte an older change can
// never overwrite a newer one, changes of one transaction apply in order, and a replay gets 409
// version conflicts instead of regressing documents.
//
// Document ids (id: key): the key column's value as text (integers in decimal, strings as they
// are, bytes in base64). Composite keys join the columns' texts with '|', each text with '\' and
// '|' escaped by a '\' ("a|b" + "c" -> "a\|b|c"), so that different keys never share an id.
// id: position: "<topic>/<commit_lsn>/<lsn>/<key>" (one document per event, deletes included,
// as the same text again on a replay). id: none: no _id and no version; Elasticsearch picks ids
// and deletes cannot be applied (they are skipped).
//
// Row documents: the after state (position mode, deletes: the before state), one member per
// column, with dates, timestamps and precise decimals converted as index_mapping.h describes.
// Envelope documents: the EnvelopeEncoder's Debezium event, unchanged. Truncate events have no
// document and are skipped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/event/change_event.h"
#include "core/json/envelope_encoder.h"
#include "sinks/elasticsearch/es_config.h"

namespace cdcctl::es {

// One document in a request body: its bytes and the batch it came from.
struct BulkItem {
    uint64_t seq = 0;      // the batch's seq
    size_t begin = 0;      // the action line's first byte
    size_t source = 0;     // the source line's first byte (== end for deletes)
    size_t end = 0;        // one past the last line's "\n"
    uint64_t id_hash = 0;  // index and _id; 0: no id (never held back for ordering)
    int attempts = 0;      // retries of this item so far
};

struct BulkRequest {
    std::string body;  // NDJSON, uncompressed
    std::vector<BulkItem> items;
    std::string wire;  // the body as sent (gzip), kept for whole-request retries
    int attempts = 0;  // whole-request retries so far
    void Clear() {
        body.clear();
        items.clear();
        wire.clear();
        attempts = 0;
    }
};

struct BulkEncoderConfig {
    EsDocument document = EsDocument::kRow;
    EsIdMode id = EsIdMode::kKey;
    EsOnDelete on_delete = EsOnDelete::kDelete;
    std::string index = "${topic}";
    std::string topic_prefix;
    std::string connector = "postgresql";
};

class BulkEncoder {
public:
    explicit BulkEncoder(BulkEncoderConfig config);

    // Appends the action (and source) line of `event` to `body` and describes them in `item`
    // (seq left to the caller). False when the event has no document (truncate, a delete that
    // is ignored). Throws SinkError when the index name is invalid or, with id: key, the table
    // has no key.
    bool Append(const ChangeEvent &event, std::string *body, BulkItem *item);

    // The index `table`'s events go to: the template filled in and lowercased.
    const std::string &IndexOf(const TableSchemaPtr &table);

private:
    struct Entry {
        TableSchemaPtr table;
        std::string index;
        std::string index_action;       // {"index":{"_index":"<index>"
        std::string delete_action;      // {"delete":{"_index":"<index>"
        std::vector<std::string> keys;  // per column: "<escaped name>":
        uint64_t index_hash = 0;
    };
    Entry &EntryFor(const TableSchemaPtr &table);
    void AppendRowDocument(std::string *out, const Entry &entry, const Row &row);
    void BuildId(const Entry &entry, const ChangeEvent &event, const Row &key_row);

    BulkEncoderConfig config_;
    EnvelopeEncoder envelope_;
    std::unordered_map<const TableSchema *, Entry> cache_;
    std::unordered_map<std::string, const TableSchema *> by_topic_;
    const TableSchema *last_table_ = nullptr;
    Entry *last_entry_ = nullptr;
    std::string id_;  // the current document id, unescaped; reused
};

// Fills an index template: ${topic}, ${schema}, ${table}, then lowercases. Returns "" and sets
// *error when the result is not a valid index name.
std::string ResolveIndex(std::string_view index_template, const TableSchema &table,
                         std::string *error);

// Value conversions for row documents.
void AppendIsoDate(std::string *out, int64_t days_since_epoch);  // "2026-01-15"
// `value` in units of 1/units_per_second since the epoch (1000, 1000000, 1000000000):
// "2026-01-15T10:00:00", plus as many fraction digits as the units have when not zero.
void AppendIsoTimestamp(std::string *out, int64_t value, int64_t units_per_second);
// A Kafka Connect Decimal's unscaled big-endian two's-complement bytes as decimal text.
void AppendDecimalText(std::string *out, std::string_view unscaled, int scale);

// Cuts the encoded events into requests of at most max_docs documents and about max_bytes
// (a single document larger than max_bytes travels alone).
class BulkAssembler {
public:
    BulkAssembler(size_t max_bytes, size_t max_docs);

    // Encodes `event` into the open request; requests that are full are appended to `sealed`.
    void Add(BulkEncoder &encoder, const ChangeEvent &event, uint64_t seq,
             std::vector<std::unique_ptr<BulkRequest>> *sealed);
    // The open request, if it holds anything.
    std::unique_ptr<BulkRequest> TakeOpen();
    bool empty() const { return open_->items.empty(); }
    // The seq of the open request's first item (only when !empty()).
    uint64_t first_seq() const { return open_->items.front().seq; }
    // Gives a sent request back for reuse (keeps the buffers' capacity).
    void Recycle(std::unique_ptr<BulkRequest> request);

private:
    std::unique_ptr<BulkRequest> Fresh();
    size_t max_bytes_, max_docs_;
    std::unique_ptr<BulkRequest> open_;
    std::vector<std::unique_ptr<BulkRequest>> spare_;
};

// The ordering rule: a request is not sent while an earlier request that is still unfinished
// (in flight or waiting to be retried) holds one of its document ids, so that two writes of
// one document never race. Ids are compared by hash; a collision only delays a request.
class IdGate {
public:
    bool CanSend(const BulkRequest &request) const;
    void Hold(const BulkRequest &request);
    void Release(const BulkItem &item);
    size_t held() const { return held_.size(); }

private:
    std::unordered_map<uint64_t, int> held_;
};

}  // namespace cdcctl::es
