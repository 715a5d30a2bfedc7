// Turning the text of one YAML value into a field's typed value: integers, booleans, enums,
// lists, durations ("10s") and sizes ("5MB"), after ${VAR} interpolation; and back again for
// DescribePipeline and the docs' Default column. A field's accepted spellings and the messages
// that list them when a value is wrong stay side by side here.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "core/config/spec.h"
#include "core/config/spec_internal.h"
#include "core/config/suggest.h"

namespace cdcctl {
namespace {

using spec_internal::At;
using spec_internal::JoinList;
using spec_internal::Quoted;

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

}  // namespace

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

namespace spec_internal {

std::optional<FieldValue> ReadValue(const FieldSpec &f, const YAML::Node &node, Position key_at,
                                    const std::string &path, ConfigContext &ctx) {
    // An empty value ("key:") has the mark of whatever follows it; the key is where it was
    // written.
    const Position at = node.IsNull() ? key_at : At(node.Mark());
    const bool secret = f.kind == FieldKind::kSecret;

    auto scalar_text = [&](const YAML::Node &n, Position n_at,
                           const std::string &n_path) -> std::optional<std::string> {
        if (!n.IsScalar()) {
            ctx.Report(n_at, n_path, "expected a string, got " + DescribeShape(n));
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
            ctx.Report(at, path, "expected a list, got " + DescribeShape(node));
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
        ctx.Report(at, path, "expected " + Expectation(f) + ", got " + DescribeShape(node));
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

}  // namespace spec_internal
}  // namespace cdcctl
