// Debezium's io.debezium.connector.postgresql.Source struct, and how the PostgreSQL source fills
// a SourceInfo from its positions. The LSN is both orders: commit_order is the commit LSN of the
// event's transaction (the snapshot's consistent point for snapshot reads, which is below the
// commit LSN of every transaction streamed after it), event_order the change's own LSN.
#pragma once

#include <cstdint>

#include "core/event/change_event.h"
#include "core/event/source_block.h"

namespace cdcctl::postgres {

const SourceBlock &PostgresSourceBlock();

// A row read by the snapshot exported at `consistent_point`.
void SetSnapshotSource(SourceInfo &s, uint64_t consistent_point);
// A change at `lsn` in the transaction `xid` that commits at `commit_lsn`, after the commit at
// `last_commit_lsn` (0: none seen yet).
void SetStreamSource(SourceInfo &s, uint64_t lsn, uint64_t last_commit_lsn, uint64_t commit_lsn,
                     int64_t xid);

// "%08X/%08X": the LSN's text form zero-padded, so that positions sort as strings and still
// parse as pg_lsn.
void AppendLsnPosition(std::string *out, uint64_t lsn);

}  // namespace cdcctl::postgres
