// The PostgreSQL source: a consistent snapshot read inside the exported snapshot of a new
// logical replication slot, then the pgoutput stream from exactly where the snapshot ends. This
// file is the phase machine that orders them (Open, Poll, Confirm, Close); each protocol concern
// has a file of its own: prerequisites, publication, slot, snapshot, replication_stream and
// relation_cache.
//
// Offset kept in the state file:
//   slot      the replication slot name
//   lsn       the position to stream from: every transaction that committed before it is in
//             the sink (the slot's confirmed_flush_lsn never passes it)
//   snapshot  in_progress | done | skipped
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/runtime/check.h"
#include "core/runtime/source.h"
#include "sources/postgres/pg_connection.h"
#include "sources/postgres/postgres_config.h"
#include "sources/postgres/relation_cache.h"
#include "sources/postgres/replication_stream.h"
#include "sources/postgres/snapshot.h"

namespace cdcctl::postgres {

class PostgresSource : public Source {
public:
    PostgresSource(PostgresSourceConfig config, std::string pipeline, std::string pipeline_file,
                   bool once);
    ~PostgresSource() override;

    void Open(const Offset &stored) override;
    bool Poll(Batch &batch, size_t max_events, Deadline deadline) override;
    void Confirm(const Offset &offset) override;
    void Idle() override;
    // A snapshot cannot be resumed (its exported snapshot dies with the connection), so a stop
    // during the snapshot stops at once and the next run takes it again; while streaming, a stop
    // waits for the transaction in flight to end.
    bool AtBoundary() const override { return !(stream_ && stream_->InTransaction()); }
    void Close() override;

    // `cdcctl check`: connect and test every prerequisite without changing anything.
    std::vector<CheckResult> Check();
    // `cdcctl discover`: the schemas events would carry.
    std::vector<TableSchemaPtr> Discover();
    // `cdcctl reset --drop-slot`. Returns false when there was no slot.
    bool DropSlot();

private:
    enum class Phase { kStart, kSnapshot, kStream, kDone };

    bool PollSnapshot(Batch &batch, size_t max_events, Deadline deadline);
    bool PollStream(Batch &batch, size_t max_events, Deadline deadline);

    PostgresSourceConfig config_;
    std::string pipeline_;
    std::string reset_command_;  // "cdcctl reset FILE", for recovery advice
    bool once_;

    // Declared in the order they depend on each other: the connection, the schemas read through
    // it, then the snapshot and the stream that use both.
    std::optional<pg::Connection> conn_;
    std::optional<RelationCache> relations_;
    std::optional<SnapshotReader> snapshot_;
    std::optional<ReplicationStream> stream_;  // owns the replication connection

    Phase phase_ = Phase::kStart;
    Offset pending_checkpoint_;
    bool has_pending_checkpoint_ = false;
    bool finish_after_snapshot_ = false;
    bool drop_slot_after_snapshot_ = false;
    uint64_t consistent_point_ = 0;  // where the new slot's stream starts
};

}  // namespace cdcctl::postgres

namespace cdcctl {
using postgres::PostgresSource;
}  // namespace cdcctl
