#include <cstdio>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/error.h"
#include "registry/pipeline.h"
#include "core/json/json_writer.h"
#include "core/runtime/log.h"
#include "core/state/run_lock.h"
#include "core/state/state_store.h"
#include "registry/registry.h"

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
    // Another pipeline's file (a shared `state:` path) would print a position this pipeline
    // never reached: the same check as `cdcctl run`.
    CheckStateBelongsTo(*state, IdentityOf(config), config.state_path);
    // Escaped: the state file's path may hold any character, quotes and backslashes included.
    auto field = [](std::string *out, std::string_view key, std::string_view value) {
        *out += '"';
        json::AppendEscaped(out, key);
        *out += "\":\"";
        json::AppendEscaped(out, value);
        *out += '"';
    };
    std::string out = "{";
    field(&out, "pipeline", state->pipeline);
    out += ',';
    field(&out, "source_type", state->source_type);
    out += ',';
    field(&out, "mode", state->mode);
    out += ',';
    field(&out, "state_file", config.state_path);
    out += ",\"offset\":{";
    bool first = true;
    for (const auto &[k, v] : state->offset) {
        if (!first) out += ',';
        field(&out, k, v);
        first = false;
    }
    out += "}}\n";
    std::fputs(out.c_str(), stdout);
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
