#include "sinks/stdout/stdout_config.h"

namespace cdcctl {

const StructSpec<StdoutSinkConfig> &StdoutSinkSpec() {
    static const StructSpec<StdoutSinkConfig> spec = [] {
        using C = StdoutSinkConfig;
        StructSpec<C> s("sink", "stdout",
                        "Writes one JSON change event per line (NDJSON) to standard output.");
        s.Enum("format", &C::format,
               {{"envelope", StdoutFormat::kEnvelope}, {"row", StdoutFormat::kRow}},
               "envelope writes the Debezium change event (before, after, source, op, ts_ms); "
               "row writes only the row state, the way Debezium's ExtractNewRecordState "
               "transform does.");
        s.Bool("schemas", &C::schemas,
               "Wrap each event as Kafka Connect's JsonConverter does with schemas.enable=true: "
               "{\"schema\": ..., \"payload\": ...}.");
        return s;
    }();
    return spec;
}

}  // namespace cdcctl
