// What the user writes under `sink:` for `type: stdout`.
#pragma once

namespace cdcctl {

enum class StdoutFormat { kEnvelope, kRow };

struct StdoutSinkConfig {
    StdoutFormat format = StdoutFormat::kEnvelope;
    bool schemas = false;  // true: Kafka Connect JsonConverter {"schema":...,"payload":...}
};

}  // namespace cdcctl
