// START_REPLICATION puts the replication connection into CopyBoth mode: the server sends XLogData
// (one pgoutput message each) and keepalives, and expects standby status updates back, or it
// ends the connection after wal_sender_timeout (the messages: replication_messages.h). The flush
// position of a status update lets the server advance the slot and recycle WAL, so it reports
// only what the sink has made durable (Confirm), never what was merely received. Keepalives carry
// the server's WAL position past changes the publication filtered out; between transactions that
// position becomes a checkpoint, so an idle or filtered slot does not hold WAL forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "core/event/change_event.h"
#include "core/runtime/source.h"
#include "sources/postgres/pg_connection.h"
#include "sources/postgres/pgoutput_decoder.h"
#include "sources/postgres/postgres_config.h"
#include "sources/postgres/relation_cache.h"

namespace cdcctl::postgres {

class ReplicationStream {
public:
    // `conn` is a replication connection for `config.slot`; when it created the slot with an
    // exported snapshot, it must stay open (and idle) until the snapshot ends, which it does here.
    // `config` and `relations` must outlive the stream.
    ReplicationStream(const PostgresSourceConfig &config, RelationCache &relations,
                      pg::Connection conn);

    // The snapshot value of the offsets this stream produces ("done" unless set).
    void SetSnapshotLabel(const char *label) { snapshot_label_ = label; }
    // Stream from `lsn`, the position the snapshot was taken at.
    void StartAt(uint64_t lsn);
    // Stream from `lsn`, which is already confirmed: the state file's position, or where a new
    // slot starts.
    void ResumeAt(uint64_t lsn);
    // --once: end the run once everything before `target` has been read.
    void StopAfter(uint64_t target);

    // Sends START_REPLICATION on the first call, then appends events to `batch` until it holds
    // `max_events` or `deadline` passes, with the checkpoint of the last commit or heartbeat.
    // Returns false when --once has nothing more to give (Finished() is then true).
    bool Poll(Batch &batch, size_t max_events, Deadline deadline);
    bool Finished() const { return finished_; }
    bool InTransaction() const { return in_transaction_; }

    // Every change up to `lsn` is durable in the sink: report it as flushed.
    void Confirm(uint64_t lsn);
    // The runtime waits on the sink: keep the connection alive for wal_sender_timeout.
    void Idle();
    // Reports the last flush position and ends the stream, so the slot is free on exit.
    void Close();

private:
    void Start();
    void HandleXLogData(Batch &batch, uint64_t wal_start, std::string_view data);
    void SendStatus(bool reply_requested);
    void WaitForStream(Deadline deadline);

    const PostgresSourceConfig &config_;
    RelationCache &relations_;
    pg::Connection conn_;
    PgoutputDecoder decoder_;

    uint64_t start_lsn_ = 0;
    uint64_t received_lsn_ = 0;   // highest position seen
    uint64_t confirmed_lsn_ = 0;  // saved in the state file: reported as flushed
    uint64_t last_commit_lsn_ = 0;
    uint64_t final_lsn_ = 0;  // commit LSN of the transaction being decoded (from Begin)
    uint64_t checkpoint_lsn_ = 0;  // last checkpoint handed to the runtime
    uint64_t keepalive_lsn_ = 0;
    bool once_ = false;
    uint64_t once_target_ = 0;
    bool in_transaction_ = false;
    uint32_t xid_ = 0;
    int64_t commit_ts_ms_ = 0;
    std::chrono::steady_clock::time_point last_status_{};
    std::chrono::steady_clock::time_point last_heartbeat_{};
    std::chrono::steady_clock::time_point last_reply_request_{};
    bool streaming_ = false;
    const char *snapshot_label_ = "done";  // "skipped" for snapshot: never
    bool stream_ended_ = false;
    bool finished_ = false;
};

// A WAL record written now, and its position: once the stream has read past it, everything
// committed before the run started has been seen (--once).
uint64_t TakeOnceTarget(const pg::Connection &conn);

}  // namespace cdcctl::postgres
