#include <cstdio>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "registry/pipeline.h"
#include "core/error.h"
#include "core/runtime/log.h"
#include "registry/registry.h"

namespace cdcctl::cli {

// One "PASS|FAIL  name: detail" line per prerequisite on stdout: the output of this command.
int Check(const std::string &file, bool show_config) {
    PipelineConfig config;
    try {
        config = LoadPipeline(file);
    } catch (const ConfigError &) {
        std::printf("FAIL  config: %s (see the errors on stderr)\n", file.c_str());
        std::fflush(stdout);
        throw;
    }
    std::printf("PASS  config: %s\n", file.c_str());
    if (show_config) std::printf("%s", DescribePipeline(config).c_str());
    bool ok = true;
    auto print = [&](const std::vector<CheckResult> &results) {
        for (const CheckResult &r : results) {
            ok = ok && r.ok;
            std::printf("%s  %s: %s\n", r.ok ? "PASS" : "FAIL", r.name.c_str(),
                        log::Redact(r.detail).c_str());
        }
        std::fflush(stdout);
    };
    print(CheckSource(config));
    print(CheckSink(config));
    std::fflush(stdout);
    return static_cast<int>(ok ? ExitCode::kOk : ExitCode::kUnavailable);
}

}  // namespace cdcctl::cli
