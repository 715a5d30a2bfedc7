// What the files of the spec framework share (spec.cpp, value_parsers.cpp, man_render.cpp) and
// the components, which include spec.h, have no use for: reading one field's value, and the few
// helpers their messages are built with. Kept apart so that spec.h stays free of yaml-cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/spec.h"

namespace YAML {
struct Mark;
}

namespace cdcctl::spec_internal {

// The 1-based position of a yaml-cpp mark; {0,0} for a null mark.
Position At(const YAML::Mark &mark);
// "'text'", as messages quote values and keys.
std::string Quoted(std::string_view s);
// "a, b, c".
std::string JoinList(const std::vector<std::string> &items);

// Reads one field's value (value_parsers.cpp): ${VAR} interpolation, then the field's kind
// (string, integer, bool, enum, list, duration, size) and checks. Reports into `ctx` and returns
// nullopt when the value is unusable.
std::optional<FieldValue> ReadValue(const FieldSpec &f, const YAML::Node &node, Position key_at,
                                    const std::string &path, ConfigContext &ctx);

}  // namespace cdcctl::spec_internal
