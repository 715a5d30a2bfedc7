#include "registry/pipeline.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/runtime/log.h"
#include "registry/registry.h"

namespace cdcctl {
namespace {

// No transform types exist yet; the names are here so that the error already offers
// "did you mean" once they do.
const std::vector<std::string> &TransformTypes() {
    static const std::vector<std::string> types;
    return types;
}

Position At(const YAML::Mark &mark) {
    if (mark.line < 0 || mark.column < 0) return {};
    return {mark.line + 1, mark.column + 1};
}

Position ValueAt(const YAML::Node &value, Position key_at) {
    return value.IsNull() ? key_at : At(value.Mark());
}


struct Entry {
    YAML::Node value;
    Position key_at;
};

// The first occurrence of `key`; a duplicate is reported by ConfigSpec::Read.
std::optional<Entry> FindKey(const YAML::Node &mapping, const std::string &key) {
    for (auto it = mapping.begin(); it != mapping.end(); ++it) {
        if (it->first.IsScalar() && it->first.Scalar() == key) {
            return Entry{it->second, At(it->first.Mark())};
        }
    }
    return std::nullopt;
}

std::string ReadFile(const std::string &path) {
    auto fail = [&](int err) {
        return ConfigErrors({"cannot read pipeline file '" + path + "': " + std::strerror(err)});
    };
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw fail(errno);
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            throw fail(err);
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return text;
}

// The "type:" of a source, sink or transform, interpolated like any other scalar.
std::optional<std::string> ReadType(const YAML::Node &mapping, const SectionRef &where,
                                    ConfigContext &ctx) {
    const std::string path = where.path + ".type";
    auto type = FindKey(mapping, "type");
    if (!type) {
        ctx.Report(where.at, path, "required key is missing");
        return std::nullopt;
    }
    const Position at = ValueAt(type->value, type->key_at);
    if (!type->value.IsScalar()) {
        ctx.Report(at, path, "expected a string, got " + DescribeShape(type->value));
        return std::nullopt;
    }
    std::string error;
    auto name = Interpolate(type->value.Scalar(), ctx.getenv, &error);
    if (!name) ctx.Report(at, path, error);
    return name;
}

void ReportUnknownType(const std::string &what, const std::string &name,
                       const std::vector<std::string> &known, Position at, const std::string &path,
                       ConfigContext &ctx) {
    std::string message = "unknown " + what + " type '" + name + "'";
    std::string near = ClosestMatch(name, known);
    if (!near.empty()) {
        message += " (did you mean '" + near + "'?)";
    } else if (!known.empty()) {
        message += " (expected one of: ";
        for (size_t i = 0; i < known.size(); ++i) message += (i ? ", " : "") + known[i];
        message += ")";
    }
    ctx.Report(at, path, message);
}

// Reads `source:` or `sink:`: dispatches on its type to that type's spec.
template <typename Variant, typename Row>
std::optional<Variant> ReadComponent(const YAML::Node &root, const std::string &block,
                                     const std::vector<Row> &types, ConfigContext &ctx,
                                     std::vector<std::string> *secrets) {
    auto entry = FindKey(root, block);
    if (!entry) return std::nullopt;  // PipelineSpec reports it as required
    const SectionRef where{block, entry->key_at};
    if (!entry->value.IsMap()) {
        ctx.Report(ValueAt(entry->value, entry->key_at), block,
                   "expected a mapping, got " + DescribeShape(entry->value));
        return std::nullopt;
    }
    auto name = ReadType(entry->value, where, ctx);
    if (!name) return std::nullopt;
    std::vector<std::string> known;
    for (const auto &t : types) {
        const ConfigSpec &spec = t.spec();
        known.push_back(spec.Type());
        if (spec.Type() != *name) continue;
        ParsedFields parsed = spec.Read(entry->value, where, ctx, {"type"});
        for (auto &s : spec.SecretsIn(parsed)) secrets->push_back(std::move(s));
        return t.build(parsed);
    }
    auto type = FindKey(entry->value, "type");
    ReportUnknownType(block, *name, known, ValueAt(type->value, type->key_at), block + ".type",
                      ctx);
    return std::nullopt;
}

std::vector<TransformConfig> ReadTransforms(const YAML::Node &root, ConfigContext &ctx) {
    std::vector<TransformConfig> out;
    auto entry = FindKey(root, "transforms");
    if (!entry || entry->value.IsNull()) return out;
    if (!entry->value.IsSequence()) {
        ctx.Report(ValueAt(entry->value, entry->key_at), "transforms",
                   "expected a list, got " + DescribeShape(entry->value));
        return out;
    }
    for (size_t i = 0; i < entry->value.size(); ++i) {
        const YAML::Node item = entry->value[i];
        const std::string path = "transforms[" + std::to_string(i) + "]";
        const Position at = ValueAt(item, entry->key_at);
        if (!item.IsMap()) {
            ctx.Report(at, path, "expected a mapping, got " + DescribeShape(item));
            continue;
        }
        auto name = ReadType(item, {path, at}, ctx);
        if (!name) continue;
        const auto &known = TransformTypes();
        if (std::find(known.begin(), known.end(), *name) == known.end()) {
            auto type = FindKey(item, "type");
            ReportUnknownType("transform", *name, known, ValueAt(type->value, type->key_at),
                              path + ".type", ctx);
            continue;
        }
        out.push_back({*name});
    }
    return out;
}

std::string CheckPipelineName(std::string_view name) {
    bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    });
    return ok ? "" : "use only letters, digits, '_', '.' and '-'";
}

void AppendBlock(std::string &out, const std::string &type,
                 const std::vector<DescribedField> &fields) {
    out += "  type: " + YamlScalar(type) + "\n";
    for (const auto &f : fields) out += "  " + f.key + ": " + f.value + "\n";
}

}  // namespace

const StructSpec<PipelineConfig> &PipelineSpec() {
    static const StructSpec<PipelineConfig> spec = [] {
        using C = PipelineConfig;
        StructSpec<C> s("", "", "The keys at the top level of the pipeline file.");
        s.String("pipeline", &C::name,
                 "Name of the pipeline. It names the default slot, publication, topic prefix "
                 "and state file.")
            .Check(CheckPipelineName)
            .DefaultFrom("the file name without its extension",
                         [](const ConfigContext &ctx) { return ctx.file_stem; });
        s.Enum("mode", &C::mode, {{"cdc", PipelineMode::kCdc}, {"sync", PipelineMode::kSync}},
               "cdc copies the tables, then streams every change. sync is reserved for "
               "periodic copies and is not supported yet by this version.");
        s.Section("source", FieldKind::kSection,
                  "Where changes come from; its type key selects the source type.")
            .Required();
        s.Section("transforms", FieldKind::kSectionList,
                  "Transforms applied to each event in order, each a mapping with a type key. "
                  "This version has no transform types.")
            .DefaultDoc("[]");
        s.Section("sink", FieldKind::kSection,
                  "Where change events go; its type key selects the sink type.")
            .Required();
        s.String("state", &C::state_path,
                 "File holding the confirmed source position. A relative path is relative to "
                 "the directory of the pipeline file.")
            .NonEmpty()
            .DefaultDoc(".cdcctl/<pipeline>.state");
        return s;
    }();
    return spec;
}

std::vector<const ConfigSpec *> AllConfigSpecs() {
    std::vector<const ConfigSpec *> out = {&PipelineSpec()};
    for (const auto &t : SourceTypes()) out.push_back(&t.spec());
    for (const auto &t : SinkTypes()) out.push_back(&t.spec());
    return out;
}

PipelineConfig LoadPipeline(const std::string &path) {
    const std::string text = ReadFile(path);
    ConfigContext ctx(path);
    ctx.file_stem = std::filesystem::path(path).stem().string();

    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(text);
    } catch (const YAML::DeepRecursion &e) {
        // yaml-cpp says only "bad file" here.
        ctx.Report(At(e.mark), "", "the YAML nests too deeply (more than 2000 levels)");
        ctx.ThrowIfErrors();
    } catch (const YAML::ParserException &e) {
        ctx.Report(At(e.mark), "", e.msg);
        ctx.ThrowIfErrors();
    }
    if (documents.empty() || documents[0].IsNull()) {
        ctx.Report({1, 1}, "",
                   "the file is empty; a pipeline file is a mapping with at least source: and "
                   "sink:");
        ctx.ThrowIfErrors();
    }
    if (documents.size() > 1) {
        ctx.Report(At(documents[1].Mark()), "",
                   "the file holds " + std::to_string(documents.size()) +
                       " YAML documents; a pipeline file holds one");
    }
    const YAML::Node &root = documents[0];
    if (!root.IsMap()) {
        ctx.Report(At(root.Mark()), "", "expected a mapping at the top level, got " + DescribeShape(root));
        ctx.ThrowIfErrors();
    }

    const StructSpec<PipelineConfig> &spec = PipelineSpec();
    // The pipeline name is read first: the defaults of the source keys derive from it.
    ParsedFields top = spec.Read(root, {"", At(root.Mark())}, ctx);
    PipelineConfig config = spec.Build(top);
    config.file = path;
    ctx.pipeline = config.name;

    const size_t mode = *spec.Find("mode");
    if (top.Value(mode) && config.mode == PipelineMode::kSync) {
        ctx.Report(top.ValuePosition(mode), "mode",
                   "mode 'sync' is not supported yet by this version; use 'cdc'");
    }

    std::vector<std::string> secrets;
    if (auto source = ReadComponent<SourceConfig>(root, "source", SourceTypes(), ctx, &secrets)) {
        config.source = std::move(*source);
    }
    config.transforms = ReadTransforms(root, ctx);
    if (auto sink = ReadComponent<SinkConfig>(root, "sink", SinkTypes(), ctx, &secrets)) {
        config.sink = std::move(*sink);
    }
    ctx.ThrowIfErrors();

    // Filled here rather than by DefaultFrom: it needs the pipeline name read in the same pass.
    if (config.state_path.empty()) config.state_path = ".cdcctl/" + config.name + ".state";
    std::filesystem::path state(config.state_path);
    if (state.is_relative()) state = std::filesystem::path(path).parent_path() / state;
    config.state_path = state.lexically_normal().string();

    for (const auto &s : secrets) log::AddSecret(s);
    return config;
}

std::string DescribePipeline(const PipelineConfig &config) {
    const auto top = PipelineSpec().Describe(config);
    std::string out;
    for (const auto &field : PipelineSpec().Fields()) {
        if (field.name == "source") {
            out += "source:\n";
            const SourceType &type = SourceTypeOf(config.source);
            AppendBlock(out, type.spec().Type(), type.describe(config.source));
        } else if (field.name == "sink") {
            out += "sink:\n";
            const SinkType &type = SinkTypeOf(config.sink);
            AppendBlock(out, type.spec().Type(), type.describe(config.sink));
        } else if (field.name == "transforms") {
            if (config.transforms.empty()) {
                out += "transforms: []\n";
            } else {
                out += "transforms:\n";
                for (const auto &t : config.transforms)
                    out += "  - type: " + YamlScalar(t.type) + "\n";
            }
        } else {
            for (const auto &d : top) {
                if (d.key == field.name) out += d.key + ": " + d.value + "\n";
            }
        }
    }
    return out;
}

}  // namespace cdcctl
