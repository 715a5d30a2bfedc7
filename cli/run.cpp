#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "registry/pipeline.h"
#include "core/runtime/log.h"
#include "core/runtime/pipeline_runner.h"
#include "registry/registry.h"
#include "core/runtime/signals.h"

namespace cdcctl::cli {

int Run(const std::string &file, bool once) {
    PipelineConfig config = LoadPipeline(file);
    signals::Install();
    RunOptions options;
    options.once = once;
    log::Info("runtime", "Starting pipeline '" + config.name + "'" + (once ? " (--once)" : "") + ".");
    RunSummary summary = RunPipeline(config, options);
    log::Info("runtime", "Pipeline '" + config.name + "' stopped after " +
                             std::to_string(summary.events) + " events" +
                             (summary.interrupted ? " (interrupted)" : "") + ".");
    return static_cast<int>(ExitCode::kOk);
}

}  // namespace cdcctl::cli
