// The one registry of connectors: the config variant decides which source and sink to build.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "core/config/pipeline.h"
#include "core/runtime/check.h"
#include "core/runtime/source.h"

namespace cdcctl {

std::string_view SourceTypeOf(const PostgresSourceConfig &);
// Debezium's source.connector for the source type ("postgresql").
std::string_view ConnectorNameOf(const PostgresSourceConfig &);

std::unique_ptr<Source> MakeSource(const PipelineConfig &config, bool once);
std::unique_ptr<Sink> MakeSink(const PipelineConfig &config);
std::vector<std::unique_ptr<Transform>> MakeTransforms(const PipelineConfig &config);

// `cdcctl check`: connectivity and every prerequisite of the source, one result per line.
std::vector<CheckResult> CheckSource(const PipelineConfig &config);
// `cdcctl check`: whether the sink can take events (reachable, version, auth, target).
std::vector<CheckResult> CheckSink(const PipelineConfig &config);
// What a sink is told about the pipeline.
SinkContext SinkContextOf(const PipelineConfig &config);
// `cdcctl discover`: the tables that would be captured, as the schemas events will carry.
std::vector<TableSchemaPtr> DiscoverSource(const PipelineConfig &config);
// `cdcctl reset --drop-slot`: drop what the source holds on the server (slot).
void DropSourceResources(const PipelineConfig &config);

}  // namespace cdcctl
