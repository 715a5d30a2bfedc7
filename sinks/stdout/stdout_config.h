// What the user writes under `sink:` for `type: stdout`.
#pragma once

#include "core/config/spec.h"

namespace cdcctl {

enum class StdoutFormat { kEnvelope, kRow };

struct StdoutSinkConfig {
    StdoutFormat format = StdoutFormat::kEnvelope;
    bool schemas = false;  // true: Kafka Connect JsonConverter {"schema":...,"payload":...}
};

// Every key of `sink:` when `type: stdout`.
const StructSpec<StdoutSinkConfig> &StdoutSinkSpec();

}  // namespace cdcctl
