// What the user writes under `source:` for `type: postgres`. Parsed and checked by the spec in
// postgres_config.cpp; the connector only ever sees this struct.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/config/secret.h"
#include "core/config/spec.h"
#include "core/event/modes.h"

namespace cdcctl {

enum class SnapshotMode { kInitial, kNever, kInitialOnly, kAlways };

struct PostgresSourceConfig {
    std::string host = "localhost";  // host name, address, or a socket directory
    int port = 5432;
    std::string user;
    Secret password;
    std::string database;
    Secret url;  // a libpq URI or conninfo; replaces host/port/user/database when set
    std::vector<std::string> tables;          // schema.table, * globs
    std::vector<std::string> exclude_tables;  // schema.table, * globs
    std::string topic_prefix;                 // default: the pipeline name
    SnapshotMode snapshot = SnapshotMode::kInitial;
    std::string slot;         // default: cdcctl_<pipeline>
    std::string publication;  // default: cdcctl_<pipeline>
    TimePrecisionMode time_precision_mode = TimePrecisionMode::kAdaptive;
    DecimalHandlingMode decimal_handling_mode = DecimalHandlingMode::kPrecise;
    std::chrono::milliseconds heartbeat_interval{10000};
    std::string sslmode = "prefer";
    std::string sslrootcert;  // empty: libpq's default
};

// Every key of `source:` when `type: postgres`, with its default, checks and documentation.
const StructSpec<PostgresSourceConfig> &PostgresSourceSpec();

}  // namespace cdcctl
