#pragma once

#include <string>

namespace cdcctl {

// One line of `cdcctl check`: a prerequisite and whether it holds.
struct CheckResult {
    std::string name;    // "wal_level", "replication role", ...
    bool ok = false;
    std::string detail;  // what was found; on failure, how to fix it
};

}  // namespace cdcctl
