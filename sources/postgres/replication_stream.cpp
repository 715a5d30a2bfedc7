// The streaming replication protocol and pgoutput messages into change events; see
// replication_stream.h.
#include "sources/postgres/replication_stream.h"

#include <sys/select.h>

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/runtime/log.h"
#include "sources/postgres/source_block.h"
#include "sources/postgres/common.h"
#include "sources/postgres/replication_messages.h"
#include "sources/postgres/slot.h"

namespace cdcctl::postgres {
namespace {

constexpr auto kStatusInterval = std::chrono::seconds(10);

// A string literal for the replication command grammar, which knows '' but not E'' escapes
// (PQescapeLiteral writes E'...' for a backslash).
std::string ReplicationLiteral(const std::string &text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

void FillRow(const Relation &rel, TupleView tuple, Row *row) {
    const TableSchema &schema = *rel.schema;
    if (tuple.size() != schema.columns.size()) {
        throw ProtocolError(kComponent, "a tuple for " + schema.schema + "." + schema.table + " has " +
                                            std::to_string(tuple.size()) + " columns, the relation " +
                                            std::to_string(schema.columns.size()));
    }
    row->resize(tuple.size());
    for (size_t i = 0; i < tuple.size(); ++i) {
        const TupleColumn &c = tuple[i];
        Value &v = (*row)[i];
        switch (c.kind) {
            case TupleColumnKind::kNull: v.SetNull(); break;
            case TupleColumnKind::kUnchangedToast: v.SetUnavailable(); break;
            case TupleColumnKind::kText: rel.converters[i].Parse(c.data, &v); break;
            case TupleColumnKind::kBinary:
                throw ProtocolError(kComponent, "pgoutput sent a binary value, which cdcctl did not ask for");
        }
    }
}

}  // namespace

uint64_t TakeOnceTarget(const pg::Connection &conn) {
    // A WAL record written now marks "the WAL position current at start": once the stream has
    // read past it, everything committed before the run started has been seen. It is
    // transactional so that its commit flushes the WAL: the walsender reads only flushed WAL, and
    // a lone non-transactional record can wait many seconds for a flush.
    auto v = conn.Value("SELECT pg_logical_emit_message(true, 'cdcctl', 'once')::text",
                        "marking the WAL position for --once");
    uint64_t lsn = 0;
    if (!v || !ParseLsn(*v, &lsn)) throw ProtocolError(kComponent, "pg_logical_emit_message returned no LSN");
    return lsn;
}

ReplicationStream::ReplicationStream(const PostgresSourceConfig &config, RelationCache &relations,
                                     pg::Connection conn)
    : config_(config), relations_(relations), conn_(std::move(conn)) {}

void ReplicationStream::StartAt(uint64_t lsn) {
    start_lsn_ = lsn;
    checkpoint_lsn_ = lsn;
}

void ReplicationStream::ResumeAt(uint64_t lsn) {
    StartAt(lsn);
    confirmed_lsn_ = lsn;
}

void ReplicationStream::StopAfter(uint64_t target) {
    once_ = true;
    once_target_ = target;
}

void ReplicationStream::Start() {
    std::string cmd = "START_REPLICATION SLOT " + conn_.QuoteIdent(config_.slot) + " LOGICAL " +
                      FormatLsn(start_lsn_) + " (proto_version '1', publication_names " +
                      ReplicationLiteral(conn_.QuoteIdent(config_.publication)) + ")";
    try {
        conn_.Exec(cmd, "starting replication");
    } catch (const pg::SqlError &e) {
        throw ConnectError(kComponent, std::string("START_REPLICATION failed: ") + e.what());
    }
    if (PQsetnonblocking(conn_.get(), 1) != 0) {
        throw ConnectError(kComponent, "cannot make the replication connection non-blocking");
    }
    streaming_ = true;
    received_lsn_ = start_lsn_;
    if (confirmed_lsn_ == 0) confirmed_lsn_ = start_lsn_;
    last_status_ = Clock::now();
    last_heartbeat_ = Clock::now();
    log::Info(kComponent, "Streaming from slot '" + config_.slot + "' at " + FormatLsn(start_lsn_) + ".");
}

void ReplicationStream::SendStatus(bool reply_requested) {
    if (!streaming_ || stream_ended_) return;
    StandbyStatusUpdate u;
    u.write_lsn = std::max(received_lsn_, confirmed_lsn_);
    u.flush_lsn = confirmed_lsn_;
    u.apply_lsn = confirmed_lsn_;
    u.client_time_us = PostgresMicrosNow();
    u.reply_requested = reply_requested;
    auto bytes = EncodeStandbyStatusUpdate(u);
    if (PQputCopyData(conn_.get(), bytes.data(), static_cast<int>(bytes.size())) != 1 ||
        PQflush(conn_.get()) < 0) {
        throw ConnectError(kComponent, std::string("cannot send a status update to PostgreSQL: ") +
                                           PQerrorMessage(conn_.get()));
    }
    last_status_ = Clock::now();
}

void ReplicationStream::WaitForStream(Deadline deadline) {
    int fd = PQsocket(conn_.get());
    auto now = Clock::now();
    auto until = std::min(deadline, last_status_ + kStatusInterval);
    if (until <= now) return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(until - now).count();
    fd_set rfds;
    FD_ZERO(&rfds);
    FD_SET(fd, &rfds);
    timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
    int rc = select(fd + 1, &rfds, nullptr, nullptr, &tv);
    if (rc > 0 && PQconsumeInput(conn_.get()) == 0) {
        throw ConnectError(kComponent, std::string("lost the replication connection: ") +
                                           PQerrorMessage(conn_.get()));
    }
}

void ReplicationStream::HandleXLogData(Batch &batch, uint64_t wal_start, std::string_view data) {
    PgoutputMessage msg = decoder_.Decode(data);
    const Relation *current = nullptr;
    auto start_event = [&](uint32_t relid, Op op) -> ChangeEvent * {
        const Relation *r = relations_.Find(relid);
        if (r == nullptr) {
            throw ProtocolError(kComponent, "pgoutput sent a change for relation " + std::to_string(relid) +
                                                " before describing it");
        }
        if (!r->captured) return nullptr;
        current = r;
        ChangeEvent &e = batch.Add();
        e.op = op;
        e.table = r->schema;
        e.source.ts_ms = commit_ts_ms_;
        SetStreamSource(e.source, wal_start, last_commit_lsn_, final_lsn_, xid_);
        e.ts_ms = NowMs();
        return &e;
    };
    if (auto *b = std::get_if<BeginMessage>(&msg)) {
        in_transaction_ = true;
        xid_ = b->xid;
        final_lsn_ = b->final_lsn;
        commit_ts_ms_ = PostgresMicrosToUnixMillis(b->commit_time_us);
    } else if (auto *c = std::get_if<CommitMessage>(&msg)) {
        in_transaction_ = false;
        last_commit_lsn_ = c->commit_lsn;
        received_lsn_ = std::max(received_lsn_, c->end_lsn);
        checkpoint_lsn_ = c->end_lsn;
        batch.checkpoint = SlotOffset(config_.slot, c->end_lsn, snapshot_label_);
        last_heartbeat_ = Clock::now();
    } else if (auto *rel = std::get_if<RelationMessage>(&msg)) {
        relations_.Update(std::move(*rel));
    } else if (auto *ins = std::get_if<InsertMessage>(&msg)) {
        if (ChangeEvent *e = start_event(ins->relation_oid, Op::kCreate)) {
            e->has_after = true;
            FillRow(*current, ins->new_tuple, &e->after);
            batch.approx_bytes += data.size();
        }
    } else if (auto *upd = std::get_if<UpdateMessage>(&msg)) {
        if (ChangeEvent *e = start_event(upd->relation_oid, Op::kUpdate)) {
            e->has_after = true;
            FillRow(*current, upd->new_tuple, &e->after);
            if (upd->old_kind != OldTupleKind::kNone) {
                e->has_before = true;
                FillRow(*current, upd->old_tuple, &e->before);
            }
            if (upd->old_kind == OldTupleKind::kFull) {
                // With REPLICA IDENTITY FULL the old row carries the value of an unchanged
                // TOASTed column, so the new row needs no placeholder.
                for (size_t i = 0; i < e->after.size(); ++i) {
                    if (e->after[i].kind() == Value::Kind::kUnavailable &&
                        e->before[i].kind() != Value::Kind::kUnavailable) {
                        e->after[i] = e->before[i];
                    }
                }
            }
            batch.approx_bytes += data.size();
        }
    } else if (auto *del = std::get_if<DeleteMessage>(&msg)) {
        if (ChangeEvent *e = start_event(del->relation_oid, Op::kDelete)) {
            e->has_before = true;
            FillRow(*current, del->old_tuple, &e->before);
            batch.approx_bytes += data.size();
        }
    } else if (auto *tr = std::get_if<TruncateMessage>(&msg)) {
        for (uint32_t oid : tr->relation_oids) {
            if (ChangeEvent *e = start_event(oid, Op::kTruncate)) {
                (void)e;
                batch.approx_bytes += 64;
            }
        }
    }
    // Origin, Type and logical messages need nothing: types are looked up from the catalog.
}

bool ReplicationStream::Poll(Batch &batch, size_t max_events, Deadline deadline) {
    if (!streaming_) Start();
    while (batch.size() < max_events) {
        CopyBuffer buf;
        int n = GetCopyData(conn_.get(), &buf, true);
        if (n == 0) {
            // libpq's buffer is empty: take what the kernel already holds before handing over a
            // small batch. No waiting, so latency is unchanged; under load batches get larger.
            if (PQconsumeInput(conn_.get()) == 0) {
                throw ConnectError(kComponent, std::string("lost the replication connection: ") +
                                                   PQerrorMessage(conn_.get()));
            }
            n = GetCopyData(conn_.get(), &buf, true);
        }
        if (n > 0) {
            ReplicationMessage m = DecodeReplicationMessage(std::string_view(buf.get(), n));
            if (auto *x = std::get_if<XLogData>(&m)) {
                received_lsn_ = std::max(received_lsn_, x->wal_start);
                HandleXLogData(batch, x->wal_start, x->data);
            } else if (auto *k = std::get_if<PrimaryKeepalive>(&m)) {
                keepalive_lsn_ = std::max(keepalive_lsn_, k->wal_end);
                if (k->reply_requested) SendStatus(false);
            }
            if (batch.approx_bytes > (16u << 20)) break;
            continue;
        }
        if (n == -1) {
            pg::ResultPtr r(PQgetResult(conn_.get()));
            stream_ended_ = true;
            throw ConnectError(kComponent, std::string("PostgreSQL ended the replication stream: ") +
                                               PQerrorMessage(conn_.get()));
        }
        if (n == -2) {
            throw ConnectError(kComponent, std::string("lost the replication connection: ") +
                                               PQerrorMessage(conn_.get()));
        }
        // Nothing buffered. Between transactions, everything up to the last keepalive position
        // has been seen: it becomes a checkpoint (a heartbeat) so an idle slot keeps advancing.
        auto now = Clock::now();
        bool heartbeat_due = once_ || (config_.heartbeat_interval.count() > 0 &&
                                        now - last_heartbeat_ >= config_.heartbeat_interval);
        if (!in_transaction_ && keepalive_lsn_ > std::max(checkpoint_lsn_, start_lsn_) && heartbeat_due) {
            checkpoint_lsn_ = keepalive_lsn_;
            batch.checkpoint = SlotOffset(config_.slot, keepalive_lsn_, snapshot_label_);
            last_heartbeat_ = now;
        }
        if (once_ && !in_transaction_ && std::max(checkpoint_lsn_, keepalive_lsn_) > once_target_) {
            if (batch.empty() && !batch.checkpoint) finished_ = true;
            return batch.empty() && !batch.checkpoint ? false : true;
        }
        if (!batch.empty() || batch.checkpoint) return true;
        if (now >= deadline) return true;
        if (now - last_status_ >= kStatusInterval) SendStatus(false);
        if ((once_ || config_.heartbeat_interval.count() > 0) &&
            now - last_reply_request_ >= (once_ ? std::chrono::milliseconds(200) : config_.heartbeat_interval)) {
            // Ask for a keepalive: it carries the server's position past WAL we did not need.
            last_reply_request_ = now;
            SendStatus(true);
        }
        WaitForStream(std::min(deadline, now + std::chrono::milliseconds(200)));
    }
    return true;
}

void ReplicationStream::Confirm(uint64_t lsn) {
    if (lsn <= confirmed_lsn_ && confirmed_lsn_ != 0) return;
    confirmed_lsn_ = lsn;
    SendStatus(false);
}

void ReplicationStream::Idle() {
    // The sink is holding up the source thread: nothing is read meanwhile, so tell the server
    // we are alive often enough for any wal_sender_timeout.
    if (streaming_ && Clock::now() - last_status_ >= std::chrono::seconds(1)) {
        SendStatus(false);
    }
}

void ReplicationStream::Close() {
    if (!streaming_ || stream_ended_) return;
    try {
        SendStatus(false);
        PQputCopyEnd(conn_.get(), nullptr);
        // Wait (briefly) for the server to end the stream, so that the slot is released
        // when we exit and an immediate restart finds it free.
        auto until = Clock::now() + std::chrono::seconds(5);
        while (Clock::now() < until) {
            PQflush(conn_.get());
            CopyBuffer buf;
            int n = GetCopyData(conn_.get(), &buf, true);
            if (n < 0) break;
            if (n == 0) WaitForStream(std::min<Deadline>(until, Clock::now() + std::chrono::milliseconds(100)));
        }
        while (pg::ResultPtr r{PQgetResult(conn_.get())}) {
        }
    } catch (const Error &) {
        // Closing anyway; the server keeps the last flush position it received.
    }
}

}  // namespace cdcctl::postgres
