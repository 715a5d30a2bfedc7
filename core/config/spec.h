// The config spec framework. Each component declares its fields once, beside itself (name, type,
// default, description, allowed values, checks, secret flag), in the manner of Redpanda Connect's
// service.NewConfigSpec(). That one declaration drives reading the YAML into the typed struct,
// every error message, `cdcctl check` output and the man page table, so they cannot disagree.
//
// Reading is in two steps so that this header stays free of yaml-cpp: ConfigSpec::Read (untyped,
// in spec.cpp) turns a YAML mapping into ParsedFields, reporting problems into a ConfigContext;
// StructSpec<T>::Build then assigns the parsed values onto a default-constructed T.
//
// The parts live beside it: value_parsers.cpp (the text of one value into its kind, and back),
// suggest.h ("did you mean"), man_render.h (the man page tables).
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/config/man_render.h"  // RenderSpecTable, for the users of spec.h
#include "core/config/secret.h"
#include "core/config/suggest.h"     // ClosestMatch, EditDistance, for the users of spec.h
#include "core/error.h"

namespace YAML {
class Node;
}

namespace cdcctl {

// Every problem found in a pipeline file, one "file:line:col: key: message" per line. what() is
// the lines joined by '\n'.
class ConfigErrors : public ConfigError {
public:
    explicit ConfigErrors(std::vector<std::string> lines);
    const std::vector<std::string> &Lines() const { return lines_; }

private:
    std::vector<std::string> lines_;
};

// 1-based; 0 means "no position" (e.g. the file could not be read).
struct Position {
    int line = 0;
    int column = 0;
};

// Collects problems while a file is read, then reports them all at once in file order.
class ConfigContext {
public:
    explicit ConfigContext(std::string file);

    const std::string &File() const { return file_; }
    // `key` is the dotted path ("source.slot"); empty for problems that concern no key.
    void Report(Position at, const std::string &key, const std::string &message);
    bool HasErrors() const { return !problems_.empty(); }
    // Throws ConfigErrors listing every reported problem, sorted by position.
    void ThrowIfErrors() const;

    // Values that string defaults may derive from (see FieldBuilder::DefaultFrom).
    std::string file_stem;
    std::string pipeline;
    // Looks up ${VAR}; defaults to getenv. Tests may replace it.
    std::function<std::optional<std::string>(const std::string &)> getenv;

private:
    struct Problem {
        Position at;
        std::string text;
    };
    std::string file_;
    std::vector<Problem> problems_;
};

enum class FieldKind {
    kString,
    kSecret,
    kInteger,
    kBool,
    kEnum,
    kStringList,
    kDuration,
    kSize,         // a byte count: 5MB, 512KiB, 1GB or a plain number of bytes
    kSection,      // a nested mapping the caller reads with another spec (source:, sink:)
    kSectionList,  // a list of such mappings (transforms:)
};

using FieldValue =
    std::variant<std::string, int64_t, bool, std::vector<std::string>, std::chrono::milliseconds>;

struct FieldSpec {
    std::string name;
    FieldKind kind = FieldKind::kString;
    std::string description;
    // Shown in the docs' Default column; filled from the struct's own default unless overridden.
    std::string default_doc;
    bool required = false;
    std::string required_unless;              // required unless this other key is set
    // Required when another key has this value: {"on_malformed", "dead_letter"}.
    std::pair<std::string, std::string> required_when;
    std::vector<std::string> conflicts_with;  // keys that must not be set together with this one
    bool non_empty = false;                   // strings: not ""; lists: at least one entry
    std::vector<std::string> allowed;         // kEnum, in the order they are documented
    int64_t min = std::numeric_limits<int64_t>::min();  // kInteger
    int64_t max = std::numeric_limits<int64_t>::max();
    // For string, secret and list items: returns why `text` is invalid, or "" when it is fine.
    std::function<std::string(std::string_view text)> check;
    // Computes the value when the file does not set it (e.g. "cdcctl_<pipeline>").
    std::function<std::string(const ConfigContext &)> default_from;
    // Parts of a secret value that must be redacted on their own too (a password inside a URL).
    std::function<std::vector<std::string>(const std::string &)> secret_parts;
    // Strings: ${name} placeholders the component fills in per event (index: ${topic}); these
    // are kept as written instead of being read from the environment.
    std::vector<std::string> placeholders;
};

// What ConfigSpec::Read found: one slot per field, in declaration order.
class ParsedFields {
public:
    explicit ParsedFields(size_t count) : values_(count), keys_at_(count), values_at_(count) {}
    // Unset when the file does not give the key, or gives a value that was reported as wrong.
    const std::optional<FieldValue> &Value(size_t field) const { return values_[field]; }
    // Where the key and its value were written; {0,0} if they were not.
    Position KeyPosition(size_t field) const { return keys_at_[field]; }
    Position ValuePosition(size_t field) const { return values_at_[field]; }
    bool Has(size_t field) const { return keys_at_[field].line != 0; }
    void Set(size_t field, Position key_at, Position value_at, std::optional<FieldValue> value) {
        keys_at_[field] = key_at;
        values_at_[field] = value_at;
        values_[field] = std::move(value);
    }

private:
    std::vector<std::optional<FieldValue>> values_;
    std::vector<Position> keys_at_;
    std::vector<Position> values_at_;
};

// How a node of the wrong shape is named in "expected X, got Y": "a mapping", "a list", "'text'".
std::string DescribeShape(const YAML::Node &node);

// One row of DescribePipeline: the key and its value as YAML text, secrets as "***".
struct DescribedField {
    std::string key;
    std::string value;
};

// Where a mapping sits in the file: its dotted path ("source", or "" for the top level) and the
// position of the key that introduced it, which is where "required key is missing" points.
struct SectionRef {
    std::string path;
    Position at;
};

class ConfigSpec {
public:
    // `block` is the top-level key the spec lives under ("source", "sink", or "" for the file
    // itself); `type` the value of its type: key ("postgres"), or "" when it has none.
    ConfigSpec(std::string block, std::string type, std::string summary)
        : block_(std::move(block)), type_(std::move(type)), summary_(std::move(summary)) {}

    const std::string &Block() const { return block_; }
    const std::string &Type() const { return type_; }
    const std::string &Summary() const { return summary_; }
    const std::vector<FieldSpec> &Fields() const { return fields_; }
    // Index into Fields(), or nullopt.
    std::optional<size_t> Find(std::string_view name) const;
    const FieldSpec &Field(std::string_view name) const;

    // Reads `mapping` (which must be a YAML map): unknown and duplicate keys, types, allowed
    // values, checks, ${VAR} interpolation, required keys and conflicts, derived defaults.
    // `also_allowed` are keys the caller handles itself (the "type" key of a source).
    ParsedFields Read(const YAML::Node &mapping, const SectionRef &where, ConfigContext &ctx,
                      const std::vector<std::string> &also_allowed = {}) const;

    // Every value that must be redacted in logs: each non-empty secret and its secret parts.
    std::vector<std::string> SecretsIn(const ParsedFields &parsed) const;

protected:
    size_t AddField(FieldSpec field);
    FieldSpec &MutableField(size_t index) { return fields_[index]; }
    friend class FieldBuilder;

private:
    std::string block_;
    std::string type_;
    std::string summary_;
    std::vector<FieldSpec> fields_;
};

// Refines the field just declared: spec.String(...).Required().Check(...).
class FieldBuilder {
public:
    FieldBuilder(ConfigSpec &spec, size_t index) : spec_(spec), index_(index) {}
    FieldBuilder &Required();
    FieldBuilder &RequiredUnless(std::string other);
    FieldBuilder &RequiredWhen(std::string other, std::string value);
    FieldBuilder &Placeholders(std::vector<std::string> names);
    FieldBuilder &ConflictsWith(std::vector<std::string> others);
    FieldBuilder &NonEmpty();
    FieldBuilder &Check(std::function<std::string(std::string_view)> check);
    FieldBuilder &DefaultDoc(std::string text);
    FieldBuilder &DefaultFrom(std::string doc,
                              std::function<std::string(const ConfigContext &)> fn);
    FieldBuilder &SecretParts(std::function<std::vector<std::string>(const std::string &)> fn);

private:
    FieldSpec &Get() { return spec_.MutableField(index_); }
    ConfigSpec &spec_;
    size_t index_;
};

FieldSpec NewField(std::string name, FieldKind kind, std::string description);

// Values formatted back into YAML text, in value_parsers.cpp beside their parsers.
// Formats a string for DescribePipeline, quoting it when plain YAML would misread it.
std::string YamlScalar(std::string_view text);
std::string FormatDuration(std::chrono::milliseconds d);
// "5MB" for 5 * 1024 * 1024 bytes; the largest unit that divides the count exactly.
std::string FormatSize(int64_t bytes);

// A ConfigSpec bound to the members of T. The struct's own default member values are the
// defaults, so the docs' Default column is computed from T{} rather than written twice.
template <typename T>
class StructSpec : public ConfigSpec {
public:
    using ConfigSpec::ConfigSpec;

    FieldBuilder String(std::string name, std::string T::*member, std::string description) {
        return Bind(
            NewField(std::move(name), FieldKind::kString, std::move(description)),
            [member](T &t, const FieldValue &v) { t.*member = std::get<std::string>(v); },
            [member](const T &t) { return YamlScalar(t.*member); });
    }
    FieldBuilder SecretString(std::string name, Secret T::*member, std::string description) {
        return Bind(
            NewField(std::move(name), FieldKind::kSecret, std::move(description)),
            [member](T &t, const FieldValue &v) { (t.*member).value = std::get<std::string>(v); },
            [member](const T &t) {
                return (t.*member).empty() ? std::string("\"\"") : std::string("***");
            });
    }
    template <std::integral I>
    FieldBuilder Integer(std::string name, I T::*member, int64_t min, int64_t max,
                         std::string description) {
        FieldSpec field = NewField(std::move(name), FieldKind::kInteger, std::move(description));
        field.min = min;
        field.max = max;
        return Bind(
            std::move(field),
            [member](T &t, const FieldValue &v) {
                t.*member = static_cast<I>(std::get<int64_t>(v));
            },
            [member](const T &t) { return std::to_string(t.*member); });
    }
    FieldBuilder Bool(std::string name, bool T::*member, std::string description) {
        return Bind(
            NewField(std::move(name), FieldKind::kBool, std::move(description)),
            [member](T &t, const FieldValue &v) { t.*member = std::get<bool>(v); },
            [member](const T &t) { return std::string(t.*member ? "true" : "false"); });
    }
    // `choices` maps each accepted spelling to its value, in documentation order.
    template <typename E>
    FieldBuilder Enum(std::string name, E T::*member,
                      std::vector<std::pair<std::string, E>> choices, std::string description) {
        std::vector<std::string> allowed;
        for (const auto &c : choices) allowed.push_back(c.first);
        FieldSpec field = NewField(std::move(name), FieldKind::kEnum, std::move(description));
        field.allowed = std::move(allowed);
        return Bind(
            std::move(field),
            [member, choices](T &t, const FieldValue &v) {
                for (const auto &c : choices) {
                    if (c.first == std::get<std::string>(v)) t.*member = c.second;
                }
            },
            [member, choices](const T &t) {
                for (const auto &c : choices) {
                    if (c.second == t.*member) return c.first;
                }
                return std::string("\"\"");
            });
    }
    FieldBuilder StringList(std::string name, std::vector<std::string> T::*member,
                            std::string description) {
        return Bind(
            NewField(std::move(name), FieldKind::kStringList, std::move(description)),
            [member](T &t, const FieldValue &v) {
                t.*member = std::get<std::vector<std::string>>(v);
            },
            [member](const T &t) {
                std::string out = "[";
                for (size_t i = 0; i < (t.*member).size(); ++i) {
                    if (i) out += ", ";
                    out += YamlScalar((t.*member)[i]);
                }
                return out + "]";
            });
    }
    FieldBuilder Duration(std::string name, std::chrono::milliseconds T::*member,
                          std::string description) {
        return Bind(
            NewField(std::move(name), FieldKind::kDuration, std::move(description)),
            [member](T &t, const FieldValue &v) {
                t.*member = std::get<std::chrono::milliseconds>(v);
            },
            [member](const T &t) { return FormatDuration(t.*member); });
    }
    FieldBuilder Size(std::string name, int64_t T::*member, int64_t min, int64_t max,
                      std::string description) {
        FieldSpec field = NewField(std::move(name), FieldKind::kSize, std::move(description));
        field.min = min;
        field.max = max;
        return Bind(
            std::move(field),
            [member](T &t, const FieldValue &v) { t.*member = std::get<int64_t>(v); },
            [member](const T &t) { return FormatSize(t.*member); });
    }
    // Declared here for the docs and for unknown-key checks; the caller reads it.
    FieldBuilder Section(std::string name, FieldKind kind, std::string description) {
        return Bind(NewField(std::move(name), kind, std::move(description)), nullptr, nullptr);
    }

    // Assigns every value the file set (or that a DefaultFrom derived) onto T{}.
    T Build(const ParsedFields &parsed) const {
        T out{};
        for (size_t i = 0; i < bindings_.size(); ++i) {
            if (bindings_[i].set && parsed.Value(i)) bindings_[i].set(out, *parsed.Value(i));
        }
        return out;
    }

    // Every field in declaration order, as DescribePipeline shows it. A field that conflicts
    // with a field that is set is left out: it does not apply.
    std::vector<DescribedField> Describe(const T &config) const {
        std::vector<DescribedField> out;
        for (size_t i = 0; i < bindings_.size(); ++i) {
            if (!bindings_[i].show || SupersededIn(config, Fields()[i].name)) continue;
            out.push_back({Fields()[i].name, bindings_[i].show(config)});
        }
        return out;
    }

private:
    struct Binding {
        std::function<void(T &, const FieldValue &)> set;
        std::function<std::string(const T &)> show;
    };

    FieldBuilder Bind(FieldSpec field, std::function<void(T &, const FieldValue &)> set,
                      std::function<std::string(const T &)> show) {
        if (show) {
            std::string shown = show(T{});
            if (shown != "\"\"") field.default_doc = shown;
        }
        size_t index = AddField(std::move(field));
        bindings_.push_back({std::move(set), std::move(show)});
        return FieldBuilder(*this, index);
    }

    bool SupersededIn(const T &config, const std::string &name) const {
        for (size_t i = 0; i < bindings_.size(); ++i) {
            const FieldSpec &f = Fields()[i];
            if (!bindings_[i].show) continue;
            for (const auto &c : f.conflicts_with) {
                if (c == name && bindings_[i].show(config) != "\"\"") return true;
            }
        }
        return false;
    }

    std::vector<Binding> bindings_;
};

// The value parsers below are in value_parsers.cpp.

// "500ms", "10s", "5m", "1h", or "0". Returns nullopt for anything else.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// "5MB", "512KiB", "1GB", "100B" or "4096". KB, MB and GB count in 1024s, as Elasticsearch's
// byte sizes do (KiB, MiB and GiB are accepted as the same); case is ignored.
std::optional<int64_t> ParseSize(std::string_view text);

// Replaces ${VAR} with the variable's value; "$${" is a literal "${". A name in `keep` is left
// as written (a placeholder the component fills in). On failure returns nullopt and sets
// `error` to a message naming the problem.
std::optional<std::string> Interpolate(
    std::string_view text,
    const std::function<std::optional<std::string>(const std::string &)> &getenv,
    std::string *error, const std::vector<std::string> &keep = {});

}  // namespace cdcctl
