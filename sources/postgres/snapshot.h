// The snapshot COPYs every captured table inside the snapshot the slot exported when it was
// created, so the rows read are the database exactly as of the slot's consistent point: every
// later change comes from the stream, none is missed or read twice. An exported snapshot can be
// imported only while the replication connection that created the slot stays open and idle, and
// dies with it, so the whole snapshot is one REPEATABLE READ transaction on a connection of its
// own, and a snapshot that was interrupted cannot be resumed: the next run takes it again.
//
// Rows arrive as COPY text, one CopyData message per row (the format: copy_text.h). A row is read
// one ahead of the one emitted, so that the last row of a table and of the snapshot can carry
// Debezium's "last" markers.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/event/change_event.h"
#include "core/runtime/source.h"
#include "sources/postgres/catalog.h"
#include "sources/postgres/common.h"
#include "sources/postgres/copy_text.h"
#include "sources/postgres/pg_connection.h"
#include "sources/postgres/postgres_config.h"
#include "sources/postgres/relation_cache.h"

namespace cdcctl::postgres {

class SnapshotReader {
public:
    // Nothing happens until the first Read. `schemas` must outlive the reader.
    SnapshotReader(const PostgresSourceConfig &config, const RelationCache &schemas,
                   std::vector<pg::TableInfo> tables, std::string snapshot_name,
                   uint64_t consistent_point);

    // Appends snapshot rows to `batch` until it holds `max_events` or `deadline` passes. Returns
    // true once every table has been read and the snapshot transaction has ended.
    bool Read(Batch &batch, size_t max_events, Deadline deadline);
    // Started and not finished: stopping now loses the rows read so far.
    bool Active() const { return active_; }

private:
    struct Table {
        pg::TableInfo info;
        TableSchemaPtr schema;
        std::vector<PgTextConverter> converters;
    };
    // A COPY row as libpq returned it; empty when there is none.
    struct CopyRow {
        CopyBuffer data;
        int len = 0;
    };

    void Start();
    void BeginTable();
    bool NextRow();
    void EmitRow(Batch &batch, bool last_in_table, bool last_overall);
    void ReportProgress(bool final);
    void FinishTable();

    const PostgresSourceConfig &config_;
    const RelationCache &schemas_;
    std::vector<pg::TableInfo> table_infos_;
    std::string snapshot_name_;
    uint64_t consistent_point_;

    std::optional<pg::Connection> conn_;
    std::vector<Table> tables_;
    size_t index_ = 0;
    bool active_ = false;
    bool snapshot_first_ = true;
    bool table_first_ = true;
    CopyRow current_;  // the row to emit next
    CopyRow next_;     // the row read ahead
    pg::CopyTextSplitter splitter_;
    int64_t ts_ms_ = 0;
    uint64_t rows_ = 0;  // of the current table
    bool progress_tty_ = false;
    std::chrono::steady_clock::time_point progress_at_{};
    std::chrono::steady_clock::time_point table_started_{};
};

}  // namespace cdcctl::postgres
