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

// Where an event came from. Fields a connector does not have stay at their defaults.
struct SourceInfo {
    int64_t ts_ms = 0;  // commit time at the source (snapshot: the time the row was read)
    SnapshotMarker snapshot = SnapshotMarker::kFalse;
    int64_t tx_id = -1;  // -1: none
    // PostgreSQL: the LSN of the change and of the last commit before it (Debezium's "sequence").
    uint64_t lsn = 0;
    uint64_t last_commit_lsn = 0;
    // Grows, for every row, in the order its changes were committed, so sinks can use it as an
    // external version (an older change must never overwrite a newer one). PostgreSQL: the
    // commit LSN of the event's transaction; snapshot reads: the snapshot's consistent point,
    // which is below the commit LSN of every transaction the stream delivers after it.
    uint64_t commit_lsn = 0;
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
        e.source = SourceInfo{};
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
