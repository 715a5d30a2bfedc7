// Debezium's value-representation modes, shared by every source.
#pragma once

namespace cdcctl {

// time.precision.mode
enum class TimePrecisionMode { kAdaptive, kAdaptiveTimeMicroseconds, kConnect };
// decimal.handling.mode
enum class DecimalHandlingMode { kPrecise, kDouble, kString };

}  // namespace cdcctl
