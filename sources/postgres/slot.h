// The logical replication slot is the server's memory of how far cdcctl has read: it keeps every
// WAL segment from its confirmed_flush_lsn on, so a slot nobody reads fills the server's disk, and
// a slot that another consumer advanced has skipped changes cdcctl never delivered. Creating it
// with EXPORT_SNAPSHOT yields a snapshot of exactly the database state the slot's stream starts
// from, which is what makes snapshot + stream neither miss nor repeat a row.
//
// The source's offset names the slot too, so a state file cannot silently be resumed against a
// different slot:
//   slot      the replication slot name
//   lsn       the position to stream from
//   snapshot  in_progress | done | skipped
#pragma once

#include <cstdint>
#include <string>

#include "core/event/change_event.h"
#include "core/runtime/check.h"
#include "sources/postgres/pg_connection.h"

namespace cdcctl::postgres {

struct SlotState {
    bool exists = false;
    bool active = false;         // a walsender holds it
    uint64_t confirmed_lsn = 0;  // confirmed_flush_lsn; 0 when it has none
};

// The slot as pg_replication_slots shows it. Throws ConnectError when a slot of that name
// belongs to another output plugin or database.
SlotState ReadSlot(const pg::Connection &conn, const std::string &slot);

struct CreatedSlot {
    uint64_t consistent_point = 0;  // the stream of the slot starts here
    std::string snapshot_name;      // empty without EXPORT_SNAPSHOT
};

// CREATE_REPLICATION_SLOT ... LOGICAL pgoutput on a replication connection. The exported snapshot
// stays importable only while `repl` stays open and runs no other command.
CreatedSlot CreateSlot(const pg::Connection &repl, const std::string &slot, bool export_snapshot);

// Drops the slot if it exists; a ConnectError when another process holds it.
void DropSlotIfExists(const pg::Connection &conn, const std::string &slot);

// `cdcctl check`: the slot exists and is free, or a new one can be created.
CheckResult CheckSlot(const pg::Connection &conn, const std::string &slot);

// Before resuming from `lsn` (the state file's position): the slot still exists, is not held by
// another process (a walsender of a run that just stopped gets a few seconds to let go), and has
// not confirmed past `lsn`. Throws StateError or ConnectError naming `reset_command` otherwise.
void CheckSlotResumable(const pg::Connection &conn, const std::string &slot, uint64_t lsn,
                        const std::string &reset_command);

// The offset the state file keeps for a position in `slot`.
Offset SlotOffset(const std::string &slot, uint64_t lsn, const char *snapshot);

}  // namespace cdcctl::postgres
