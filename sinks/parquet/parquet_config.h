// What the user writes under `sink:` for `type: parquet`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/config/spec.h"

namespace cdcctl {

enum class ParquetCompression { kSnappy, kZstd, kGzip, kNone };
enum class ParquetContent { kRow, kEnvelope };
enum class ParquetPartition { kNone, kDate };

struct ParquetSinkConfig {
    std::string path;  // files go under <path>/<topic>/
    ParquetCompression compression = ParquetCompression::kSnappy;
    ParquetContent content = ParquetContent::kRow;
    int64_t max_rows = 1000000;
    int64_t max_bytes = int64_t{256} << 20;
    std::chrono::milliseconds max_age{std::chrono::minutes(1)};
    int64_t row_group_rows = 128000;
    ParquetPartition partition_by = ParquetPartition::kNone;
};

// Every key of `sink:` when `type: parquet`.
const StructSpec<ParquetSinkConfig> &ParquetSinkSpec();

}  // namespace cdcctl
