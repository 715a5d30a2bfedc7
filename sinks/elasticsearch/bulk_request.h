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
// version is ChangeEvent::source.commit_order (PostgreSQL: the commit LSN of the event's
// transaction; the snapshot's consistent point for snapshot reads), so with external_gte an older
// change can never overwrite a newer one, changes of one transaction apply in order, and a replay
// gets 409 version conflicts instead of regressing documents.
//
// Document ids (id: key): the key column's value as text (integers in decimal, strings as they
// are, bytes in base64). Composite keys join the columns' texts with '|', each text with '\' and
// '|' escaped by a '\' ("a|b" + "c" -> "a\|b|c"), so that different keys never share an id.
// id: position: "<topic>/<commit_order>/<event_order>/<ordinal>", one document per event,
// deletes included. The ordinal counts the consecutive events of one table that share both
// orders (PostgreSQL: the changes of one WAL record, such as a multi-row INSERT, or a table's
// snapshot rows, which all carry the consistent point), from 0 in source order; replays start at transaction
// boundaries, so a replay names every event as before. id: none: no _id and no version;
// Elasticsearch picks ids and deletes cannot be applied (they are skipped).
//
// An update that changes the key (id: key; pgoutput sends the old key as the before state) is a
// delete of the document under the old key followed by the index of the new one, both at the
// event's version, whatever on_delete says: the row was not deleted, it moved.
//
// Row documents: the after state (position mode, deletes: the before state), one member per
// column, with dates, timestamps and precise decimals converted as index_mapping.h describes.
// Unchanged TOASTed values (REPLICA IDENTITY DEFAULT) have no value to write and become the
// placeholder "__debezium_unavailable_value"; the first such value of a table logs a warning.
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
    // The action line's "_index":..,"_id":".." bytes, relative to begin (id_len 0: no id).
    uint32_t id_at = 0;
    uint32_t id_len = 0;
    int attempts = 0;         // retries of this item so far
    bool superseded = false;  // a later item of the same document replaced it (not sent)
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
    const SourceBlock *source_block = nullptr;  // the source's Debezium source struct
};

class BulkEncoder {
public:
    explicit BulkEncoder(BulkEncoderConfig config);

    // Appends the action (and source) line of `event` to `body` and describes them in `item`
    // (seq left to the caller). False when the event has no document (truncate, a delete that
    // is ignored). Throws SinkError when the index name is invalid or, with id: key, the table
    // has no key.
    bool Append(const ChangeEvent &event, std::string *body, BulkItem *item);
    // With id: key, for an update whose before state has another key than its after state:
    // appends the delete of the document under the old key (call it before Append). False, and
    // nothing appended, for every other event.
    bool AppendKeyChange(const ChangeEvent &event, std::string *body, BulkItem *item);

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
        // id: position: the (commit_order, event_order) of the last event and its ordinal.
        uint64_t last_commit_order = 0, last_event_order = 0, ordinal = 0;
        bool seen_position = false;
        bool warned_unavailable = false;
    };
    Entry &EntryFor(const TableSchemaPtr &table);
    void AppendRowDocument(std::string *out, Entry &entry, const Row &row);
    // The document id of `row` (id: key) or of the event (id: position) into *out, unescaped.
    // Throws SinkError when id: key and the table has no key.
    void BuildId(const Entry &entry, const ChangeEvent &event, const Row &key_row,
                 std::string *out);
    // Appends ,"_id":"..","version":..,"version_type":"external_gte" and fills in the item's
    // id fields; `prefix` is the length of the action's {"index":{ or {"delete":{.
    void AppendIdFields(const Entry &entry, const ChangeEvent &event, const std::string &id,
                        size_t prefix, std::string *body, BulkItem *item);

    BulkEncoderConfig config_;
    EnvelopeEncoder envelope_;
    std::unordered_map<const TableSchema *, Entry> cache_;
    std::unordered_map<std::string, const TableSchema *> by_topic_;
    const TableSchema *last_table_ = nullptr;
    Entry *last_entry_ = nullptr;
    std::string id_;      // the current document id, unescaped; reused
    std::string old_id_;  // the old key's id of a key-changing update; reused
};

// Fills an index template: ${topic}, ${schema}, ${table}, then lowercases. Returns "" and sets
// *error when the result is not a valid index name.
std::string ResolveIndex(std::string_view index_template, const TableSchema &table,
                         std::string *error);

// Cuts the encoded events into requests of at most max_docs documents and about max_bytes
// (a single document larger than max_bytes travels alone).
//
// A request holds at most one write per document: an item whose index and _id an earlier item
// of the open request has replaces it (last write wins, as it would when both were applied in
// order). Otherwise a partial retry could reorder them: the first gets a 429, the second is
// applied, the first is sent again and, at the same version (one transaction), wins. The
// replacing item takes the lower seq of the two, so the earlier event's batch stays unfinished
// until the item that carries its effect is done.
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
    void Place(BulkItem item, std::vector<std::unique_ptr<BulkRequest>> *sealed);
    // Drops the superseded items (and their bytes) of `request`.
    void Compact(BulkRequest *request);
    // Appends the compacted `request` to `sealed` unless nothing is left of it.
    void Seal(std::unique_ptr<BulkRequest> request,
              std::vector<std::unique_ptr<BulkRequest>> *sealed);
    size_t max_bytes_, max_docs_;
    std::unique_ptr<BulkRequest> open_;
    std::unordered_map<uint64_t, size_t> open_ids_;  // id_hash -> the open request's item
    std::vector<std::unique_ptr<BulkRequest>> spare_;
    std::string scratch_;
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
