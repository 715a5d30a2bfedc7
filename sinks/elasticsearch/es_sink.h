// The Elasticsearch sink: change events indexed with the _bulk API.
#pragma once

#include <memory>
#include <vector>

#include "core/runtime/check.h"
#include "core/runtime/source.h"
#include "sinks/elasticsearch/es_config.h"

namespace cdcctl {

std::unique_ptr<Sink> MakeElasticsearchSink(const ElasticsearchSinkConfig &cfg,
                                            const SinkContext &ctx);
// `cdcctl check`: reachability, version (Elasticsearch or OpenSearch), authentication, and
// whether the index exists.
std::vector<CheckResult> CheckElasticsearch(const ElasticsearchSinkConfig &cfg,
                                            const SinkContext &ctx);

}  // namespace cdcctl
