// The pipeline file, parsed and checked. LoadPipeline collects every problem in the file and
// throws one ConfigError listing them all, each as "file:line:col: key: message".
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "core/config/spec.h"
#include "core/runtime/pipeline_runner.h"
#include "sinks/elasticsearch/es_config.h"
#include "sinks/parquet/parquet_config.h"
#include "sinks/stdout/stdout_config.h"
#include "sources/postgres/postgres_config.h"

namespace cdcctl {

struct TransformConfig {
    std::string type;
};

// The config variants: one alternative per connector type, in the order of the registry's tables
// (registry/registry.cpp).
using SourceConfig = std::variant<PostgresSourceConfig>;
using SinkConfig = std::variant<StdoutSinkConfig, ElasticsearchSinkConfig, ParquetSinkConfig>;

struct PipelineConfig {
    std::string file;  // the pipeline file as given
    std::string name;  // default: the file name without extension
    PipelineMode mode = PipelineMode::kCdc;
    SourceConfig source;
    std::vector<TransformConfig> transforms;
    SinkConfig sink;
    std::string state_path;  // default: .cdcctl/<name>.state beside the pipeline file
};

// Reads, interpolates ${VAR} from the environment, validates and fills defaults. Throws
// ConfigErrors (a ConfigError, component "config") listing every problem in file order. On
// success every secret value is registered with log::AddSecret.
PipelineConfig LoadPipeline(const std::string &path);

// The effective configuration as YAML, defaults filled in and secrets shown as "***" (what
// `cdcctl check` prints).
std::string DescribePipeline(const PipelineConfig &config);

// The top-level keys of the file.
const StructSpec<PipelineConfig> &PipelineSpec();
// The top-level spec, then every registered source type, then every sink type: everything the
// man page must document.
std::vector<const ConfigSpec *> AllConfigSpecs();

}  // namespace cdcctl
