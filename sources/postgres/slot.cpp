// Reading, creating and dropping the replication slot; see slot.h.
#include "sources/postgres/slot.h"

#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/runtime/log.h"
#include "core/runtime/signals.h"
#include "sources/postgres/common.h"
#include "sources/postgres/replication_messages.h"

namespace cdcctl::postgres {

SlotState ReadSlot(const pg::Connection &conn, const std::string &slot) {
    pg::ResultPtr r = conn.ExecParams(
        "SELECT confirmed_flush_lsn::text, active, plugin, database FROM pg_replication_slots "
        "WHERE slot_name = $1",
        {slot}, "reading the replication slot");
    SlotState state;
    state.exists = PQntuples(r.get()) == 1;
    state.active = state.exists && PQgetvalue(r.get(), 0, 1)[0] == 't';
    if (!state.exists) return state;
    std::string plugin = PQgetvalue(r.get(), 0, 2);
    std::string db = PQgetvalue(r.get(), 0, 3);
    if (plugin != "pgoutput" || db != PQdb(conn.get())) {
        throw ConnectError(kComponent, "replication slot '" + slot + "' belongs to plugin '" +
                                           plugin + "' in database '" + db +
                                           "', not pgoutput in '" + PQdb(conn.get()) +
                                           "'; choose another 'slot:' name");
    }
    if (PQgetisnull(r.get(), 0, 0)) return state;
    ParseLsn(PQgetvalue(r.get(), 0, 0), &state.confirmed_lsn);
    return state;
}

CreatedSlot CreateSlot(const pg::Connection &repl, const std::string &slot, bool export_snapshot) {
    std::string cmd = "CREATE_REPLICATION_SLOT " + repl.QuoteIdent(slot) +
                      " LOGICAL pgoutput " + (export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    pg::ResultPtr r;
    try {
        r = repl.Exec(cmd, "creating the replication slot");
    } catch (const pg::SqlError &e) {
        throw ConnectError(kComponent, e.what());
    }
    CreatedSlot created;
    // slot_name, consistent_point, snapshot_name, output_plugin
    if (!ParseLsn(PQgetvalue(r.get(), 0, 1), &created.consistent_point)) {
        throw ProtocolError(kComponent, "CREATE_REPLICATION_SLOT returned an invalid consistent point");
    }
    created.snapshot_name = PQgetisnull(r.get(), 0, 2) ? "" : PQgetvalue(r.get(), 0, 2);
    log::Info(kComponent, "Created replication slot '" + slot + "' at " +
                              FormatLsn(created.consistent_point) + ".");
    return created;
}

void DropSlotIfExists(const pg::Connection &conn, const std::string &slot) {
    SlotState state = ReadSlot(conn, slot);
    if (!state.exists) return;
    if (state.active) {
        throw ConnectError(kComponent, "replication slot '" + slot +
                                           "' is in use by another process; stop it first");
    }
    conn.ExecParams("SELECT pg_drop_replication_slot($1)", {slot}, "dropping the replication slot");
    log::Info(kComponent, "Dropped replication slot '" + slot + "'.");
}

CheckResult CheckSlot(const pg::Connection &conn, const std::string &slot) {
    SlotState state = ReadSlot(conn, slot);
    if (state.exists) {
        return {"slot", !state.active,
                state.active ? "replication slot '" + slot + "' is in use by another process"
                             : "replication slot '" + slot + "' exists at " +
                                   FormatLsn(state.confirmed_lsn)};
    }
    auto free_slots = conn.Value(
        "SELECT current_setting('max_replication_slots')::int - count(*) FROM pg_replication_slots",
        "counting replication slots");
    bool ok = free_slots && std::stoi(*free_slots) > 0;
    return {"slot", ok,
            ok ? "replication slot '" + slot + "' will be created"
               : "no free replication slot: raise max_replication_slots in "
                 "postgresql.conf, or drop an unused slot"};
}

void CheckSlotResumable(const pg::Connection &conn, const std::string &slot, uint64_t lsn,
                        const std::string &reset_command) {
    SlotState state = ReadSlot(conn, slot);
    if (!state.exists) {
        throw StateError("state", "replication slot '" + slot +
                                      "' has disappeared; the changes after " + FormatLsn(lsn) +
                                      " can no longer be read. Run '" + reset_command + "' and start again "
                                      "with a new snapshot");
    }
    // A walsender of a run that just stopped can hold the slot for a few seconds more.
    for (int i = 0; state.active && i < 30 && !signals::StopRequested(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        state = ReadSlot(conn, slot);
    }
    if (state.active) {
        throw ConnectError(kComponent, "replication slot '" + slot +
                                           "' is in use by another process; stop it first");
    }
    if (state.confirmed_lsn > lsn) {
        throw StateError("state", "replication slot '" + slot + "' has confirmed " +
                                      FormatLsn(state.confirmed_lsn) + ", ahead of the state file's " +
                                      FormatLsn(lsn) +
                                      ": another consumer read from the slot and the changes in "
                                      "between were not delivered. Run '" + reset_command + " --drop-slot' "
                                      "and start again with a new snapshot");
    }
}

Offset SlotOffset(const std::string &slot, uint64_t lsn, const char *snapshot) {
    return Offset{{"slot", slot}, {"lsn", FormatLsn(lsn)}, {"snapshot", snapshot}};
}

}  // namespace cdcctl::postgres
