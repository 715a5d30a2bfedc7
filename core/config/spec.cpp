// The framework behind spec.h: declaring a spec, reading a mapping against it (unknown, duplicate,
// required and conflicting keys; each value goes to value_parsers.cpp) and collecting every
// problem, so that a run reports all of a file's mistakes at once instead of one per try.
#include "core/config/spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "core/config/spec_internal.h"
#include "core/config/suggest.h"

namespace cdcctl {
namespace {

std::string JoinLines(const std::vector<std::string> &lines) {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i) out += '\n';
        out += lines[i];
    }
    return out;
}

std::string KeyPath(const std::string &parent, const std::string &key) {
    return parent.empty() ? key : parent + "." + key;
}

std::string FormatPosition(Position p) {
    return std::to_string(p.line) + ":" + std::to_string(p.column);
}

}  // namespace

namespace spec_internal {

// yaml-cpp marks are 0-based; a null mark (no position) has negative fields.
Position At(const YAML::Mark &mark) {
    if (mark.line < 0 || mark.column < 0) return {};
    return {mark.line + 1, mark.column + 1};
}

std::string Quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

std::string JoinList(const std::vector<std::string> &items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += items[i];
    }
    return out;
}

}  // namespace spec_internal

using spec_internal::At;
using spec_internal::JoinList;
using spec_internal::Quoted;

std::string DescribeShape(const YAML::Node &node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar:
            return Quoted(node.Scalar());
        default:
            return "an empty value";
    }
}

ConfigErrors::ConfigErrors(std::vector<std::string> lines)
    : ConfigError("config", JoinLines(lines)), lines_(std::move(lines)) {}

ConfigContext::ConfigContext(std::string file)
    : getenv([](const std::string &name) -> std::optional<std::string> {
          const char *v = std::getenv(name.c_str());
          if (!v) return std::nullopt;
          return std::string(v);
      }),
      file_(std::move(file)) {}

void ConfigContext::Report(Position at, const std::string &key, const std::string &message) {
    std::string text = file_ + ":";
    if (at.line > 0) text += FormatPosition(at) + ":";
    text += " ";
    if (!key.empty()) text += key + ": ";
    text += message;
    problems_.push_back({at, std::move(text)});
}

void ConfigContext::ThrowIfErrors() const {
    if (problems_.empty()) return;
    std::vector<Problem> sorted = problems_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Problem &a, const Problem &b) {
        return std::pair(a.at.line, a.at.column) < std::pair(b.at.line, b.at.column);
    });
    std::vector<std::string> lines;
    for (const auto &p : sorted) lines.push_back(p.text);
    throw ConfigErrors(std::move(lines));
}

FieldSpec NewField(std::string name, FieldKind kind, std::string description) {
    FieldSpec f;
    f.name = std::move(name);
    f.kind = kind;
    f.description = std::move(description);
    return f;
}

size_t ConfigSpec::AddField(FieldSpec field) {
    if (Find(field.name)) throw std::logic_error("config spec declares '" + field.name + "' twice");
    fields_.push_back(std::move(field));
    return fields_.size() - 1;
}

std::optional<size_t> ConfigSpec::Find(std::string_view name) const {
    for (size_t i = 0; i < fields_.size(); ++i) {
        if (fields_[i].name == name) return i;
    }
    return std::nullopt;
}

const FieldSpec &ConfigSpec::Field(std::string_view name) const {
    auto i = Find(name);
    if (!i) throw std::logic_error("config spec has no field '" + std::string(name) + "'");
    return fields_[*i];
}

ParsedFields ConfigSpec::Read(const YAML::Node &mapping, const SectionRef &where,
                              ConfigContext &ctx,
                              const std::vector<std::string> &also_allowed) const {
    ParsedFields parsed(fields_.size());
    std::vector<std::string> known;
    for (const auto &f : fields_) known.push_back(f.name);
    known.insert(known.end(), also_allowed.begin(), also_allowed.end());

    std::vector<std::pair<std::string, Position>> seen;
    for (auto it = mapping.begin(); it != mapping.end(); ++it) {
        // Copies: the iterator's pair is a temporary, and a Node is a cheap handle.
        const YAML::Node key = it->first;
        const YAML::Node value = it->second;
        const Position key_at = At(key.Mark());
        if (!key.IsScalar()) {
            ctx.Report(key_at, where.path, "a key must be a plain name, got " + DescribeShape(key));
            continue;
        }
        const std::string name = key.Scalar();
        const std::string path = KeyPath(where.path, name);
        auto first =
            std::find_if(seen.begin(), seen.end(), [&](const auto &s) { return s.first == name; });
        if (first != seen.end()) {
            ctx.Report(key_at, path,
                       "duplicate key (first set at " + FormatPosition(first->second) + ")");
            continue;
        }
        seen.emplace_back(name, key_at);
        if (std::find(also_allowed.begin(), also_allowed.end(), name) != also_allowed.end()) {
            continue;
        }
        auto index = Find(name);
        if (!index) {
            std::string near = ClosestMatch(name, known);
            ctx.Report(key_at, path,
                       near.empty() ? "unknown key (expected one of: " + JoinList(known) + ")"
                                    : "unknown key (did you mean " + Quoted(near) + "?)");
            continue;
        }
        const FieldSpec &f = fields_[*index];
        const Position value_at = value.IsNull() ? key_at : At(value.Mark());
        if (f.kind == FieldKind::kSection || f.kind == FieldKind::kSectionList) {
            parsed.Set(*index, key_at, value_at, std::nullopt);
            continue;
        }
        parsed.Set(*index, key_at, value_at, spec_internal::ReadValue(f, value, key_at, path, ctx));
    }

    for (size_t i = 0; i < fields_.size(); ++i) {
        const FieldSpec &f = fields_[i];
        const std::string path = KeyPath(where.path, f.name);
        if (parsed.Has(i)) {
            for (const auto &other : f.conflicts_with) {
                auto j = Find(other);
                if (j && parsed.Has(*j)) {
                    ctx.Report(
                        parsed.KeyPosition(*j), KeyPath(where.path, other),
                        "cannot be combined with " + Quoted(f.name) + "; remove one of them");
                }
            }
            continue;
        }
        bool excused = false;
        if (!f.required_unless.empty()) {
            auto j = Find(f.required_unless);
            excused = j && parsed.Has(*j);
        }
        if (f.required || (!f.required_unless.empty() && !excused)) {
            ctx.Report(where.at, path, "required key is missing");
            continue;
        }
        if (!f.required_when.first.empty()) {
            auto j = Find(f.required_when.first);
            const auto &v = j ? parsed.Value(*j) : std::nullopt;
            if (v && std::holds_alternative<std::string>(*v) &&
                std::get<std::string>(*v) == f.required_when.second) {
                ctx.Report(parsed.KeyPosition(*j), path,
                           "required key is missing (" + f.required_when.first + " is " +
                               Quoted(f.required_when.second) + ")");
                continue;
            }
        }
        if (f.default_from) {
            std::string value = f.default_from(ctx);
            std::string why = f.check ? f.check(value) : std::string();
            if (!why.empty()) {
                ctx.Report(where.at, path,
                           "the default value " + Quoted(value) + " is invalid (" + why +
                               "); set " + Quoted(f.name) + " explicitly");
                continue;
            }
            parsed.Set(i, {}, {}, value);
        }
    }
    return parsed;
}

std::vector<std::string> ConfigSpec::SecretsIn(const ParsedFields &parsed) const {
    std::vector<std::string> out;
    for (size_t i = 0; i < fields_.size(); ++i) {
        const FieldSpec &f = fields_[i];
        if (f.kind != FieldKind::kSecret || !parsed.Value(i)) continue;
        const std::string &value = std::get<std::string>(*parsed.Value(i));
        if (value.empty()) continue;
        out.push_back(value);
        if (f.secret_parts) {
            for (auto &part : f.secret_parts(value)) {
                if (!part.empty()) out.push_back(std::move(part));
            }
        }
    }
    return out;
}

FieldBuilder &FieldBuilder::Required() {
    Get().required = true;
    return *this;
}

FieldBuilder &FieldBuilder::RequiredWhen(std::string other, std::string value) {
    Get().required_when = {std::move(other), std::move(value)};
    return *this;
}

FieldBuilder &FieldBuilder::Placeholders(std::vector<std::string> names) {
    Get().placeholders = std::move(names);
    return *this;
}

FieldBuilder &FieldBuilder::RequiredUnless(std::string other) {
    Get().required_unless = std::move(other);
    return *this;
}

FieldBuilder &FieldBuilder::ConflictsWith(std::vector<std::string> others) {
    Get().conflicts_with = std::move(others);
    return *this;
}

FieldBuilder &FieldBuilder::NonEmpty() {
    Get().non_empty = true;
    return *this;
}

FieldBuilder &FieldBuilder::Check(std::function<std::string(std::string_view)> check) {
    Get().check = std::move(check);
    return *this;
}

FieldBuilder &FieldBuilder::DefaultDoc(std::string text) {
    Get().default_doc = std::move(text);
    return *this;
}

FieldBuilder &FieldBuilder::DefaultFrom(std::string doc,
                                        std::function<std::string(const ConfigContext &)> fn) {
    Get().default_doc = std::move(doc);
    Get().default_from = std::move(fn);
    return *this;
}

FieldBuilder &FieldBuilder::SecretParts(
    std::function<std::vector<std::string>(const std::string &)> fn) {
    Get().secret_parts = std::move(fn);
    return *this;
}

}  // namespace cdcctl
