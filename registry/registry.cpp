// The connector tables. Each row wires a connector's config struct (and its spec) to the
// functions that build and check it; the rows are in the order of the config variants in
// registry/pipeline.h.
#include "registry/registry.h"

#include <stdexcept>

#include "core/error.h"
#include "core/runtime/log.h"
#include "core/state/run_lock.h"
#include "core/state/state_store.h"
#include "sinks/elasticsearch/es_sink.h"
#include "sinks/parquet/parquet_sink.h"
#include "sinks/stdout/stdout_sink.h"
#include "sources/postgres/postgres_source.h"
#include "sources/postgres/source_block.h"

namespace cdcctl {
namespace {

// A source row, typed by its config struct.
template <class Config>
struct SourceRow {
    const StructSpec<Config> &(*spec)();
    const SourceBlock &(*source_block)();
    std::unique_ptr<Source> (*make)(const Config &, const PipelineInfo &, bool once);
    std::vector<CheckResult> (*check)(const Config &, const PipelineInfo &);
    std::vector<TableSchemaPtr> (*discover)(const Config &, const PipelineInfo &);
    void (*drop_resources)(const Config &, const PipelineInfo &);
};

template <class Config>
struct SinkRow {
    const StructSpec<Config> &(*spec)();
    std::unique_ptr<Sink> (*make)(const Config &, const SinkContext &);
    std::vector<CheckResult> (*check)(const Config &, const SinkContext &);
};

template <class Variant, class T, size_t I = 0>
constexpr size_t IndexIn() {
    if constexpr (std::is_same_v<std::variant_alternative_t<I, Variant>, T>) return I;
    else return IndexIn<Variant, T, I + 1>();
}

template <class Config>
SourceType Erase(SourceRow<Config> row) {
    SourceType t;
    t.spec = [row]() -> const ConfigSpec & { return row.spec(); };
    t.build = [row](const ParsedFields &parsed) -> SourceConfig { return row.spec().Build(parsed); };
    t.describe = [row](const SourceConfig &c) { return row.spec().Describe(std::get<Config>(c)); };
    t.topic_prefix = [](const SourceConfig &c) { return std::get<Config>(c).topic_prefix; };
    t.source_block = [row]() -> const SourceBlock & { return row.source_block(); };
    t.make = [row](const SourceConfig &c, const PipelineInfo &p, bool once) {
        return row.make(std::get<Config>(c), p, once);
    };
    t.check = [row](const SourceConfig &c, const PipelineInfo &p) { return row.check(std::get<Config>(c), p); };
    t.discover = [row](const SourceConfig &c, const PipelineInfo &p) {
        return row.discover(std::get<Config>(c), p);
    };
    t.drop_resources = [row](const SourceConfig &c, const PipelineInfo &p) {
        row.drop_resources(std::get<Config>(c), p);
    };
    t.variant_index = IndexIn<SourceConfig, Config>();
    return t;
}

template <class Config>
SinkType Erase(SinkRow<Config> row) {
    SinkType t;
    t.spec = [row]() -> const ConfigSpec & { return row.spec(); };
    t.build = [row](const ParsedFields &parsed) -> SinkConfig { return row.spec().Build(parsed); };
    t.describe = [row](const SinkConfig &c) { return row.spec().Describe(std::get<Config>(c)); };
    t.make = [row](const SinkConfig &c, const SinkContext &ctx) { return row.make(std::get<Config>(c), ctx); };
    t.check = [row](const SinkConfig &c, const SinkContext &ctx) {
        return row.check ? row.check(std::get<Config>(c), ctx) : std::vector<CheckResult>{};
    };
    t.variant_index = IndexIn<SinkConfig, Config>();
    return t;
}

// --- the rows -----------------------------------------------------------------------------------

SourceRow<PostgresSourceConfig> PostgresRow() {
    using C = PostgresSourceConfig;
    return {
        .spec = PostgresSourceSpec,
        .source_block = postgres::PostgresSourceBlock,
        .make = [](const C &c, const PipelineInfo &p, bool once) -> std::unique_ptr<Source> {
            return std::make_unique<PostgresSource>(c, p.name, p.file, once);
        },
        .check = [](const C &c, const PipelineInfo &p) { return PostgresSource(c, p.name, p.file, false).Check(); },
        .discover = [](const C &c, const PipelineInfo &p) { return PostgresSource(c, p.name, p.file, false).Discover(); },
        .drop_resources =
            [](const C &c, const PipelineInfo &p) {
                if (!PostgresSource(c, p.name, p.file, false).DropSlot()) {
                    log::Info("postgres", "Replication slot '" + c.slot + "' does not exist; nothing to drop.");
                }
            },
    };
}

}  // namespace

const std::vector<SourceType> &SourceTypes() {
    static const std::vector<SourceType> types = {
        Erase(PostgresRow()),
    };
    return types;
}

const std::vector<SinkType> &SinkTypes() {
    static const std::vector<SinkType> types = {
        Erase(SinkRow<StdoutSinkConfig>{StdoutSinkSpec, MakeStdoutSink, nullptr}),
        Erase(SinkRow<ElasticsearchSinkConfig>{ElasticsearchSinkSpec, MakeElasticsearchSink, CheckElasticsearch}),
        Erase(SinkRow<ParquetSinkConfig>{ParquetSinkSpec, MakeParquetSink, CheckParquet}),
    };
    return types;
}

const SourceType &SourceTypeOf(const SourceConfig &config) {
    for (const SourceType &t : SourceTypes()) {
        if (t.variant_index == config.index()) return t;
    }
    throw std::logic_error("source config variant without a registry row");
}

const SinkType &SinkTypeOf(const SinkConfig &config) {
    for (const SinkType &t : SinkTypes()) {
        if (t.variant_index == config.index()) return t;
    }
    throw std::logic_error("sink config variant without a registry row");
}

RunIdentity IdentityOf(const PipelineConfig &config) {
    RunIdentity id;
    id.pipeline = config.name;
    id.source_type = SourceTypeOf(config.source).spec().Type();
    id.mode = config.mode;
    return id;
}

PipelineInfo PipelineInfoOf(const PipelineConfig &config) { return {config.name, config.file}; }

SinkContext SinkContextOf(const PipelineConfig &config) {
    const SourceType &source = SourceTypeOf(config.source);
    SinkContext ctx;
    ctx.pipeline = config.name;
    ctx.file = config.file;
    ctx.topic_prefix = source.topic_prefix(config.source);
    ctx.source_block = &source.source_block();
    return ctx;
}

std::unique_ptr<Source> MakeSource(const PipelineConfig &config, bool once) {
    return SourceTypeOf(config.source).make(config.source, PipelineInfoOf(config), once);
}

std::unique_ptr<Sink> MakeSink(const PipelineConfig &config) {
    return SinkTypeOf(config.sink).make(config.sink, SinkContextOf(config));
}

std::vector<std::unique_ptr<Transform>> MakeTransforms(const PipelineConfig &config) {
    if (!config.transforms.empty()) {
        throw ConfigError("config", "transform type '" + config.transforms.front().type +
                                        "' is not available in this version");
    }
    return {};
}

std::vector<CheckResult> CheckSource(const PipelineConfig &config) {
    return SourceTypeOf(config.source).check(config.source, PipelineInfoOf(config));
}

std::vector<CheckResult> CheckSink(const PipelineConfig &config) {
    return SinkTypeOf(config.sink).check(config.sink, SinkContextOf(config));
}

std::vector<TableSchemaPtr> DiscoverSource(const PipelineConfig &config) {
    return SourceTypeOf(config.source).discover(config.source, PipelineInfoOf(config));
}

void DropSourceResources(const PipelineConfig &config) {
    SourceTypeOf(config.source).drop_resources(config.source, PipelineInfoOf(config));
}

RunSummary RunPipeline(const PipelineConfig &config, const RunOptions &options) {
    RunLock lock = RunLock::Acquire(config.state_path, config.name);
    StateStore store(config.state_path, config.file);
    std::unique_ptr<Source> source = MakeSource(config, options.once);
    std::vector<std::unique_ptr<Transform>> transforms = MakeTransforms(config);
    std::unique_ptr<Sink> sink = MakeSink(config);
    return RunLoop(*source, transforms, *sink, store, IdentityOf(config), options);
}

}  // namespace cdcctl
