// The one place that names every connector: a table of source types and a table of sink types.
// Adding a connector is its folder under sources/ or sinks/, its config struct (with its spec) in
// the variant of registry/pipeline.h, and one row in registry/registry.cpp.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/spec.h"
#include "core/event/source_block.h"
#include "core/runtime/check.h"
#include "core/runtime/pipeline_runner.h"
#include "core/runtime/source.h"
#include "registry/pipeline.h"

namespace cdcctl {

// What a source is told about the pipeline around it.
struct PipelineInfo {
    std::string name;  // the pipeline's name
    std::string file;  // the pipeline file, for messages
};

// One row of the source table, type-erased over the config variant.
struct SourceType {
    std::function<const ConfigSpec &()> spec;
    std::function<SourceConfig(const ParsedFields &)> build;
    std::function<std::vector<DescribedField>(const SourceConfig &)> describe;
    std::function<std::string(const SourceConfig &)> topic_prefix;
    // The connector's Debezium source struct.
    std::function<const SourceBlock &()> source_block;
    std::function<std::unique_ptr<Source>(const SourceConfig &, const PipelineInfo &, bool once)> make;
    // `cdcctl check`: connectivity and every prerequisite, one result per line.
    std::function<std::vector<CheckResult>(const SourceConfig &, const PipelineInfo &)> check;
    // `cdcctl discover`: what would be captured, as the schemas events will carry.
    std::function<std::vector<TableSchemaPtr>(const SourceConfig &, const PipelineInfo &)> discover;
    // `cdcctl reset --drop-slot`: drop what the source holds on its server.
    std::function<void(const SourceConfig &, const PipelineInfo &)> drop_resources;
    size_t variant_index = 0;
};

// One row of the sink table.
struct SinkType {
    std::function<const ConfigSpec &()> spec;
    std::function<SinkConfig(const ParsedFields &)> build;
    std::function<std::vector<DescribedField>(const SinkConfig &)> describe;
    std::function<std::unique_ptr<Sink>(const SinkConfig &, const SinkContext &)> make;
    // `cdcctl check`: whether the sink can take events (reachable, version, auth, target).
    std::function<std::vector<CheckResult>(const SinkConfig &, const SinkContext &)> check;
    size_t variant_index = 0;
};

const std::vector<SourceType> &SourceTypes();
const std::vector<SinkType> &SinkTypes();
// The row of a parsed config.
const SourceType &SourceTypeOf(const SourceConfig &config);
const SinkType &SinkTypeOf(const SinkConfig &config);

// The pipeline as the runtime and the connectors see it.
RunIdentity IdentityOf(const PipelineConfig &config);
PipelineInfo PipelineInfoOf(const PipelineConfig &config);
SinkContext SinkContextOf(const PipelineConfig &config);

std::unique_ptr<Source> MakeSource(const PipelineConfig &config, bool once);
std::unique_ptr<Sink> MakeSink(const PipelineConfig &config);
std::vector<std::unique_ptr<Transform>> MakeTransforms(const PipelineConfig &config);

std::vector<CheckResult> CheckSource(const PipelineConfig &config);
std::vector<CheckResult> CheckSink(const PipelineConfig &config);
std::vector<TableSchemaPtr> DiscoverSource(const PipelineConfig &config);
void DropSourceResources(const PipelineConfig &config);

// Takes the run lock, then builds the parts and runs RunLoop on them.
RunSummary RunPipeline(const PipelineConfig &config, const RunOptions &options);

}  // namespace cdcctl
