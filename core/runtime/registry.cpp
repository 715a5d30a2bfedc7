// The one table of connectors. Adding a source or sink means a config struct in the variant
// (core/config/pipeline.h), its spec, and a line here.
#include "core/runtime/registry.h"

#include <memory>

#include "core/error.h"
#include "core/json/envelope_encoder.h"
#include "core/runtime/log.h"
#include "sinks/elasticsearch/es_sink.h"
#include "sinks/parquet/parquet_sink.h"
#include "sinks/stdout/stdout_sink.h"
#include "sources/postgres/postgres_source.h"

namespace cdcctl {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
    using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::unique_ptr<PostgresSource> MakePostgres(const PipelineConfig &config, bool once) {
    return std::make_unique<PostgresSource>(std::get<PostgresSourceConfig>(config.source), config.name,
                                            config.file, once);
}

std::string TopicPrefix(const PipelineConfig &config) {
    return std::visit([](const auto &s) { return s.topic_prefix; }, config.source);
}

}  // namespace

std::string_view SourceTypeOf(const PostgresSourceConfig &) { return "postgres"; }
std::string_view ConnectorNameOf(const PostgresSourceConfig &) { return "postgresql"; }

std::unique_ptr<Source> MakeSource(const PipelineConfig &config, bool once) {
    return std::visit(Overloaded{[&](const PostgresSourceConfig &) -> std::unique_ptr<Source> {
                          return MakePostgres(config, once);
                      }},
                      config.source);
}

SinkContext SinkContextOf(const PipelineConfig &config) {
    SinkContext ctx;
    ctx.pipeline = config.name;
    ctx.file = config.file;
    ctx.topic_prefix = TopicPrefix(config);
    ctx.connector = std::visit([](const auto &s) { return std::string(ConnectorNameOf(s)); },
                               config.source);
    return ctx;
}

std::unique_ptr<Sink> MakeSink(const PipelineConfig &config) {
    const SinkContext ctx = SinkContextOf(config);
    return std::visit(
        Overloaded{[&](const StdoutSinkConfig &cfg) -> std::unique_ptr<Sink> {
                       EnvelopeEncoderConfig opts;
                       opts.format = cfg.format == StdoutFormat::kRow ? EventFormat::kRow
                                                                      : EventFormat::kEnvelope;
                       opts.schemas = cfg.schemas;
                       opts.topic_prefix = ctx.topic_prefix;
                       opts.connector = ctx.connector;
                       auto encoder = std::make_shared<EnvelopeEncoder>(opts);
                       return std::make_unique<StdoutSink>(
                           cfg, [encoder](const ChangeEvent &e, std::string *out) {
                               encoder->Encode(e, out);
                           });
                   },
                   [&](const ElasticsearchSinkConfig &cfg) -> std::unique_ptr<Sink> {
                       return MakeElasticsearchSink(cfg, ctx);
                   },
                   [&](const ParquetSinkConfig &cfg) -> std::unique_ptr<Sink> {
                       return MakeParquetSink(cfg, ctx);
                   }},
        config.sink);
}

std::vector<CheckResult> CheckSink(const PipelineConfig &config) {
    const SinkContext ctx = SinkContextOf(config);
    return std::visit(
        Overloaded{[&](const StdoutSinkConfig &) { return std::vector<CheckResult>{}; },
                   [&](const ElasticsearchSinkConfig &cfg) { return CheckElasticsearch(cfg, ctx); },
                   [&](const ParquetSinkConfig &cfg) { return CheckParquet(cfg, ctx); }},
        config.sink);
}

std::vector<std::unique_ptr<Transform>> MakeTransforms(const PipelineConfig &config) {
    if (!config.transforms.empty()) {
        throw ConfigError("config", "transform type '" + config.transforms.front().type +
                                        "' is not available in this version");
    }
    return {};
}

std::vector<CheckResult> CheckSource(const PipelineConfig &config) {
    return MakePostgres(config, false)->Check();
}

std::vector<TableSchemaPtr> DiscoverSource(const PipelineConfig &config) {
    return MakePostgres(config, false)->Discover();
}

void DropSourceResources(const PipelineConfig &config) {
    auto source = MakePostgres(config, false);
    const auto &pg = std::get<PostgresSourceConfig>(config.source);
    if (!source->DropSlot()) {
        log::Info("postgres", "Replication slot '" + pg.slot + "' does not exist; nothing to drop.");
    }
}

}  // namespace cdcctl
