// Decoding of pgoutput logical replication messages, protocol version 1 (what PostgreSQL sends
// for proto_version '1' without streaming or binary): the payload of one XLogData message.
//
// Wire format: Byte1 message type, then big-endian fields ("String" is NUL-terminated):
//   'B' Begin     Int64 final_lsn, Int64 commit_time, Int32 xid
//   'C' Commit    Int8 flags, Int64 commit_lsn, Int64 end_lsn, Int64 commit_time
//   'O' Origin    Int64 commit_lsn, String name
//   'R' Relation  Int32 oid, String namespace, String name, Int8 replica_identity,
//                 Int16 ncolumns, then per column: Int8 flags (1 = part of the key),
//                 String name, Int32 type_oid, Int32 atttypmod
//   'Y' Type      Int32 oid, String namespace, String name
//   'I' Insert    Int32 relation_oid, Byte1 'N', TupleData
//   'U' Update    Int32 relation_oid, [Byte1 'K' or 'O', TupleData], Byte1 'N', TupleData
//   'D' Delete    Int32 relation_oid, Byte1 'K' or 'O', TupleData
//   'T' Truncate  Int32 nrelations, Int8 options (1 CASCADE, 2 RESTART IDENTITY),
//                 Int32 relation_oid * nrelations
//   'M' Message   Int8 flags (1 = transactional), Int64 lsn, String prefix, Int32 length, Byten
// TupleData: Int16 ncolumns, then per column Byte1 kind: 'n' null, 'u' unchanged TOASTed value
// (not sent), 't' text or 'b' binary, each of the last two followed by Int32 length and Byten.
// 'K' carries only the replica identity key columns (the others are null), 'O' the whole old row
// (REPLICA IDENTITY FULL). Times are microseconds since 2000-01-01 UTC.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cdcctl {

struct BeginMessage {
    uint64_t final_lsn = 0;
    int64_t commit_time_us = 0;  // PostgreSQL epoch
    uint32_t xid = 0;
};

struct CommitMessage {
    uint8_t flags = 0;
    uint64_t commit_lsn = 0;
    uint64_t end_lsn = 0;
    int64_t commit_time_us = 0;  // PostgreSQL epoch
};

struct OriginMessage {
    uint64_t commit_lsn = 0;
    std::string_view name;
};

// pg_class.relreplident.
enum class ReplicaIdentity : char {
    kDefault = 'd',  // primary key
    kNothing = 'n',
    kFull = 'f',
    kIndex = 'i',
};

struct RelationColumn {
    uint8_t flags = 0;
    std::string name;
    uint32_t type_oid = 0;
    int32_t type_modifier = -1;  // atttypmod; -1 when the type has none

    bool IsKey() const { return (flags & 1) != 0; }
};

// Relation messages are rare (once per relation per session and after DDL), so they own their
// strings: the caller keeps them in its relation cache.
struct RelationMessage {
    uint32_t oid = 0;
    std::string schema;  // the namespace; empty for pg_catalog
    std::string name;
    ReplicaIdentity replica_identity = ReplicaIdentity::kDefault;
    std::vector<RelationColumn> columns;
};

struct TypeMessage {
    uint32_t oid = 0;
    std::string schema;
    std::string name;
};

enum class TupleColumnKind : char {
    kNull = 'n',
    kUnchangedToast = 'u',
    kText = 't',
    kBinary = 'b',
};

struct TupleColumn {
    TupleColumnKind kind = TupleColumnKind::kNull;
    std::string_view data;  // kText and kBinary; empty otherwise
};

using TupleView = std::span<const TupleColumn>;

// Which old row an Update or Delete carries.
enum class OldTupleKind : char {
    kNone = 0,    // Update only: the key did not change and identity is not FULL
    kKey = 'K',   // the replica identity columns; the other columns are null
    kFull = 'O',  // every column (REPLICA IDENTITY FULL)
};

struct InsertMessage {
    uint32_t relation_oid = 0;
    TupleView new_tuple;
};

struct UpdateMessage {
    uint32_t relation_oid = 0;
    OldTupleKind old_kind = OldTupleKind::kNone;
    TupleView old_tuple;  // empty when old_kind is kNone
    TupleView new_tuple;
};

struct DeleteMessage {
    uint32_t relation_oid = 0;
    OldTupleKind old_kind = OldTupleKind::kKey;
    TupleView old_tuple;
};

struct TruncateMessage {
    uint8_t options = 0;
    std::span<const uint32_t> relation_oids;

    bool Cascade() const { return (options & 1) != 0; }
    bool RestartIdentity() const { return (options & 2) != 0; }
};

// pg_logical_emit_message().
struct LogicalMessage {
    uint8_t flags = 0;
    uint64_t lsn = 0;
    std::string_view prefix;
    std::string_view content;

    bool Transactional() const { return (flags & 1) != 0; }
};

using PgoutputMessage =
    std::variant<BeginMessage, CommitMessage, OriginMessage, RelationMessage, TypeMessage,
                 InsertMessage, UpdateMessage, DeleteMessage, TruncateMessage, LogicalMessage>;

// Decodes one message at a time. The decoder keeps the column and OID arrays between calls so
// that the steady state of Insert/Update/Delete allocates nothing.
//
// Lifetime: every string_view, TupleView and span in a decoded message points into the message
// bytes passed to Decode() or into this decoder, and is valid until the next Decode() call (and
// only while the message bytes live). Copy what must outlive that; RelationMessage and
// TypeMessage own their contents and may be moved out.
class PgoutputDecoder {
public:
    // Throws ProtocolError (component "postgres") naming the message type and the problem for an
    // unknown message type, a truncated message, a negative or oversized length, an unknown tuple
    // column kind or replica identity, and trailing bytes after the message.
    PgoutputMessage Decode(std::string_view message);

private:
    std::vector<TupleColumn> old_columns_;
    std::vector<TupleColumn> new_columns_;
    std::vector<uint32_t> truncate_oids_;
};

// "Insert", "Begin", ...: the name the PostgreSQL documentation gives a message type byte, or
// an empty view for a byte that is no pgoutput version 1 message.
std::string_view PgoutputMessageName(char type);

}  // namespace cdcctl
