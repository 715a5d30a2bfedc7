#pragma once

#include <string>

namespace cdcctl {

// A config value that must never be printed: the loader registers it with log::AddSecret and
// `cdcctl check` shows it as "***".
struct Secret {
    std::string value;
    bool empty() const { return value.empty(); }
};

}  // namespace cdcctl
