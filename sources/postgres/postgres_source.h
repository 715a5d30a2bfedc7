// The PostgreSQL source: a consistent snapshot read inside the exported snapshot of a new
// logical replication slot, then the pgoutput stream from exactly where the snapshot ends.
//
// Offset kept in the state file:
//   slot      the replication slot name
//   lsn       the position to stream from: every transaction that committed before it is in
//             the sink (the slot's confirmed_flush_lsn never passes it)
//   snapshot  in_progress | done | skipped
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/runtime/check.h"
#include "core/runtime/source.h"
#include "sources/postgres/catalog.h"
#include "sources/postgres/copy_text.h"
#include "sources/postgres/pg_connection.h"
#include "sources/postgres/pg_types.h"
#include "sources/postgres/pgoutput_decoder.h"
#include "sources/postgres/postgres_config.h"

namespace cdcctl {

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
    bool AtBoundary() const override { return !in_transaction_; }
    void Close() override;

    // `cdcctl check`: connect and test every prerequisite without changing anything.
    std::vector<CheckResult> Check();
    // `cdcctl discover`: the schemas events would carry.
    std::vector<TableSchemaPtr> Discover();
    // `cdcctl reset --drop-slot`. Returns false when there was no slot.
    bool DropSlot();

private:
    enum class Phase { kStart, kSnapshot, kStream, kDone };
    struct Relation {
        TableSchemaPtr schema;
        std::vector<postgres::PgTextConverter> converters;  // one per column of schema
        bool captured = false;
    };
    struct SnapshotTable {
        pg::TableInfo info;
        TableSchemaPtr schema;
        std::vector<postgres::PgTextConverter> converters;
    };

    void CheckPrerequisites(const pg::Connection &conn, std::vector<CheckResult> *results,
                            bool throw_on_failure);
    void EnsurePublication();
    void RegisterTypes(const std::vector<pg::TableInfo> &tables);
    void RegisterType(uint32_t oid, bool refresh_enums = false);
    TableSchemaPtr BuildSchema(const pg::TableInfo &table, uint64_t version) const;
    static std::vector<postgres::PgTextConverter> MakeConverters(const TableSchema &schema);
    std::optional<uint64_t> SlotConfirmedLsn(bool *exists, bool *active);
    void CreateSlot(bool export_snapshot);
    void DropSlotIfExists();
    Offset MakeOffset(uint64_t lsn, const char *snapshot) const;
    uint64_t TakeOnceTarget();

    bool PollSnapshot(Batch &batch, size_t max_events, Deadline deadline);
    bool NextSnapshotRow();
    void BeginSnapshotTable();
    void EmitSnapshotRow(Batch &batch, bool last_in_table, bool last_overall);
    void ReportProgress(bool final);
    void FinishSnapshotTable();

    void StartStreaming();
    bool PollStream(Batch &batch, size_t max_events, Deadline deadline);
    void HandleXLogData(Batch &batch, uint64_t wal_start, std::string_view data);
    void HandleRelation(RelationMessage &&rel);
    void FillRow(const Relation &rel, TupleView tuple, Row *row);
    void SendStatus(bool reply_requested);
    void WaitForStream(Deadline deadline);

    PostgresSourceConfig config_;
    std::string pipeline_;
    std::string reset_command_;  // "cdcctl reset FILE", for recovery advice
    bool once_;
    std::vector<std::string> table_names_;  // schema.table of every captured table

    std::optional<pg::Connection> conn_;
    std::optional<pg::Connection> repl_;
    std::optional<pg::Connection> snap_conn_;
    postgres::PgTypeRegistry types_;
    std::vector<pg::TableInfo> tables_;

    Phase phase_ = Phase::kStart;
    Offset pending_checkpoint_;
    bool has_pending_checkpoint_ = false;
    bool finish_after_snapshot_ = false;
    bool drop_slot_after_snapshot_ = false;

    // Snapshot.
    std::string snapshot_name_;
    uint64_t consistent_point_ = 0;
    std::vector<SnapshotTable> snapshot_tables_;
    size_t snapshot_index_ = 0;
    bool snapshot_active_ = false;
    bool snapshot_first_ = true;
    bool table_first_ = true;
    char *current_row_ = nullptr;  // libpq buffer of the row read ahead
    int current_len_ = 0;
    char *next_row_ = nullptr;
    int next_len_ = 0;
    pg::CopyTextSplitter splitter_;
    int64_t snapshot_ts_ms_ = 0;
    uint64_t snapshot_rows_ = 0;
    bool progress_tty_ = false;
    std::chrono::steady_clock::time_point progress_at_{};
    std::chrono::steady_clock::time_point table_started_{};

    // Stream.
    PgoutputDecoder decoder_;
    std::unordered_map<uint32_t, Relation> relations_;
    uint64_t start_lsn_ = 0;
    uint64_t received_lsn_ = 0;   // highest position seen
    uint64_t confirmed_lsn_ = 0;  // saved in the state file: reported as flushed
    uint64_t last_commit_lsn_ = 0;
    uint64_t final_lsn_ = 0;  // commit LSN of the transaction being decoded (from Begin)
    uint64_t checkpoint_lsn_ = 0;  // last checkpoint handed to the runtime
    uint64_t keepalive_lsn_ = 0;
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
};

}  // namespace cdcctl
