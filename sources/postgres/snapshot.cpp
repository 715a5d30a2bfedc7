// The snapshot COPY inside the slot's exported snapshot; see snapshot.h.
#include "sources/postgres/snapshot.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "core/error.h"
#include "core/runtime/log.h"
#include "sources/postgres/source_block.h"

namespace cdcctl::postgres {

SnapshotReader::SnapshotReader(const PostgresSourceConfig &config, const RelationCache &schemas,
                               std::vector<pg::TableInfo> tables, std::string snapshot_name,
                               uint64_t consistent_point)
    : config_(config), schemas_(schemas), table_infos_(std::move(tables)),
      snapshot_name_(std::move(snapshot_name)), consistent_point_(consistent_point) {}

void SnapshotReader::Start() {
    conn_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kRegular));
    conn_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "starting the snapshot");
    try {
        conn_->Exec("SET TRANSACTION SNAPSHOT " + conn_->QuoteLiteral(snapshot_name_),
                    "importing the slot's snapshot");
    } catch (const pg::SqlError &e) {
        throw ConnectError(kComponent, e.what());
    }
    // Columns as of the snapshot, so the schema matches the rows read.
    for (auto &info : table_infos_) {
        pg::LoadColumns(*conn_, &info);
        TableSchemaPtr schema = schemas_.BuildSchema(info, 1);
        tables_.push_back({info, schema, RelationCache::MakeConverters(*schema)});
    }
    ts_ms_ = NowMs();
    progress_tty_ = isatty(2) == 1;
    active_ = true;
    index_ = 0;
    BeginTable();
    if (NextRow()) current_ = std::move(next_);
}

void SnapshotReader::BeginTable() {
    Table &t = tables_[index_];
    std::vector<std::string> cols;
    for (const auto &c : t.info.columns) cols.push_back(conn_->QuoteIdent(c.name));
    std::string sql = "COPY " + conn_->QuoteIdent(t.info.schema) + "." +
                      conn_->QuoteIdent(t.info.name) + " (" + Join(cols, ", ") + ") TO STDOUT";
    try {
        conn_->Exec(sql, "starting the snapshot COPY");
    } catch (const pg::SqlError &e) {
        throw ConnectError(kComponent, e.what());
    }
    table_first_ = true;
    table_started_ = Clock::now();
    rows_ = 0;
    log::Info(kComponent, "Snapshot of " + t.info.QualifiedName() + " started (about " +
                              std::to_string(static_cast<int64_t>(std::max(0.0, t.info.estimated_rows))) +
                              " rows).");
}

// Reads the next COPY row of the current table into next_; false at the table's end.
bool SnapshotReader::NextRow() {
    int n = GetCopyData(conn_->get(), &next_.data, false);
    if (n >= 0) {
        next_.len = n;
        return true;
    }
    next_.len = 0;
    if (n == -2) {
        throw ConnectError(kComponent, std::string("snapshot COPY failed: ") + PQerrorMessage(conn_->get()));
    }
    pg::ResultPtr end(PQgetResult(conn_->get()));
    if (!end || PQresultStatus(end.get()) != PGRES_COMMAND_OK) {
        throw ConnectError(kComponent, std::string("snapshot COPY failed: ") + PQerrorMessage(conn_->get()));
    }
    while (pg::ResultPtr more{PQgetResult(conn_->get())}) {
    }
    return false;
}

void SnapshotReader::EmitRow(Batch &batch, bool last_in_table, bool last_overall) {
    const Table &t = tables_[index_];
    const TableSchema &schema = *t.schema;
    const auto &fields = splitter_.Split(std::string_view(current_.data.get(), current_.len),
                                         schema.columns.size());
    ChangeEvent &e = batch.Add();
    e.op = Op::kRead;
    e.table = t.schema;
    e.has_after = true;
    e.after.resize(fields.size());
    size_t bytes = 0;
    for (size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].is_null) e.after[i].SetNull();
        else t.converters[i].Parse(fields[i].text, &e.after[i]);
        bytes += fields[i].text.size();
    }
    e.source.ts_ms = ts_ms_;
    SetSnapshotSource(e.source, consistent_point_);
    if (snapshot_first_) e.source.snapshot = SnapshotMarker::kFirst;
    else if (last_overall) e.source.snapshot = SnapshotMarker::kLast;
    else if (table_first_) e.source.snapshot = SnapshotMarker::kFirstInDataCollection;
    else if (last_in_table) e.source.snapshot = SnapshotMarker::kLastInDataCollection;
    else e.source.snapshot = SnapshotMarker::kTrue;
    e.ts_ms = NowMs();
    batch.approx_bytes += bytes + 64;
    snapshot_first_ = false;
    table_first_ = false;
    ++rows_;
}

// On a terminal, one progress line per table, rewritten in place: rows done of the planner's
// estimate, and the rate. Nothing when stderr is a file or a pipe (cron, CI, log collectors).
void SnapshotReader::ReportProgress(bool final) {
    progress_at_ = Clock::now();
    const auto &t = tables_[index_];
    double secs = std::chrono::duration<double>(progress_at_ - table_started_).count();
    std::fprintf(stderr, "\rsnapshot %s: %" PRIu64 " of ~%.0f rows (%.0f rows/s)%s",
                 t.info.QualifiedName().c_str(), rows_,
                 std::max(t.info.estimated_rows, static_cast<double>(rows_)),
                 secs > 0 ? rows_ / secs : 0.0, final ? "\n" : "   ");
    std::fflush(stderr);
}

void SnapshotReader::FinishTable() {
    if (progress_tty_) ReportProgress(true);
    log::Info(kComponent, "Snapshot of " + tables_[index_].info.QualifiedName() +
                              " finished: " + std::to_string(rows_) + " rows.");
}

bool SnapshotReader::Read(Batch &batch, size_t max_events, Deadline deadline) {
    if (!active_) Start();
    while (batch.size() < max_events) {
        if (!current_.data) {
            // The current table is finished: on to the next one.
            if (index_ + 1 >= tables_.size()) break;
            FinishTable();
            ++index_;
            BeginTable();
            if (NextRow()) current_ = std::move(next_);
            continue;
        }
        bool has_next = NextRow();
        bool last_table = index_ + 1 >= tables_.size();
        // Tables after this one may be empty; "last" then goes to this table's last row only if
        // it is the last table, which keeps the marker simple and correct for the common case.
        EmitRow(batch, !has_next, !has_next && last_table);
        current_.data.reset();
        if (has_next) current_ = std::move(next_);
        if ((rows_ & 1023) == 0) {
            auto now = Clock::now();
            if (progress_tty_ && now - progress_at_ >= std::chrono::seconds(1)) ReportProgress(false);
            if (now >= deadline) return false;
        }
    }
    if (current_.data || index_ + 1 < tables_.size()) return false;
    // Snapshot complete.
    FinishTable();
    conn_->Exec("COMMIT", "ending the snapshot");
    conn_.reset();
    active_ = false;
    tables_.clear();
    return true;
}

}  // namespace cdcctl::postgres
