// The phase machine of the PostgreSQL source: from the stored offset, decide whether to take a
// snapshot (and create the slot whose exported snapshot it reads) or to resume the stream, then
// hand Poll to the snapshot and the stream in turn; see postgres_source.h.
#include "sources/postgres/postgres_source.h"

#include "core/error.h"
#include "core/runtime/log.h"
#include "sources/postgres/common.h"
#include "sources/postgres/prerequisites.h"
#include "sources/postgres/publication.h"
#include "sources/postgres/replication_messages.h"
#include "sources/postgres/slot.h"

namespace cdcctl::postgres {
namespace {

uint64_t ParseLsnOr(const std::string &text, const char *what, const std::string &reset) {
    uint64_t lsn = 0;
    if (!ParseLsn(text, &lsn)) {
        throw StateError("state", std::string("the state file holds an invalid ") + what + " '" +
                                      text + "'; run '" + reset + "' and start again");
    }
    return lsn;
}

}  // namespace

PostgresSource::PostgresSource(PostgresSourceConfig config, std::string pipeline,
                               std::string pipeline_file, bool once)
    : config_(std::move(config)), pipeline_(std::move(pipeline)),
      reset_command_("cdcctl reset " + (pipeline_file.empty() ? std::string("<pipeline file>") : pipeline_file)),
      once_(once) {}

PostgresSource::~PostgresSource() = default;

std::vector<CheckResult> PostgresSource::Check() { return RunChecks(config_); }

std::vector<TableSchemaPtr> PostgresSource::Discover() {
    conn_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kRegular));
    std::vector<pg::TableInfo> tables = pg::ResolveTables(*conn_, config_.tables, config_.exclude_tables);
    relations_.emplace(config_, *conn_, std::vector<std::string>{});
    relations_->RegisterTypes(tables);
    std::vector<TableSchemaPtr> out;
    for (const auto &t : tables) out.push_back(relations_->BuildSchema(t, 1));
    return out;
}

bool PostgresSource::DropSlot() {
    conn_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kRegular));
    if (!ReadSlot(*conn_, config_.slot).exists) return false;
    DropSlotIfExists(*conn_, config_.slot);
    return true;
}

// ---------------------------------------------------------------------------------------------
// Open

void PostgresSource::Open(const Offset &stored) {
    conn_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kRegular));
    std::vector<CheckResult> ignored;
    std::vector<pg::TableInfo> tables = CheckPrerequisites(*conn_, config_, &ignored, true);
    std::vector<std::string> table_names;  // schema.table of every captured table
    for (const auto &t : tables) {
        table_names.push_back(t.QualifiedName());
    }
    EnsurePublication(*conn_, config_.publication, tables);
    relations_.emplace(config_, *conn_, std::move(table_names));
    relations_->RegisterTypes(tables);

    auto get = [&](const char *k) -> std::string {
        auto it = stored.find(k);
        return it == stored.end() ? "" : it->second;
    };
    std::string stored_snapshot = get("snapshot");
    std::string stored_slot = get("slot");
    if (!stored.empty() && stored_slot != config_.slot) {
        throw StateError("state", "the state file was written for replication slot '" + stored_slot +
                                      "' but the pipeline now uses '" + config_.slot +
                                      "'; run '" + reset_command_ + "' to start over with a new snapshot");
    }
    bool need_snapshot = stored.empty() || stored_snapshot == "in_progress" ||
                         config_.snapshot == SnapshotMode::kAlways;
    if (!stored.empty() && stored_snapshot == "in_progress") {
        log::Warn(kComponent, "The previous snapshot did not complete; taking it again.");
    }
    if (config_.snapshot == SnapshotMode::kInitialOnly && stored_snapshot == "done") {
        log::Info(kComponent, "The initial_only snapshot is complete; nothing to do.");
        phase_ = Phase::kDone;
        return;
    }

    if (need_snapshot) {
        SlotState slot = ReadSlot(*conn_, config_.slot);
        if (slot.exists && stored.empty() && config_.snapshot == SnapshotMode::kNever) {
            throw StateError("state", "replication slot '" + config_.slot +
                                          "' exists but the state file has no position for it, "
                                          "and snapshot is 'never'; run '" + reset_command_ +
                                          " --drop-slot' to drop the slot, or "
                                          "choose another 'slot:' name");
        }
        if (slot.exists) {
            log::Warn(kComponent, "Replication slot '" + config_.slot +
                                      "' exists but the state has no completed snapshot; dropping "
                                      "it and starting over.");
            DropSlotIfExists(*conn_, config_.slot);
        }
        bool take_snapshot = config_.snapshot != SnapshotMode::kNever;
        // The connection that creates the slot keeps its exported snapshot alive until the
        // snapshot ends, then streams: the stream owns it from here on.
        pg::Connection repl = pg::Connection::Open(config_, pg::Connection::Kind::kReplication);
        CreatedSlot created = CreateSlot(repl, config_.slot, take_snapshot);
        consistent_point_ = created.consistent_point;
        stream_.emplace(config_, *relations_, std::move(repl));
        if (once_) stream_->StopAfter(TakeOnceTarget(*conn_));
        if (take_snapshot) {
            pending_checkpoint_ = SlotOffset(config_.slot, consistent_point_, "in_progress");
            snapshot_.emplace(config_, *relations_, std::move(tables), std::move(created.snapshot_name),
                              consistent_point_);
            phase_ = Phase::kSnapshot;
            finish_after_snapshot_ = config_.snapshot == SnapshotMode::kInitialOnly;
            drop_slot_after_snapshot_ = finish_after_snapshot_;
        } else {
            stream_->SetSnapshotLabel("skipped");
            pending_checkpoint_ = SlotOffset(config_.slot, consistent_point_, "skipped");
            // The walsender replays from the slot's restart_lsn, which can lie before the point
            // the slot was created at: keepalives below it must not become checkpoints.
            stream_->ResumeAt(consistent_point_);
            phase_ = Phase::kStream;
        }
        has_pending_checkpoint_ = true;
        return;
    }

    // Resume streaming: the slot must still be there and must not be ahead of us.
    uint64_t start_lsn = ParseLsnOr(get("lsn"), "lsn", reset_command_);
    CheckSlotResumable(*conn_, config_.slot, start_lsn, reset_command_);
    uint64_t once_target = once_ ? TakeOnceTarget(*conn_) : 0;
    stream_.emplace(config_, *relations_,
                    pg::Connection::Open(config_, pg::Connection::Kind::kReplication));
    if (stored_snapshot == "skipped") stream_->SetSnapshotLabel("skipped");
    stream_->ResumeAt(start_lsn);
    if (once_) stream_->StopAfter(once_target);
    phase_ = Phase::kStream;
}

// ---------------------------------------------------------------------------------------------
// Poll

bool PostgresSource::Poll(Batch &batch, size_t max_events, Deadline deadline) {
    if (has_pending_checkpoint_) {
        batch.checkpoint = pending_checkpoint_;
        has_pending_checkpoint_ = false;
        return true;
    }
    switch (phase_) {
        case Phase::kStart:
        case Phase::kDone: return false;
        case Phase::kSnapshot: return PollSnapshot(batch, max_events, deadline);
        case Phase::kStream: return PollStream(batch, max_events, deadline);
    }
    return false;
}

bool PostgresSource::PollSnapshot(Batch &batch, size_t max_events, Deadline deadline) {
    if (!snapshot_->Read(batch, max_events, deadline)) return true;
    // Snapshot complete.
    snapshot_.reset();
    if (finish_after_snapshot_) {
        batch.checkpoint = SlotOffset(config_.slot, consistent_point_, "done");
        if (drop_slot_after_snapshot_) {
            // initial_only streams nothing: do not let the slot hold WAL.
            stream_.reset();
            DropSlotIfExists(*conn_, config_.slot);
        }
        phase_ = Phase::kDone;
        return true;
    }
    batch.checkpoint = SlotOffset(config_.slot, consistent_point_, "done");
    stream_->StartAt(consistent_point_);
    phase_ = Phase::kStream;
    return true;
}

bool PostgresSource::PollStream(Batch &batch, size_t max_events, Deadline deadline) {
    bool more = stream_->Poll(batch, max_events, deadline);
    if (stream_->Finished()) phase_ = Phase::kDone;
    return more;
}

// ---------------------------------------------------------------------------------------------
// Confirm, Idle, Close

void PostgresSource::Confirm(const Offset &offset) {
    auto it = offset.find("lsn");
    if (it == offset.end()) return;
    uint64_t lsn = 0;
    if (!ParseLsn(it->second, &lsn)) return;
    if (stream_) stream_->Confirm(lsn);
}

void PostgresSource::Idle() {
    if (stream_) stream_->Idle();
}

void PostgresSource::Close() {
    if (snapshot_ && snapshot_->Active()) {
        log::Warn(kComponent, "Stopped during the snapshot; the next run takes the snapshot again.");
    }
    if (stream_) stream_->Close();
    stream_.reset();
    snapshot_.reset();
    relations_.reset();
    conn_.reset();
}

}  // namespace cdcctl::postgres
