// The publication decides which tables pgoutput sends changes for: a change to a table outside
// it never reaches the slot's stream, whatever the pipeline says. cdcctl creates the publication,
// or adds the captured tables to an existing one, as the role it runs as; PostgreSQL allows that
// only to the owner of every table named (and of the publication, to alter it), so each check
// and failure says who has to run which statement instead.
#pragma once

#include <string>
#include <vector>

#include "core/runtime/check.h"
#include "sources/postgres/catalog.h"
#include "sources/postgres/pg_connection.h"

namespace cdcctl::postgres {

// Whether `publication` publishes every operation of `tables`, or cdcctl may create or extend it
// so that it does. Changes nothing.
CheckResult CheckPublication(const pg::Connection &conn, const std::string &publication,
                             const std::vector<pg::TableInfo> &tables);

// Creates `publication` for `tables`, or adds the tables it lacks; nothing when it publishes all
// tables. Throws ConnectError with the statement the tables' owner can run when the role may not.
void EnsurePublication(const pg::Connection &conn, const std::string &publication,
                       const std::vector<pg::TableInfo> &tables);

}  // namespace cdcctl::postgres
