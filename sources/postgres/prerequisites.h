// What logical decoding needs from the server before cdcctl changes anything, checked the same
// way by `cdcctl check` and at every start: pgoutput (PostgreSQL 10+), wal_level = logical, a
// role with REPLICATION, SELECT on every captured table (the snapshot COPYs them), a replica
// identity that puts the old key of an update or delete into the WAL, a publication cdcctl may
// use or create, a replication slot, and pg_hba.conf letting the role open a replication
// connection. The person who reads a failure is often not the one who can fix it, so each
// failure names the statement or setting that does.
#pragma once

#include <vector>

#include "core/runtime/check.h"
#include "sources/postgres/catalog.h"
#include "sources/postgres/pg_connection.h"
#include "sources/postgres/postgres_config.h"

namespace cdcctl::postgres {

// Checks the server, the role, the tables and the publication on `conn`, appending one
// CheckResult per check to `results`, and returns the tables the pipeline captures (none when
// the table patterns cannot be resolved). With `throw_on_failure` the first failed check is
// thrown instead: a ConnectError with its advice, or the ConfigError of the table patterns.
std::vector<pg::TableInfo> CheckPrerequisites(const pg::Connection &conn,
                                              const PostgresSourceConfig &config,
                                              std::vector<CheckResult> *results,
                                              bool throw_on_failure);

// `cdcctl check`: connects and tests every prerequisite, the slot and the replication connection
// without changing anything.
std::vector<CheckResult> RunChecks(const PostgresSourceConfig &config);

}  // namespace cdcctl::postgres
