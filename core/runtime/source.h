// The three roles of a pipeline. A connector gets its typed config struct in its constructor
// (never YAML) and is created through the one registry in registry/registry.cpp.
#pragma once

#include <chrono>
#include <string>

#include "core/event/change_event.h"
#include "core/event/source_block.h"

namespace cdcctl {

using Deadline = std::chrono::steady_clock::time_point;

class Source {
public:
    virtual ~Source() = default;
    // Connect, check prerequisites, and prepare to resume from `stored` (empty: a fresh start).
    virtual void Open(const Offset &stored) = 0;
    // Append events to `batch` until it holds `max_events` or `deadline` passes. Sets
    // batch.checkpoint when the events end at a point that is safe to resume from. Returns false
    // when the source has nothing more to give in this run (--once caught up, initial_only done).
    virtual bool Poll(Batch &batch, size_t max_events, Deadline deadline) = 0;
    // Every event up to `offset` is durable in the sink and `offset` is saved in the state file:
    // the source may tell its server (slot flush position, ...).
    virtual void Confirm(const Offset &offset) = 0;
    // Keep the server connection alive while the runtime waits on the sink.
    virtual void Idle() {}
    // A stop was requested: true when the last Poll ended at a clean boundary (no transaction
    // half emitted), so stopping now repeats nothing on the next run.
    virtual bool AtBoundary() const = 0;
    virtual void Close() = 0;
};

// What a sink knows about the pipeline around it.
struct SinkContext {
    std::string pipeline;      // the pipeline's name
    std::string file;          // the pipeline file, for messages
    std::string topic_prefix;  // topics are <topic_prefix>.<schema>.<table>
    // The source's Debezium source struct: envelopes, positions and versions are written from it.
    const SourceBlock *source_block = nullptr;
};

class Sink {
public:
    enum class WriteResult { kOk, kClosed };  // kClosed: the reader went away (EPIPE)
    virtual ~Sink() = default;
    virtual void Open() = 0;
    // Take the batch; the sink may buffer it. Throws SinkError on failure.
    virtual WriteResult Write(const Batch &batch) = 0;
    // Try to make everything written durable, waiting at most `max_wait`. Called about once a
    // second while events flow, so a sink that batches into files need not cut one here.
    virtual void Flush(std::chrono::milliseconds max_wait) = 0;
    // The run is ending (done, stopped, or the source failed): complete whatever is buffered
    // (an open file) so that the Flush calls that follow can make it durable. Called once,
    // before the final Flush calls; not called when Write threw.
    virtual void Drain() {}
    // The highest batch seq whose events, and those of every earlier batch, are durably accepted.
    virtual uint64_t DurableSeq() = 0;
    virtual void Close() = 0;
};

class Transform {
public:
    virtual ~Transform() = default;
    // Rewrite the batch in place (events may be dropped by compacting the batch).
    virtual void Apply(Batch &batch) = 0;
};

}  // namespace cdcctl
