#include "sources/postgres/postgres_source.h"

#include "sources/postgres/source_block.h"

#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/runtime/log.h"
#include "core/runtime/signals.h"
#include "sources/postgres/replication_messages.h"

namespace cdcctl {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char *kComponent = "postgres";
constexpr auto kStatusInterval = std::chrono::seconds(10);

int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

uint64_t ParseLsnOr(const std::string &text, const char *what, const std::string &reset) {
    uint64_t lsn = 0;
    if (!ParseLsn(text, &lsn)) {
        throw StateError("state", std::string("the state file holds an invalid ") + what + " '" +
                                      text + "'; run '" + reset + "' and start again");
    }
    return lsn;
}

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

std::string Join(const std::vector<std::string> &items, const char *sep) {
    std::string out;
    for (const auto &i : items) out += (out.empty() ? "" : sep) + i;
    return out;
}

}  // namespace

PostgresSource::PostgresSource(PostgresSourceConfig config, std::string pipeline,
                               std::string pipeline_file, bool once)
    : config_(std::move(config)), pipeline_(std::move(pipeline)),
      reset_command_("cdcctl reset " + (pipeline_file.empty() ? std::string("<pipeline file>") : pipeline_file)),
      once_(once) {}

PostgresSource::~PostgresSource() {
    if (current_row_) PQfreemem(current_row_);
    if (next_row_) PQfreemem(next_row_);
}

// ---------------------------------------------------------------------------------------------
// Prerequisites

void PostgresSource::CheckPrerequisites(const pg::Connection &conn,
                                        std::vector<CheckResult> *results, bool throw_on_failure) {
    auto report = [&](std::string name, bool ok, std::string detail) {
        if (!ok && throw_on_failure) throw ConnectError(kComponent, detail);
        results->push_back(CheckResult{std::move(name), ok, std::move(detail)});
    };
    int version = conn.ServerVersion();
    report("server version", version >= 100000,
           version >= 100000
               ? "PostgreSQL " + std::to_string(version / 10000) + "." + std::to_string(version % 10000)
               : "PostgreSQL " + std::to_string(version) +
                     " has no pgoutput; cdcctl needs PostgreSQL 10 or later");
    std::string wal_level = conn.Value("SHOW wal_level", "reading wal_level").value_or("");
    report("wal_level", wal_level == "logical",
           wal_level == "logical"
               ? "logical"
               : "wal_level is '" + wal_level +
                     "'; cdcctl needs 'logical'. Set wal_level = logical in postgresql.conf and "
                     "restart PostgreSQL.");
    pg::ResultPtr role = conn.Exec(
        "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user",
        "reading the role's attributes");
    bool repl = PQntuples(role.get()) == 1 && (PQgetvalue(role.get(), 0, 0)[0] == 't' ||
                                               PQgetvalue(role.get(), 0, 1)[0] == 't');
    std::string user = conn.User();
    report("replication role", repl,
           repl ? "role '" + user + "' may replicate"
                : "role '" + user + "' lacks the REPLICATION attribute. Run as a superuser: ALTER "
                                    "ROLE " + conn.QuoteIdent(user) + " WITH REPLICATION;");
    std::vector<pg::TableInfo> tables;
    try {
        tables = pg::ResolveTables(conn, config_.tables, config_.exclude_tables);
        std::vector<std::string> names;
        for (const auto &t : tables) names.push_back(t.QualifiedName());
        report("tables", true, Join(names, ", "));
    } catch (const ConfigError &e) {
        if (throw_on_failure) throw;
        report("tables", false, e.what());
    }
    for (const auto &t : tables) {
        std::string qn = t.QualifiedName();
        report("select " + qn, t.can_select,
               t.can_select ? "readable"
                            : "role '" + user + "' cannot SELECT from " + qn + ". Run: GRANT SELECT ON " +
                                  conn.QuoteIdent(t.schema) + "." + conn.QuoteIdent(t.name) + " TO " +
                                  conn.QuoteIdent(user) + ";");
        bool identity_ok = t.replica_identity == 'f' || t.replica_identity == 'i' ||
                           (t.replica_identity == 'd' && t.has_primary_key);
        std::string detail;
        if (t.replica_identity == 'f') detail = "REPLICA IDENTITY FULL";
        else if (t.replica_identity == 'i') detail = "REPLICA IDENTITY USING INDEX";
        else if (identity_ok) detail = "primary key";
        else if (t.replica_identity == 'n')
            detail = "table " + qn + " has REPLICA IDENTITY NOTHING; updates and deletes cannot be "
                     "captured. Run: ALTER TABLE " + qn + " REPLICA IDENTITY DEFAULT; (with a primary "
                     "key) or REPLICA IDENTITY FULL;";
        else
            detail = "table " + qn + " has no primary key and REPLICA IDENTITY DEFAULT; updates and "
                     "deletes cannot be captured. Add a primary key or run: ALTER TABLE " + qn +
                     " REPLICA IDENTITY FULL;";
        report("replica identity " + qn, identity_ok, detail);
    }
    // The publication: it exists and covers the tables, or we may create it.
    std::string pub = config_.publication;
    pg::ResultPtr p = conn.ExecParams(
        "SELECT p.puballtables, p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate, "
        "  pg_has_role(p.pubowner, 'USAGE') FROM pg_publication p WHERE p.pubname = $1",
        {pub}, "reading the publication");
    if (PQntuples(p.get()) == 1) {
        bool all_ops = PQgetvalue(p.get(), 0, 1)[0] == 't';
        bool owner = PQgetvalue(p.get(), 0, 2)[0] == 't';
        std::vector<std::string> missing;
        if (PQgetvalue(p.get(), 0, 0)[0] != 't') {
            pg::ResultPtr pt = conn.ExecParams(
                "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1",
                {pub}, "reading the publication's tables");
            std::set<std::string> in;
            for (int r = 0; r < PQntuples(pt.get()); ++r) in.insert(PQgetvalue(pt.get(), r, 0));
            for (const auto &t : tables) {
                if (!in.count(t.QualifiedName())) missing.push_back(t.QualifiedName());
            }
        }
        bool ok = all_ops && (missing.empty() || owner);
        std::string detail = "publication '" + pub + "' exists";
        if (!all_ops)
            detail = "publication '" + pub + "' does not publish every operation; run: ALTER "
                     "PUBLICATION " + conn.QuoteIdent(pub) +
                     " SET (publish = 'insert, update, delete, truncate');";
        else if (!missing.empty() && !owner)
            detail = "publication '" + pub + "' lacks " + Join(missing, ", ") + " and role '" + user +
                     "' does not own it. Ask its owner to run: ALTER PUBLICATION " +
                     conn.QuoteIdent(pub) + " ADD TABLE " + Join(missing, ", ") + ";";
        else if (!missing.empty())
            detail += "; cdcctl will add " + Join(missing, ", ");
        report("publication", ok, detail);
    } else {
        std::vector<std::string> not_owned;
        for (const auto &t : tables) {
            pg::ResultPtr o = conn.ExecParams(
                "SELECT pg_has_role(c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = $1::oid",
                {std::to_string(t.oid)}, "reading table ownership");
            if (PQntuples(o.get()) != 1 || PQgetvalue(o.get(), 0, 0)[0] != 't')
                not_owned.push_back(t.QualifiedName());
        }
        std::vector<std::string> names;
        for (const auto &t : tables) names.push_back(t.QualifiedName());
        bool can_create_in_db =
            conn.Value("SELECT has_database_privilege(current_database(), 'CREATE')",
                       "reading the database privileges")
                .value_or("f") == "t";
        std::string detail = "publication '" + pub + "' does not exist; cdcctl will create it";
        if (!not_owned.empty()) {
            detail = "publication '" + pub + "' does not exist and role '" + user +
                     "' cannot create it because it does not own " + Join(not_owned, ", ") +
                     ". Have the table owner run: CREATE PUBLICATION " + conn.QuoteIdent(pub) +
                     " FOR TABLE " + Join(names, ", ") + ";";
        } else if (!can_create_in_db) {
            detail = "publication '" + pub + "' does not exist and role '" + user +
                     "' cannot create it: it lacks CREATE on database '" + PQdb(conn.get()) +
                     "'. Run: GRANT CREATE ON DATABASE " + conn.QuoteIdent(PQdb(conn.get())) +
                     " TO " + conn.QuoteIdent(user) + "; or have the table owner run: CREATE "
                     "PUBLICATION " + conn.QuoteIdent(pub) + " FOR TABLE " + Join(names, ", ") + ";";
        }
        report("publication", not_owned.empty() && can_create_in_db, detail);
    }
    tables_ = std::move(tables);
}

void PostgresSource::EnsurePublication() {
    std::string pub = config_.publication;
    bool exists = PQntuples(conn_->ExecParams("SELECT 1 FROM pg_publication WHERE pubname = $1",
                                              {pub}, "reading the publication")
                                .get()) == 1;
    std::vector<std::string> quoted;
    for (const auto &t : tables_) quoted.push_back(conn_->QuoteIdent(t.schema) + "." + conn_->QuoteIdent(t.name));
    try {
        if (!exists) {
            conn_->Exec("CREATE PUBLICATION " + conn_->QuoteIdent(pub) + " FOR TABLE " +
                            Join(quoted, ", "),
                        "creating the publication");
            log::Info(kComponent, "Created publication '" + pub + "' for " + Join(table_names_, ", ") + ".");
            return;
        }
        pg::ResultPtr all = conn_->ExecParams(
            "SELECT puballtables FROM pg_publication WHERE pubname = $1", {pub}, "reading the publication");
        if (PQgetvalue(all.get(), 0, 0)[0] == 't') return;
        pg::ResultPtr pt = conn_->ExecParams(
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1",
            {pub}, "reading the publication's tables");
        std::set<std::string> in;
        for (int r = 0; r < PQntuples(pt.get()); ++r) in.insert(PQgetvalue(pt.get(), r, 0));
        std::vector<std::string> add;
        for (size_t i = 0; i < tables_.size(); ++i) {
            if (!in.count(tables_[i].QualifiedName())) add.push_back(quoted[i]);
        }
        if (add.empty()) return;
        conn_->Exec("ALTER PUBLICATION " + conn_->QuoteIdent(pub) + " ADD TABLE " + Join(add, ", "),
                    "adding tables to the publication");
        log::Info(kComponent, "Added " + Join(add, ", ") + " to publication '" + pub + "'.");
    } catch (const pg::SqlError &e) {
        throw ConnectError(kComponent,
                           std::string(e.what()) + ". Create the publication as the owner of the "
                           "tables: CREATE PUBLICATION " + conn_->QuoteIdent(pub) + " FOR TABLE " +
                           Join(quoted, ", ") + ";");
    }
}

std::vector<CheckResult> PostgresSource::Check() {
    std::vector<CheckResult> results;
    try {
        conn_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kRegular));
        results.push_back({"connect", true, "connected"});
    } catch (const ConnectError &e) {
        results.push_back({"connect", false, e.what()});
        return results;
    }
    CheckPrerequisites(*conn_, &results, false);
    bool exists = false, active = false;
    auto lsn = SlotConfirmedLsn(&exists, &active);
    if (exists) {
        results.push_back({"slot", !active,
                           active ? "replication slot '" + config_.slot + "' is in use by another process"
                                  : "replication slot '" + config_.slot + "' exists at " +
                                        FormatLsn(lsn.value_or(0))});
    } else {
        auto free_slots = conn_->Value(
            "SELECT current_setting('max_replication_slots')::int - count(*) FROM pg_replication_slots",
            "counting replication slots");
        bool ok = free_slots && std::stoi(*free_slots) > 0;
        results.push_back({"slot", ok,
                           ok ? "replication slot '" + config_.slot + "' will be created"
                              : "no free replication slot: raise max_replication_slots in "
                                "postgresql.conf, or drop an unused slot"});
    }
    try {
        pg::Connection repl = pg::Connection::Open(config_, pg::Connection::Kind::kReplication);
        repl.Exec("IDENTIFY_SYSTEM", "identifying the system");
        results.push_back({"replication connection", true, "accepted"});
    } catch (const Error &e) {
        results.push_back({"replication connection", false,
                           std::string(e.what()) + " (check pg_hba.conf allows replication "
                                                   "connections for this role and database)"});
    } catch (const pg::SqlError &e) {
        results.push_back({"replication connection", false, e.what()});
    }
    return results;
}

std::vector<TableSchemaPtr> PostgresSource::Discover() {
    conn_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kRegular));
    tables_ = pg::ResolveTables(*conn_, config_.tables, config_.exclude_tables);
    RegisterTypes(tables_);
    std::vector<TableSchemaPtr> out;
    for (const auto &t : tables_) out.push_back(BuildSchema(t, 1));
    return out;
}

// ---------------------------------------------------------------------------------------------
// Types and schemas

void PostgresSource::RegisterType(uint32_t oid, bool refresh_enums) {
    if (const postgres::PgTypeInfo *known = types_.Find(oid)) {
        // Enum labels can grow (ALTER TYPE ... ADD VALUE): a Relation message re-reads them.
        bool user_type = known->kind != postgres::PgTypeInfo::Kind::kBase || oid >= 16384;
        if (!refresh_enums || !user_type) return;
    }
    auto info = pg::LookupType(*conn_, oid);
    if (!info) return;
    if (info->typtype == 'e') {
        types_.AddEnum(oid, info->name, info->enum_labels);
    } else if (info->element != 0 && !info->name.empty() && info->name[0] == '_') {
        RegisterType(info->element, refresh_enums);
        types_.AddArray(oid, info->name, info->element);
    } else {
        types_.AddBase(oid, info->name);
    }
}

std::vector<postgres::PgTextConverter> PostgresSource::MakeConverters(const TableSchema &schema) {
    std::vector<postgres::PgTextConverter> out;
    out.reserve(schema.columns.size());
    for (const auto &f : schema.columns) out.emplace_back(f);
    return out;
}

void PostgresSource::RegisterTypes(const std::vector<pg::TableInfo> &tables) {
    for (const auto &t : tables) {
        for (const auto &c : t.columns) RegisterType(c.type_oid);
    }
}

TableSchemaPtr PostgresSource::BuildSchema(const pg::TableInfo &table, uint64_t version) const {
    auto schema = std::make_shared<TableSchema>();
    schema->topic = config_.topic_prefix + "." + table.schema + "." + table.name;
    schema->database = conn_ ? PQdb(conn_->get()) : config_.database;
    schema->schema = table.schema;
    schema->table = table.name;
    schema->version = version;
    for (size_t i = 0; i < table.columns.size(); ++i) {
        const auto &c = table.columns[i];
        schema->columns.push_back(postgres::MapColumn(c.name, c.type_oid, c.typmod, c.not_null,
                                                      types_, config_.time_precision_mode,
                                                      config_.decimal_handling_mode));
        if (c.key) schema->key.push_back(i);
    }
    return schema;
}

// ---------------------------------------------------------------------------------------------
// Slots

std::optional<uint64_t> PostgresSource::SlotConfirmedLsn(bool *exists, bool *active) {
    pg::ResultPtr r = conn_->ExecParams(
        "SELECT confirmed_flush_lsn::text, active, plugin, database FROM pg_replication_slots "
        "WHERE slot_name = $1",
        {config_.slot}, "reading the replication slot");
    *exists = PQntuples(r.get()) == 1;
    *active = *exists && PQgetvalue(r.get(), 0, 1)[0] == 't';
    if (!*exists) return std::nullopt;
    std::string plugin = PQgetvalue(r.get(), 0, 2);
    std::string db = PQgetvalue(r.get(), 0, 3);
    if (plugin != "pgoutput" || db != PQdb(conn_->get())) {
        throw ConnectError(kComponent, "replication slot '" + config_.slot + "' belongs to plugin '" +
                                           plugin + "' in database '" + db +
                                           "', not pgoutput in '" + PQdb(conn_->get()) +
                                           "'; choose another 'slot:' name");
    }
    if (PQgetisnull(r.get(), 0, 0)) return 0;
    uint64_t lsn = 0;
    ParseLsn(PQgetvalue(r.get(), 0, 0), &lsn);
    return lsn;
}

void PostgresSource::DropSlotIfExists() {
    bool exists = false, active = false;
    SlotConfirmedLsn(&exists, &active);
    if (!exists) return;
    if (active) {
        throw ConnectError(kComponent, "replication slot '" + config_.slot +
                                           "' is in use by another process; stop it first");
    }
    conn_->ExecParams("SELECT pg_drop_replication_slot($1)", {config_.slot},
                      "dropping the replication slot");
    log::Info(kComponent, "Dropped replication slot '" + config_.slot + "'.");
}

bool PostgresSource::DropSlot() {
    conn_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kRegular));
    bool exists = false, active = false;
    SlotConfirmedLsn(&exists, &active);
    if (!exists) return false;
    DropSlotIfExists();
    return true;
}

void PostgresSource::CreateSlot(bool export_snapshot) {
    repl_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kReplication));
    std::string cmd = "CREATE_REPLICATION_SLOT " + repl_->QuoteIdent(config_.slot) +
                      " LOGICAL pgoutput " + (export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    pg::ResultPtr r;
    try {
        r = repl_->Exec(cmd, "creating the replication slot");
    } catch (const pg::SqlError &e) {
        throw ConnectError(kComponent, e.what());
    }
    // slot_name, consistent_point, snapshot_name, output_plugin
    if (!ParseLsn(PQgetvalue(r.get(), 0, 1), &consistent_point_)) {
        throw ProtocolError(kComponent, "CREATE_REPLICATION_SLOT returned an invalid consistent point");
    }
    snapshot_name_ = PQgetisnull(r.get(), 0, 2) ? "" : PQgetvalue(r.get(), 0, 2);
    log::Info(kComponent, "Created replication slot '" + config_.slot + "' at " +
                              FormatLsn(consistent_point_) + ".");
}

Offset PostgresSource::MakeOffset(uint64_t lsn, const char *snapshot) const {
    return Offset{{"slot", config_.slot}, {"lsn", FormatLsn(lsn)}, {"snapshot", snapshot}};
}

uint64_t PostgresSource::TakeOnceTarget() {
    // A WAL record written now marks "the WAL position current at start": once the stream has
    // read past it, everything committed before the run started has been seen. It is
    // transactional so that its commit flushes the WAL: the walsender reads only flushed WAL, and
    // a lone non-transactional record can wait many seconds for a flush.
    auto v = conn_->Value("SELECT pg_logical_emit_message(true, 'cdcctl', 'once')::text",
                          "marking the WAL position for --once");
    uint64_t lsn = 0;
    if (!v || !ParseLsn(*v, &lsn)) throw ProtocolError(kComponent, "pg_logical_emit_message returned no LSN");
    return lsn;
}

// ---------------------------------------------------------------------------------------------
// Open

void PostgresSource::Open(const Offset &stored) {
    conn_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kRegular));
    std::vector<CheckResult> ignored;
    CheckPrerequisites(*conn_, &ignored, true);
    for (const auto &t : tables_) {
        table_names_.push_back(t.QualifiedName());
    }
    EnsurePublication();
    RegisterTypes(tables_);

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
        bool exists = false, active = false;
        SlotConfirmedLsn(&exists, &active);
        if (exists && stored.empty() && config_.snapshot == SnapshotMode::kNever) {
            throw StateError("state", "replication slot '" + config_.slot +
                                          "' exists but the state file has no position for it, "
                                          "and snapshot is 'never'; run '" + reset_command_ +
                                          " --drop-slot' to drop the slot, or "
                                          "choose another 'slot:' name");
        }
        if (exists) {
            log::Warn(kComponent, "Replication slot '" + config_.slot +
                                      "' exists but the state has no completed snapshot; dropping "
                                      "it and starting over.");
            DropSlotIfExists();
        }
        bool take_snapshot = config_.snapshot != SnapshotMode::kNever;
        CreateSlot(take_snapshot);
        if (once_) once_target_ = TakeOnceTarget();
        if (take_snapshot) {
            pending_checkpoint_ = MakeOffset(consistent_point_, "in_progress");
            phase_ = Phase::kSnapshot;
            finish_after_snapshot_ = config_.snapshot == SnapshotMode::kInitialOnly;
            drop_slot_after_snapshot_ = finish_after_snapshot_;
        } else {
            snapshot_label_ = "skipped";
            pending_checkpoint_ = MakeOffset(consistent_point_, "skipped");
            start_lsn_ = consistent_point_;
            // The walsender replays from the slot's restart_lsn, which can lie before the point
            // the slot was created at: keepalives below it must not become checkpoints.
            checkpoint_lsn_ = consistent_point_;
            confirmed_lsn_ = consistent_point_;
            phase_ = Phase::kStream;
        }
        has_pending_checkpoint_ = true;
        return;
    }

    // Resume streaming: the slot must still be there and must not be ahead of us.
    start_lsn_ = ParseLsnOr(get("lsn"), "lsn", reset_command_);
    if (stored_snapshot == "skipped") snapshot_label_ = "skipped";
    bool exists = false, active = false;
    auto confirmed = SlotConfirmedLsn(&exists, &active);
    if (!exists) {
        throw StateError("state", "replication slot '" + config_.slot +
                                      "' has disappeared; the changes after " + FormatLsn(start_lsn_) +
                                      " can no longer be read. Run '" + reset_command_ + "' and start again "
                                      "with a new snapshot");
    }
    // A walsender of a run that just stopped can hold the slot for a few seconds more.
    for (int i = 0; active && i < 30 && !signals::StopRequested(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        confirmed = SlotConfirmedLsn(&exists, &active);
    }
    if (active) {
        throw ConnectError(kComponent, "replication slot '" + config_.slot +
                                           "' is in use by another process; stop it first");
    }
    if (confirmed && *confirmed > start_lsn_) {
        throw StateError("state", "replication slot '" + config_.slot + "' has confirmed " +
                                      FormatLsn(*confirmed) + ", ahead of the state file's " +
                                      FormatLsn(start_lsn_) +
                                      ": another consumer read from the slot and the changes in "
                                      "between were not delivered. Run '" + reset_command_ + " --drop-slot' "
                                      "and start again with a new snapshot");
    }
    confirmed_lsn_ = start_lsn_;
    checkpoint_lsn_ = start_lsn_;
    if (once_) once_target_ = TakeOnceTarget();
    repl_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kReplication));
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

// ---------------------------------------------------------------------------------------------
// Snapshot

void PostgresSource::BeginSnapshotTable() {
    SnapshotTable &t = snapshot_tables_[snapshot_index_];
    std::vector<std::string> cols;
    for (const auto &c : t.info.columns) cols.push_back(snap_conn_->QuoteIdent(c.name));
    std::string sql = "COPY " + snap_conn_->QuoteIdent(t.info.schema) + "." +
                      snap_conn_->QuoteIdent(t.info.name) + " (" + Join(cols, ", ") + ") TO STDOUT";
    try {
        snap_conn_->Exec(sql, "starting the snapshot COPY");
    } catch (const pg::SqlError &e) {
        throw ConnectError(kComponent, e.what());
    }
    table_first_ = true;
    table_started_ = Clock::now();
    snapshot_rows_ = 0;
    log::Info(kComponent, "Snapshot of " + t.info.QualifiedName() + " started (about " +
                              std::to_string(static_cast<int64_t>(std::max(0.0, t.info.estimated_rows))) +
                              " rows).");
}

// Reads the next COPY row of the current table into next_row_; false at the table's end.
bool PostgresSource::NextSnapshotRow() {
    if (next_row_) {
        PQfreemem(next_row_);
        next_row_ = nullptr;
    }
    int n = PQgetCopyData(snap_conn_->get(), &next_row_, 0);
    if (n >= 0) {
        next_len_ = n;
        return true;
    }
    next_row_ = nullptr;
    if (n == -2) {
        throw ConnectError(kComponent, std::string("snapshot COPY failed: ") + PQerrorMessage(snap_conn_->get()));
    }
    pg::ResultPtr end(PQgetResult(snap_conn_->get()));
    if (!end || PQresultStatus(end.get()) != PGRES_COMMAND_OK) {
        throw ConnectError(kComponent, std::string("snapshot COPY failed: ") + PQerrorMessage(snap_conn_->get()));
    }
    while (pg::ResultPtr more{PQgetResult(snap_conn_->get())}) {
    }
    return false;
}

void PostgresSource::EmitSnapshotRow(Batch &batch, bool last_in_table, bool last_overall) {
    const SnapshotTable &t = snapshot_tables_[snapshot_index_];
    const TableSchema &schema = *t.schema;
    const auto &fields = splitter_.Split(std::string_view(current_row_, current_len_), schema.columns.size());
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
    e.source.ts_ms = snapshot_ts_ms_;
    postgres::SetSnapshotSource(e.source, consistent_point_);
    if (snapshot_first_) e.source.snapshot = SnapshotMarker::kFirst;
    else if (last_overall) e.source.snapshot = SnapshotMarker::kLast;
    else if (table_first_) e.source.snapshot = SnapshotMarker::kFirstInDataCollection;
    else if (last_in_table) e.source.snapshot = SnapshotMarker::kLastInDataCollection;
    else e.source.snapshot = SnapshotMarker::kTrue;
    e.ts_ms = NowMs();
    batch.approx_bytes += bytes + 64;
    snapshot_first_ = false;
    table_first_ = false;
    ++snapshot_rows_;
}

// On a terminal, one progress line per table, rewritten in place: rows done of the planner's
// estimate, and the rate. Nothing when stderr is a file or a pipe (cron, CI, log collectors).
void PostgresSource::ReportProgress(bool final) {
    progress_at_ = Clock::now();
    const auto &t = snapshot_tables_[snapshot_index_];
    double secs = std::chrono::duration<double>(progress_at_ - table_started_).count();
    std::fprintf(stderr, "\rsnapshot %s: %" PRIu64 " of ~%.0f rows (%.0f rows/s)%s",
                 t.info.QualifiedName().c_str(), snapshot_rows_,
                 std::max(t.info.estimated_rows, static_cast<double>(snapshot_rows_)),
                 secs > 0 ? snapshot_rows_ / secs : 0.0, final ? "\n" : "   ");
    std::fflush(stderr);
}

void PostgresSource::FinishSnapshotTable() {
    if (progress_tty_) ReportProgress(true);
    log::Info(kComponent, "Snapshot of " + snapshot_tables_[snapshot_index_].info.QualifiedName() +
                              " finished: " + std::to_string(snapshot_rows_) + " rows.");
}

bool PostgresSource::PollSnapshot(Batch &batch, size_t max_events, Deadline deadline) {
    if (!snapshot_active_) {
        snap_conn_.emplace(pg::Connection::Open(config_, pg::Connection::Kind::kRegular));
        snap_conn_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "starting the snapshot");
        try {
            snap_conn_->Exec("SET TRANSACTION SNAPSHOT " + snap_conn_->QuoteLiteral(snapshot_name_),
                             "importing the slot's snapshot");
        } catch (const pg::SqlError &e) {
            throw ConnectError(kComponent, e.what());
        }
        // Columns as of the snapshot, so the schema matches the rows read.
        for (auto &info : tables_) {
            pg::LoadColumns(*snap_conn_, &info);
            TableSchemaPtr schema = BuildSchema(info, 1);
            snapshot_tables_.push_back({info, schema, MakeConverters(*schema)});
        }
        snapshot_ts_ms_ = NowMs();
        progress_tty_ = isatty(2) == 1;
        snapshot_active_ = true;
        snapshot_index_ = 0;
        BeginSnapshotTable();
        if (NextSnapshotRow()) {
            std::swap(current_row_, next_row_);
            current_len_ = next_len_;
        }
    }
    while (batch.size() < max_events) {
        if (!current_row_) {
            // The current table is finished: on to the next one.
            if (snapshot_index_ + 1 >= snapshot_tables_.size()) break;
            FinishSnapshotTable();
            ++snapshot_index_;
            BeginSnapshotTable();
            if (NextSnapshotRow()) {
                std::swap(current_row_, next_row_);
                current_len_ = next_len_;
            }
            continue;
        }
        bool has_next = NextSnapshotRow();
        bool last_table = snapshot_index_ + 1 >= snapshot_tables_.size();
        // Tables after this one may be empty; "last" then goes to this table's last row only if
        // it is the last table, which keeps the marker simple and correct for the common case.
        EmitSnapshotRow(batch, !has_next, !has_next && last_table);
        PQfreemem(current_row_);
        current_row_ = nullptr;
        if (has_next) {
            std::swap(current_row_, next_row_);
            current_len_ = next_len_;
        }
        if ((snapshot_rows_ & 1023) == 0) {
            auto now = Clock::now();
            if (progress_tty_ && now - progress_at_ >= std::chrono::seconds(1)) ReportProgress(false);
            if (now >= deadline) return true;
        }
    }
    if (current_row_ || snapshot_index_ + 1 < snapshot_tables_.size()) return true;
    // Snapshot complete.
    FinishSnapshotTable();
    snap_conn_->Exec("COMMIT", "ending the snapshot");
    snap_conn_.reset();
    snapshot_active_ = false;
    snapshot_tables_.clear();
    if (finish_after_snapshot_) {
        batch.checkpoint = MakeOffset(consistent_point_, "done");
        if (drop_slot_after_snapshot_) {
            repl_.reset();
            DropSlotIfExists();  // initial_only streams nothing: do not let the slot hold WAL
        }
        phase_ = Phase::kDone;
        return true;
    }
    batch.checkpoint = MakeOffset(consistent_point_, "done");
    start_lsn_ = consistent_point_;
    checkpoint_lsn_ = consistent_point_;
    phase_ = Phase::kStream;
    return true;
}

// ---------------------------------------------------------------------------------------------
// Stream

void PostgresSource::StartStreaming() {
    std::string cmd = "START_REPLICATION SLOT " + repl_->QuoteIdent(config_.slot) + " LOGICAL " +
                      FormatLsn(start_lsn_) + " (proto_version '1', publication_names " +
                      ReplicationLiteral(repl_->QuoteIdent(config_.publication)) + ")";
    try {
        repl_->Exec(cmd, "starting replication");
    } catch (const pg::SqlError &e) {
        throw ConnectError(kComponent, std::string("START_REPLICATION failed: ") + e.what());
    }
    if (PQsetnonblocking(repl_->get(), 1) != 0) {
        throw ConnectError(kComponent, "cannot make the replication connection non-blocking");
    }
    streaming_ = true;
    received_lsn_ = start_lsn_;
    if (confirmed_lsn_ == 0) confirmed_lsn_ = start_lsn_;
    last_status_ = Clock::now();
    last_heartbeat_ = Clock::now();
    log::Info(kComponent, "Streaming from slot '" + config_.slot + "' at " + FormatLsn(start_lsn_) + ".");
}

void PostgresSource::SendStatus(bool reply_requested) {
    if (!repl_ || !streaming_ || stream_ended_) return;
    StandbyStatusUpdate u;
    u.write_lsn = std::max(received_lsn_, confirmed_lsn_);
    u.flush_lsn = confirmed_lsn_;
    u.apply_lsn = confirmed_lsn_;
    u.client_time_us = PostgresMicrosNow();
    u.reply_requested = reply_requested;
    auto bytes = EncodeStandbyStatusUpdate(u);
    if (PQputCopyData(repl_->get(), bytes.data(), static_cast<int>(bytes.size())) != 1 ||
        PQflush(repl_->get()) < 0) {
        throw ConnectError(kComponent, std::string("cannot send a status update to PostgreSQL: ") +
                                           PQerrorMessage(repl_->get()));
    }
    last_status_ = Clock::now();
}

void PostgresSource::WaitForStream(Deadline deadline) {
    int fd = PQsocket(repl_->get());
    auto now = Clock::now();
    auto until = std::min(deadline, last_status_ + kStatusInterval);
    if (until <= now) return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(until - now).count();
    fd_set rfds;
    FD_ZERO(&rfds);
    FD_SET(fd, &rfds);
    timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
    int rc = select(fd + 1, &rfds, nullptr, nullptr, &tv);
    if (rc > 0 && PQconsumeInput(repl_->get()) == 0) {
        throw ConnectError(kComponent, std::string("lost the replication connection: ") +
                                           PQerrorMessage(repl_->get()));
    }
}

void PostgresSource::HandleRelation(RelationMessage &&rel) {
    std::string qn = rel.schema + "." + rel.name;
    Relation &r = relations_[rel.oid];
    bool was_captured = r.captured;
    r.captured = std::find(table_names_.begin(), table_names_.end(), qn) != table_names_.end();
    if (!r.captured) {
        if (was_captured) {
            log::Warn(kComponent, "Captured table " + (r.schema ? r.schema->schema + "." + r.schema->table : "") +
                                      " is now " + qn + ", which the pipeline does not include; its "
                                      "changes are no longer captured.");
        }
        return;
    }
    for (const auto &c : rel.columns) RegisterType(c.type_oid, true);
    // pgoutput does not send nullability: read it from the catalog, which a Relation message
    // follows (it is sent again after ALTER TABLE ... SET/DROP NOT NULL).
    // The key, too: with REPLICA IDENTITY FULL pgoutput flags every column, but events keep the
    // primary key as the snapshot does.
    std::map<std::string, bool> not_null;
    std::set<std::string> primary_key;
    pg::ResultPtr nn = conn_->ExecParams(
        "SELECT a.attname, a.attnotnull, COALESCE(a.attnum = ANY ((SELECT i.indkey FROM pg_index i "
        "  WHERE i.indrelid = a.attrelid AND i.indisprimary)::int2[]), false) "
        "FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped",
        {std::to_string(rel.oid)}, "reading the nullability of a table's columns");
    for (int i = 0; i < PQntuples(nn.get()); ++i) {
        not_null[PQgetvalue(nn.get(), i, 0)] = PQgetvalue(nn.get(), i, 1)[0] == 't';
        if (PQgetvalue(nn.get(), i, 2)[0] == 't') primary_key.insert(PQgetvalue(nn.get(), i, 0));
    }
    pg::TableInfo info;
    info.oid = rel.oid;
    info.schema = rel.schema;
    info.name = rel.name;
    for (const auto &c : rel.columns) {
        pg::ColumnInfo ci;
        ci.name = c.name;
        ci.type_oid = c.type_oid;
        ci.typmod = c.type_modifier;
        ci.key = primary_key.empty() ? c.IsKey() : primary_key.count(c.name) > 0;
        auto it = not_null.find(c.name);
        ci.not_null = it != not_null.end() && it->second;
        info.columns.push_back(std::move(ci));
    }
    uint64_t version = r.schema ? r.schema->version + 1 : 1;
    TableSchemaPtr schema = BuildSchema(info, version);
    if (r.schema && r.schema->columns.size() == schema->columns.size()) {
        bool same = true;
        for (size_t i = 0; i < schema->columns.size() && same; ++i) {
            same = r.schema->columns[i].name == schema->columns[i].name &&
                   r.schema->columns[i].source_type_oid == schema->columns[i].source_type_oid &&
                   r.schema->columns[i].type_modifier == schema->columns[i].type_modifier &&
                   r.schema->columns[i].optional == schema->columns[i].optional &&
                   r.schema->columns[i].parameters == schema->columns[i].parameters &&
                   r.schema->columns[i].fields.size() == schema->columns[i].fields.size();
        }
        if (same && r.schema->key == schema->key) return;  // unchanged: keep the cached schema
    }
    if (r.schema) {
        log::Info(kComponent, "The columns of " + qn + " changed; events now carry schema version " +
                                  std::to_string(version) + ".");
    }
    r.converters = MakeConverters(*schema);
    r.schema = std::move(schema);
}

void PostgresSource::FillRow(const Relation &rel, TupleView tuple, Row *row) {
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

void PostgresSource::HandleXLogData(Batch &batch, uint64_t wal_start, std::string_view data) {
    PgoutputMessage msg = decoder_.Decode(data);
    const Relation *current = nullptr;
    auto start_event = [&](uint32_t relid, Op op) -> ChangeEvent * {
        auto it = relations_.find(relid);
        if (it == relations_.end()) {
            throw ProtocolError(kComponent, "pgoutput sent a change for relation " + std::to_string(relid) +
                                                " before describing it");
        }
        if (!it->second.captured) return nullptr;
        current = &it->second;
        ChangeEvent &e = batch.Add();
        e.op = op;
        e.table = it->second.schema;
        e.source.ts_ms = commit_ts_ms_;
        postgres::SetStreamSource(e.source, wal_start, last_commit_lsn_, final_lsn_, xid_);
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
        batch.checkpoint = MakeOffset(c->end_lsn, snapshot_label_);
        last_heartbeat_ = Clock::now();
    } else if (auto *rel = std::get_if<RelationMessage>(&msg)) {
        HandleRelation(std::move(*rel));
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

bool PostgresSource::PollStream(Batch &batch, size_t max_events, Deadline deadline) {
    if (!streaming_) StartStreaming();
    while (batch.size() < max_events) {
        char *buf = nullptr;
        int n = PQgetCopyData(repl_->get(), &buf, 1);
        if (n == 0) {
            // libpq's buffer is empty: take what the kernel already holds before handing over a
            // small batch. No waiting, so latency is unchanged; under load batches get larger.
            if (PQconsumeInput(repl_->get()) == 0) {
                throw ConnectError(kComponent, std::string("lost the replication connection: ") +
                                                   PQerrorMessage(repl_->get()));
            }
            n = PQgetCopyData(repl_->get(), &buf, 1);
        }
        if (n > 0) {
            std::unique_ptr<char, pg::Free<PQfreemem>> owned(buf);
            ReplicationMessage m = DecodeReplicationMessage(std::string_view(buf, n));
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
            pg::ResultPtr r(PQgetResult(repl_->get()));
            stream_ended_ = true;
            throw ConnectError(kComponent, std::string("PostgreSQL ended the replication stream: ") +
                                               PQerrorMessage(repl_->get()));
        }
        if (n == -2) {
            throw ConnectError(kComponent, std::string("lost the replication connection: ") +
                                               PQerrorMessage(repl_->get()));
        }
        // Nothing buffered. Between transactions, everything up to the last keepalive position
        // has been seen: it becomes a checkpoint (a heartbeat) so an idle slot keeps advancing.
        auto now = Clock::now();
        bool heartbeat_due = once_ || (config_.heartbeat_interval.count() > 0 &&
                                        now - last_heartbeat_ >= config_.heartbeat_interval);
        if (!in_transaction_ && keepalive_lsn_ > std::max(checkpoint_lsn_, start_lsn_) && heartbeat_due) {
            checkpoint_lsn_ = keepalive_lsn_;
            batch.checkpoint = MakeOffset(keepalive_lsn_, snapshot_label_);
            last_heartbeat_ = now;
        }
        if (once_ && !in_transaction_ && std::max(checkpoint_lsn_, keepalive_lsn_) > once_target_) {
            if (batch.empty() && !batch.checkpoint) phase_ = Phase::kDone;
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

void PostgresSource::Confirm(const Offset &offset) {
    auto it = offset.find("lsn");
    if (it == offset.end()) return;
    uint64_t lsn = 0;
    if (!ParseLsn(it->second, &lsn)) return;
    if (lsn <= confirmed_lsn_ && confirmed_lsn_ != 0) return;
    confirmed_lsn_ = lsn;
    SendStatus(false);
}

void PostgresSource::Idle() {
    // The sink is holding up the source thread: nothing is read meanwhile, so tell the server
    // we are alive often enough for any wal_sender_timeout.
    if (streaming_ && Clock::now() - last_status_ >= std::chrono::seconds(1)) {
        SendStatus(false);
    }
}

void PostgresSource::Close() {
    if (snapshot_active_) {
        log::Warn(kComponent, "Stopped during the snapshot; the next run takes the snapshot again.");
    }
    if (repl_ && streaming_ && !stream_ended_) {
        try {
            SendStatus(false);
            PQputCopyEnd(repl_->get(), nullptr);
            // Wait (briefly) for the server to end the stream, so that the slot is released
            // when we exit and an immediate restart finds it free.
            auto until = Clock::now() + std::chrono::seconds(5);
            while (Clock::now() < until) {
                PQflush(repl_->get());
                char *buf = nullptr;
                int n = PQgetCopyData(repl_->get(), &buf, 1);
                if (buf) PQfreemem(buf);
                if (n < 0) break;
                if (n == 0) WaitForStream(std::min<Deadline>(until, Clock::now() + std::chrono::milliseconds(100)));
            }
            while (pg::ResultPtr r{PQgetResult(repl_->get())}) {
            }
        } catch (const Error &) {
            // Closing anyway; the server keeps the last flush position it received.
        }
    }
    repl_.reset();
    snap_conn_.reset();
    conn_.reset();
}

}  // namespace cdcctl
