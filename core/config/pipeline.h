// The pipeline file, parsed and checked. LoadPipeline collects every problem in the file and
// throws one ConfigError listing them all, each as "file:line:col: key: message".
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "sinks/stdout/stdout_config.h"
#include "sources/postgres/postgres_config.h"

namespace cdcctl {

enum class PipelineMode { kCdc, kSync };

struct TransformConfig {
    std::string type;
};

struct PipelineConfig {
    std::string file;  // the pipeline file as given
    std::string name;  // default: the file name without extension
    PipelineMode mode = PipelineMode::kCdc;
    std::variant<PostgresSourceConfig> source;
    std::vector<TransformConfig> transforms;
    std::variant<StdoutSinkConfig> sink;
    std::string state_path;  // default: .cdcctl/<name>.state beside the pipeline file
};

// Reads, interpolates ${VAR} from the environment, validates and fills defaults.
PipelineConfig LoadPipeline(const std::string &path);

}  // namespace cdcctl
