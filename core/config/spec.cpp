#include "core/config/spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

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

std::string JoinList(const std::vector<std::string> &items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += items[i];
    }
    return out;
}

std::string Quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

std::string KeyPath(const std::string &parent, const std::string &key) {
    return parent.empty() ? key : parent + "." + key;
}

// yaml-cpp marks are 0-based; a null mark (no position) has negative fields.
Position At(const YAML::Mark &mark) {
    if (mark.line < 0 || mark.column < 0) return {};
    return {mark.line + 1, mark.column + 1};
}

std::string FormatPosition(Position p) {
    return std::to_string(p.line) + ":" + std::to_string(p.column);
}

std::string Describe(const YAML::Node &node) { return DescribeShape(node); }

}  // namespace

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

namespace {

std::string Expectation(const FieldSpec &f) {
    switch (f.kind) {
        case FieldKind::kString:
        case FieldKind::kSecret:
        case FieldKind::kEnum:
            return "a string";
        case FieldKind::kInteger:
            return "an integer";
        case FieldKind::kBool:
            return "true or false";
        case FieldKind::kStringList:
            return "a list";
        case FieldKind::kDuration:
            return "a duration";
        case FieldKind::kSize:
            return "a size";
        case FieldKind::kSection:
            return "a mapping";
        case FieldKind::kSectionList:
            return "a list";
    }
    return "a value";
}

std::string KindName(FieldKind k) {
    switch (k) {
        case FieldKind::kString:
            return "string";
        case FieldKind::kSecret:
            return "secret string";
        case FieldKind::kInteger:
            return "integer";
        case FieldKind::kBool:
            return "boolean";
        case FieldKind::kEnum:
            return "enum";
        case FieldKind::kStringList:
            return "list of strings";
        case FieldKind::kDuration:
            return "duration";
        case FieldKind::kSize:
            return "size";
        case FieldKind::kSection:
            return "mapping";
        case FieldKind::kSectionList:
            return "list of mappings";
    }
    return "value";
}

std::optional<int64_t> ParseInt(std::string_view text) {
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    if (text.empty()) return std::nullopt;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

bool IsOutOfRangeInteger(std::string_view text) {
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) text.remove_prefix(1);
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool IsEnvName(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
    return std::all_of(name.begin(), name.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// Text lines of a roff document: a leading '.' or '\'' would be read as a request.
std::string Roff(std::string_view text) {
    std::string out;
    bool line_start = true;
    for (char c : text) {
        if (line_start && (c == '.' || c == '\'')) out += "\\&";
        line_start = false;
        switch (c) {
            case '\\':
                out += "\\e";
                break;
            case '-':
                out += "\\-";
                break;
            case '\n':
                out += '\n';
                line_start = true;
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace

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

size_t EditDistance(std::string_view a, std::string_view b) {
    // Optimal string alignment: Levenshtein plus transposition of two adjacent characters,
    // the commonest typo ("slto").
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.size()][b.size()];
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string> &candidates) {
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (char &c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    };
    const std::string w = lower(word);
    const size_t limit = std::max<size_t>(2, word.size() / 3);
    std::string best;
    size_t best_distance = limit + 1;
    for (const auto &c : candidates) {
        const std::string lc = lower(c);
        size_t d = EditDistance(w, lc);
        // "slot_nme" means "slot" with a qualifier added, however far apart they are by edits.
        if (w.size() > lc.size() + 1 && w.compare(0, lc.size(), lc) == 0 && w[lc.size()] == '_') {
            d = std::min<size_t>(d, 1);
        }
        if (d < best_distance) {
            best = c;
            best_distance = d;
        }
    }
    return best;
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
    if (text == "0") return std::chrono::milliseconds(0);
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
        ++digits;
    }
    if (digits == 0) return std::nullopt;
    std::string_view unit = text.substr(digits);
    int64_t factor = 0;
    if (unit == "ms")
        factor = 1;
    else if (unit == "s")
        factor = 1000;
    else if (unit == "m")
        factor = 60 * 1000;
    else if (unit == "h")
        factor = 60 * 60 * 1000;
    else
        return std::nullopt;
    auto n = ParseInt(text.substr(0, digits));
    if (!n || *n > std::numeric_limits<int64_t>::max() / factor) return std::nullopt;
    return std::chrono::milliseconds(*n * factor);
}

std::optional<int64_t> ParseSize(std::string_view text) {
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
        ++digits;
    }
    if (digits == 0) return std::nullopt;
    std::string unit;
    for (char c : text.substr(digits)) {
        unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    int64_t factor = 0;
    if (unit.empty() || unit == "b")
        factor = 1;
    else if (unit == "kb" || unit == "kib")
        factor = int64_t{1} << 10;
    else if (unit == "mb" || unit == "mib")
        factor = int64_t{1} << 20;
    else if (unit == "gb" || unit == "gib")
        factor = int64_t{1} << 30;
    else
        return std::nullopt;
    auto n = ParseInt(text.substr(0, digits));
    if (!n || *n > std::numeric_limits<int64_t>::max() / factor) return std::nullopt;
    return *n * factor;
}

std::string FormatSize(int64_t bytes) {
    if (bytes == 0) return "0";
    if (bytes % (int64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + "GB";
    if (bytes % (int64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "MB";
    if (bytes % (int64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + "KB";
    return std::to_string(bytes) + "B";
}

std::string FormatDuration(std::chrono::milliseconds d) {
    const int64_t ms = d.count();
    if (ms == 0) return "0";
    if (ms % (60 * 60 * 1000) == 0) return std::to_string(ms / (60 * 60 * 1000)) + "h";
    if (ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::string YamlScalar(std::string_view text) {
    static const std::vector<std::string> kReserved = {"true", "false", "null", "~", "yes",
                                                       "no",   "on",    "off",  "y", "n"};
    std::string lower(text);
    for (char &c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool plain =
        !text.empty() && text.front() != ' ' && text.back() != ' ' &&
        std::string_view("-?:,[]{}#&*!|>'\"%@`").find(text.front()) == std::string_view::npos &&
        text.find_first_of(":#,[]{}") == std::string_view::npos &&
        std::find(kReserved.begin(), kReserved.end(), lower) == kReserved.end() &&
        !std::isdigit(static_cast<unsigned char>(text.front())) && text.front() != '.';
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) plain = false;
    }
    if (plain) return std::string(text);
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    static const char kHex[] = "0123456789abcdef";
                    out += "\\x";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xf];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

std::optional<std::string> Interpolate(
    std::string_view text,
    const std::function<std::optional<std::string>(const std::string &)> &getenv,
    std::string *error, const std::vector<std::string> &keep) {
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        if (text.substr(i, 3) == "$${") {
            out += "${";
            i += 3;
            continue;
        }
        if (text.substr(i, 2) != "${") {
            out += text[i++];
            continue;
        }
        size_t close = text.find('}', i + 2);
        if (close == std::string_view::npos) {
            *error = "unterminated '${' (write '$${' for a literal '${')";
            return std::nullopt;
        }
        std::string name(text.substr(i + 2, close - i - 2));
        if (std::find(keep.begin(), keep.end(), name) != keep.end()) {
            out.append(text.substr(i, close + 1 - i));
            i = close + 1;
            continue;
        }
        if (!IsEnvName(name)) {
            *error = "invalid environment variable name '" + name +
                     "' (use letters, digits and '_'; write '$${' for a literal '${')";
            return std::nullopt;
        }
        std::optional<std::string> value = getenv(name);
        if (!value) {
            *error = "environment variable '" + name + "' is not set";
            return std::nullopt;
        }
        out += *value;
        i = close + 1;
    }
    return out;
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

namespace {

// A URL's user info (scheme://user:password@host) is shown as *** in error messages: the value
// is wrong, but the password in it may be right.
std::string HideUserInfo(const std::string &text) {
    size_t scheme = text.find("://");
    if (scheme == std::string::npos) return text;
    size_t start = scheme + 3;
    size_t at = text.rfind('@');
    if (at == std::string::npos || at < start) return text;
    return text.substr(0, start) + "***" + text.substr(at);
}

// Reads one field's value; reports and returns nullopt when it is unusable.
std::optional<FieldValue> ReadValue(const FieldSpec &f, const YAML::Node &node, Position key_at,
                                    const std::string &path, ConfigContext &ctx) {
    // An empty value ("key:") has the mark of whatever follows it; the key is where it was
    // written.
    const Position at = node.IsNull() ? key_at : At(node.Mark());
    const bool secret = f.kind == FieldKind::kSecret;

    auto scalar_text = [&](const YAML::Node &n, Position n_at,
                           const std::string &n_path) -> std::optional<std::string> {
        if (!n.IsScalar()) {
            ctx.Report(n_at, n_path, "expected a string, got " + Describe(n));
            return std::nullopt;
        }
        std::string error;
        auto text = Interpolate(n.Scalar(), ctx.getenv, &error, f.placeholders);
        if (!text) ctx.Report(n_at, n_path, error);
        return text;
    };
    auto checked = [&](const std::string &text, Position n_at, const std::string &n_path) {
        if (f.non_empty && text.empty()) {
            ctx.Report(n_at, n_path, "must not be empty");
            return false;
        }
        std::string why = f.check ? f.check(text) : std::string();
        if (!why.empty()) {
            ctx.Report(n_at, n_path,
                       secret ? "invalid value (" + why + ")"
                              : "invalid value " + Quoted(HideUserInfo(text)) + " (" + why + ")");
            return false;
        }
        return true;
    };

    if (f.kind == FieldKind::kStringList) {
        std::vector<std::string> items;
        if (node.IsNull()) return items;
        if (!node.IsSequence()) {
            ctx.Report(at, path, "expected a list, got " + Describe(node));
            return std::nullopt;
        }
        bool ok = true;
        for (size_t i = 0; i < node.size(); ++i) {
            const YAML::Node item = node[i];
            const std::string item_path = path + "[" + std::to_string(i) + "]";
            const Position item_at = item.IsNull() ? at : At(item.Mark());
            auto text = scalar_text(item, item_at, item_path);
            if (text && checked(*text, item_at, item_path)) {
                items.push_back(*text);
            } else {
                ok = false;
            }
        }
        if (!ok) return std::nullopt;
        if (f.non_empty && items.empty()) {
            ctx.Report(at, path, "expected at least one entry, got an empty list");
            return std::nullopt;
        }
        return items;
    }

    if (!node.IsScalar()) {
        ctx.Report(at, path, "expected " + Expectation(f) + ", got " + Describe(node));
        return std::nullopt;
    }
    std::string error;
    auto interpolated = Interpolate(node.Scalar(), ctx.getenv, &error, f.placeholders);
    if (!interpolated) {
        ctx.Report(at, path, error);
        return std::nullopt;
    }
    const std::string &text = *interpolated;

    switch (f.kind) {
        case FieldKind::kString:
        case FieldKind::kSecret:
            if (!checked(text, at, path)) return std::nullopt;
            return text;
        case FieldKind::kInteger: {
            const bool bounded = f.min != std::numeric_limits<int64_t>::min() ||
                                 f.max != std::numeric_limits<int64_t>::max();
            auto v = ParseInt(text);
            if (!v && !(bounded && IsOutOfRangeInteger(text))) {
                ctx.Report(at, path, "expected an integer, got " + Quoted(text));
                return std::nullopt;
            }
            if (!v || *v < f.min || *v > f.max) {
                ctx.Report(at, path,
                           "expected an integer from " + std::to_string(f.min) + " to " +
                               std::to_string(f.max) + ", got " + Quoted(text));
                return std::nullopt;
            }
            return *v;
        }
        case FieldKind::kBool:
            if (text == "true" || text == "True" || text == "TRUE") return true;
            if (text == "false" || text == "False" || text == "FALSE") return false;
            ctx.Report(at, path, "expected true or false, got " + Quoted(text));
            return std::nullopt;
        case FieldKind::kEnum: {
            if (std::find(f.allowed.begin(), f.allowed.end(), text) != f.allowed.end()) {
                return text;
            }
            std::string message =
                "invalid value " + Quoted(text) + " (expected one of: " + JoinList(f.allowed);
            std::string near = ClosestMatch(text, f.allowed);
            if (!near.empty()) message += "; did you mean " + Quoted(near) + "?";
            ctx.Report(at, path, message + ")");
            return std::nullopt;
        }
        case FieldKind::kDuration: {
            auto d = ParseDuration(text);
            if (!d) {
                ctx.Report(at, path,
                           "invalid duration " + Quoted(text) +
                               " (expected a whole number with a unit ms, s, m or h, such as "
                               "500ms, 10s, 5m or 1h; or 0)");
                return std::nullopt;
            }
            return *d;
        }
        case FieldKind::kSize: {
            auto n = ParseSize(text);
            if (!n) {
                ctx.Report(at, path,
                           "invalid size " + Quoted(text) +
                               " (expected a whole number of bytes, or one with a unit B, KB, MB "
                               "or GB, such as 512KB or 5MB)");
                return std::nullopt;
            }
            if (*n < f.min || *n > f.max) {
                ctx.Report(at, path,
                           "expected a size from " + FormatSize(f.min) + " to " +
                               FormatSize(f.max) + ", got " + Quoted(text));
                return std::nullopt;
            }
            return *n;
        }
        default:
            return std::nullopt;
    }
}

}  // namespace

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
            ctx.Report(key_at, where.path, "a key must be a plain name, got " + Describe(key));
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
        parsed.Set(*index, key_at, value_at, ReadValue(f, value, key_at, path, ctx));
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

std::string RenderSpecTable(const ConfigSpec &spec) {
    std::string out =
        ".TS\n"
        "tab(|);\n"
        "lb lb lb lb\n"
        "l l l lx .\n"
        "KEY|TYPE|DEFAULT|DESCRIPTION\n"
        "_\n";
    for (const auto &f : spec.Fields()) {
        std::string default_text;
        if (f.required) {
            default_text = "required";
        } else if (!f.required_unless.empty()) {
            default_text = "required unless " + f.required_unless + " is set";
        } else if (!f.required_when.first.empty()) {
            default_text = "required when " + f.required_when.first + " is " +
                           f.required_when.second;
        } else if (!f.default_doc.empty()) {
            default_text = f.default_doc;
        } else {
            default_text = "none";
        }
        std::string description = f.description;
        if (f.kind == FieldKind::kEnum) description += " One of: " + JoinList(f.allowed) + ".";
        if (f.kind == FieldKind::kSize && f.min != std::numeric_limits<int64_t>::min()) {
            description += " From " + FormatSize(f.min) + " to " + FormatSize(f.max) + ".";
        }
        if (f.kind == FieldKind::kInteger && f.min != std::numeric_limits<int64_t>::min()) {
            description += " From " + std::to_string(f.min) + " to " + std::to_string(f.max) + ".";
        }
        if (!f.conflicts_with.empty()) {
            description += " Cannot be combined with " + JoinList(f.conflicts_with) + ".";
        }
        out += Roff(f.name) + "|" + Roff(KindName(f.kind)) + "|T{\n" + Roff(default_text) +
               "\nT}|T{\n" + Roff(description) + "\nT}\n";
    }
    out += ".TE\n";
    return out;
}

}  // namespace cdcctl
