// The pipeline loop: source -> transforms -> sink, and the acknowledgement order that makes it
// reliable. A batch's checkpoint is saved to the state file, and only then confirmed to the
// source, once the sink reports that batch and every earlier one durable.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/runtime/source.h"

namespace cdcctl {

// cdc: snapshot, then stream every change. sync: query-based runs.
enum class PipelineMode { kCdc, kSync };
std::string_view PipelineModeName(PipelineMode mode);  // "cdc", "sync"

// What the loop needs to know about the pipeline it runs: a state file is only ever handed back
// to the pipeline, source type and mode that saved it.
struct RunIdentity {
    std::string pipeline;     // the pipeline's name
    std::string source_type;  // "postgres", ...
    PipelineMode mode = PipelineMode::kCdc;
};

struct RunOptions {
    bool once = false;
    size_t max_batch_events = 4096;
    std::chrono::milliseconds poll_wait{200};
    // Saving the state costs an fsync; confirmed positions are saved at most this often while
    // streaming (and always at the end of a run).
    std::chrono::milliseconds state_save_interval{1000};
};

struct RunSummary {
    uint64_t events = 0;
    bool sink_closed = false;  // the reader of stdout went away
    bool interrupted = false;  // SIGINT / SIGTERM
};

// Loads the state, opens the sink and the source, and runs until done (--once), stopped, or
// failed. The caller holds the run lock. Throws cdcctl::Error subclasses for the CLI to map to
// exit codes; a state saved by another pipeline, source type or mode is a StateError.
class StateStore;
struct PipelineState;
RunSummary RunLoop(Source &source, std::vector<std::unique_ptr<Transform>> &transforms, Sink &sink,
                   StateStore &store, const RunIdentity &identity, const RunOptions &options);

// Throws the StateError RunLoop throws when `stored` (read from `path`) was saved by another
// pipeline, source type or mode than `identity`'s.
void CheckStateBelongsTo(const PipelineState &stored, const RunIdentity &identity,
                         const std::string &path);

}  // namespace cdcctl
