// The man page's tables of keys are rendered from the specs rather than written by hand, so
// that cdcctl-pipeline.5 cannot drift from what the parser accepts: the man page test compares
// the page with this output.
#include "core/config/man_render.h"

#include <limits>

#include "core/config/spec.h"
#include "core/config/spec_internal.h"

namespace cdcctl {
namespace {

using spec_internal::JoinList;

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
            default_text =
                "required when " + f.required_when.first + " is " + f.required_when.second;
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
