// Rendering config specs for the man page (man/cdcctl-pipeline.5).
#pragma once

#include <string>

namespace cdcctl {

class ConfigSpec;

// The rows of a man page table (tbl(1)) documenting every field of `spec`: key, type, default,
// description. The man page test checks that man/cdcctl-pipeline.5 contains exactly this text.
std::string RenderSpecTable(const ConfigSpec &spec);

}  // namespace cdcctl
