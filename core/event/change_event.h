// A change event as Debezium models it: op, before, after, source position, ts_ms. Events travel
// in batches; a batch carries the source offset that becomes safe to confirm once the sink has
// durably accepted the batch and every batch before it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/event/schema.h"
#include "core/event/value.h"

namespace cdcctl {

enum class Op : char {
    kCreate = 'c',
    kUpdate = 'u',
    kDelete = 'd',
    kRead = 'r',  // snapshot read
    kTruncate = 't',
};

// Debezium's source.snapshot marker.
enum class SnapshotMarker : uint8_t { kFalse, kTrue, kFirst, kLast, kFirstInDataCollection, kLastInDataCollection };
std::string_view SnapshotMarkerName(SnapshotMarker m);  // "false", "true", "first", "last", ...

// Where an event came from, in terms every sink understands. The connector's own source-block
// values (PostgreSQL's txId and lsn, MySQL's file and pos, ...) are in `values`, in the order its
// SourceBlock declares them.
struct SourceInfo {
    int64_t ts_ms = 0;  // commit time at the source (snapshot: the time the row was read)
    SnapshotMarker snapshot = SnapshotMarker::kFalse;
    // Grows with commit order and is equal for every event of one transaction, so sinks use it as
    // the external version and the ordering key (an older change must never overwrite a newer
    // one). Snapshot reads carry a value below every transaction the stream delivers after them.
    // 0: none.
    uint64_t commit_order = 0;
    // The event's own position, growing within a transaction (PostgreSQL: the change's LSN).
    // 0: none.
    uint64_t event_order = 0;
    // Debezium's source.sequence, as the connector writes it (PostgreSQL: ["<last commit lsn>",
    // "<lsn>"]); empty: null.
    std::string sequence;
    // The connector's own values, SourceBlock::value_count of them; null unless set.
    std::vector<Value> values;

    // Back to the defaults, keeping the storage of the values and the sequence.
    void Reset() {
        ts_ms = 0;
        snapshot = SnapshotMarker::kFalse;
        commit_order = 0;
        event_order = 0;
        sequence.clear();
        for (Value &v : values) v.SetNull();
    }
    bool operator==(const SourceInfo &o) const {
        return ts_ms == o.ts_ms && snapshot == o.snapshot && commit_order == o.commit_order &&
               event_order == o.event_order && sequence == o.sequence && values == o.values;
    }
};

struct ChangeEvent {
    Op op = Op::kCreate;
    TableSchemaPtr table;
    bool has_before = false;
    bool has_after = false;
    Row before;  // valid when has_before: same length as table->columns
    Row after;   // valid when has_after
    SourceInfo source;
    int64_t ts_ms = 0;  // when cdcctl processed the event
};

// A source offset, as Kafka Connect keeps them: string keys and values owned by the source,
// stored in the state file and handed back to the source on restart.
using Offset = std::map<std::string, std::string>;

// Events are reused: Add() hands back a slot whose rows keep their capacity from earlier batches.
class Batch {
public:
    ChangeEvent &Add() {
        if (count_ == events_.size()) events_.emplace_back();
        ChangeEvent &e = events_[count_++];
        e.has_before = false;
        e.has_after = false;
        e.source.Reset();
        return e;
    }
    void Clear() {
        count_ = 0;
        checkpoint.reset();
        approx_bytes = 0;
    }
    // Drop the last event added (a source that started an event and then filtered it out).
    void PopBack() { if (count_ > 0) --count_; }
    size_t size() const { return count_; }
    bool empty() const { return count_ == 0; }
    ChangeEvent &operator[](size_t i) { return events_[i]; }
    const ChangeEvent &operator[](size_t i) const { return events_[i]; }
    ChangeEvent *begin() { return events_.data(); }
    ChangeEvent *end() { return events_.data() + count_; }
    const ChangeEvent *begin() const { return events_.data(); }
    const ChangeEvent *end() const { return events_.data() + count_; }

    // Set by the runtime: increases by one per batch handed to the sink.
    uint64_t seq = 0;
    // The offset that may be confirmed once this batch and all before it are durable; empty when
    // the batch ends inside a transaction (nothing new may be confirmed yet).
    std::optional<Offset> checkpoint;
    // A rough size of the events, maintained by the source, for batch limits.
    size_t approx_bytes = 0;

private:
    std::vector<ChangeEvent> events_;
    size_t count_ = 0;
};

}  // namespace cdcctl
