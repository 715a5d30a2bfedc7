#include <cstdio>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/config/pipeline.h"
#include "core/runtime/log.h"
#include "core/state/run_lock.h"
#include "core/state/state_store.h"
#include "core/runtime/registry.h"

namespace cdcctl::cli {

// Prints the saved state as JSON on stdout; nothing (and a note on stderr) before the first run.
int State(const std::string &file) {
    PipelineConfig config = LoadPipeline(file);
    StateStore store(config.state_path, file);
    auto state = store.Load();
    if (!state) {
        log::Info("state", "Pipeline '" + config.name + "' has no saved state yet ('" +
                               config.state_path + "' does not exist).");
        return static_cast<int>(ExitCode::kOk);
    }
    std::printf("{\"pipeline\":\"%s\",\"source_type\":\"%s\",\"state_file\":\"%s\",\"offset\":{",
                state->pipeline.c_str(), state->source_type.c_str(), config.state_path.c_str());
    bool first = true;
    for (const auto &[k, v] : state->offset) {
        std::printf("%s\"%s\":\"%s\"", first ? "" : ",", k.c_str(), v.c_str());
        first = false;
    }
    std::printf("}}\n");
    return static_cast<int>(ExitCode::kOk);
}

int Reset(const std::string &file, bool drop_slot) {
    PipelineConfig config = LoadPipeline(file);
    // A reset under a running pipeline would be overwritten by its next save.
    RunLock lock = RunLock::Acquire(config.state_path, config.name);
    if (drop_slot) DropSourceResources(config);
    StateStore store(config.state_path, file);
    store.Remove();
    log::Info("state", "Removed the state of pipeline '" + config.name + "'; the next run starts over.");
    return static_cast<int>(ExitCode::kOk);
}

}  // namespace cdcctl::cli
