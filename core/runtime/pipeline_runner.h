// The pipeline loop: source -> transforms -> sink, and the acknowledgement order that makes it
// reliable. A batch's checkpoint is saved to the state file, and only then confirmed to the
// source, once the sink reports that batch and every earlier one durable.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/config/pipeline.h"
#include "core/runtime/source.h"

namespace cdcctl {

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

// Takes the run lock, loads the state, runs until done (--once), stopped, or failed. Throws
// cdcctl::Error subclasses for the CLI to map to exit codes.
RunSummary RunPipeline(const PipelineConfig &config, const RunOptions &options);

// The same loop over given parts, for tests.
class StateStore;
RunSummary RunLoop(Source &source, std::vector<std::unique_ptr<Transform>> &transforms, Sink &sink,
                   StateStore &store, const PipelineConfig &config, const RunOptions &options);

}  // namespace cdcctl
