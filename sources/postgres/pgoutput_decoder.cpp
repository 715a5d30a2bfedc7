// pgoutput protocol version 1 messages; the wire format is described in pgoutput_decoder.h.
// One function per message type over a length-checked ByteReader, each ending with ExpectEnd()
// so that a message we misread can never pass as a valid one.
#include "sources/postgres/pgoutput_decoder.h"

#include <cstdio>
#include <string>

#include "core/error.h"
#include "core/util/byte_reader.h"

namespace cdcctl {

namespace {

struct MessageInfo {
    char type;
    std::string_view name;
    // Context for ByteReader errors; a literal, so that no message builds a string to decode.
    std::string_view context;
};

constexpr MessageInfo kMessages[] = {
    {'B', "Begin", "pgoutput Begin message"},
    {'C', "Commit", "pgoutput Commit message"},
    {'O', "Origin", "pgoutput Origin message"},
    {'R', "Relation", "pgoutput Relation message"},
    {'Y', "Type", "pgoutput Type message"},
    {'I', "Insert", "pgoutput Insert message"},
    {'U', "Update", "pgoutput Update message"},
    {'D', "Delete", "pgoutput Delete message"},
    {'T', "Truncate", "pgoutput Truncate message"},
    {'M', "Message", "pgoutput logical decoding Message"},
};

const MessageInfo *FindMessage(char type) {
    for (const MessageInfo &m : kMessages) {
        if (m.type == type) return &m;
    }
    return nullptr;
}

std::string DescribeByte(uint8_t b) {
    char buf[16];
    if (b >= 0x20 && b < 0x7f) {
        std::snprintf(buf, sizeof buf, "'%c' (0x%02X)", b, b);
    } else {
        std::snprintf(buf, sizeof buf, "0x%02X", b);
    }
    return buf;
}

// Fills `out` with views into the reader's buffer. `out` keeps its capacity between messages.
void ReadTuple(ByteReader &r, std::string_view tuple_name, std::vector<TupleColumn> &out) {
    int16_t count = r.ReadI16("tuple column count");
    if (count < 0) {
        r.Fail(std::string(tuple_name) + " has a negative column count (" + std::to_string(count) +
               ")");
    }
    // Every column takes at least its kind byte; checking this first keeps the resize below
    // bounded by the message size.
    if (static_cast<size_t>(count) > r.Remaining()) {
        r.Fail(std::string(tuple_name) + " claims " + std::to_string(count) +
               " column(s) but only " + std::to_string(r.Remaining()) + " byte(s) are left");
    }
    out.resize(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        TupleColumn &col = out[i];
        uint8_t kind = r.ReadU8("tuple column kind");
        switch (kind) {
            case 'n':
                col.kind = TupleColumnKind::kNull;
                col.data = {};
                break;
            case 'u':
                col.kind = TupleColumnKind::kUnchangedToast;
                col.data = {};
                break;
            case 't':
            case 'b': {
                col.kind = kind == 't' ? TupleColumnKind::kText : TupleColumnKind::kBinary;
                int32_t len = r.ReadI32("tuple column length");
                if (len < 0) {
                    r.Fail(std::string(tuple_name) + " column " + std::to_string(i) +
                           " has a negative length (" + std::to_string(len) + ")");
                }
                if (static_cast<size_t>(len) > r.Remaining()) {
                    r.Fail(std::string(tuple_name) + " column " + std::to_string(i) +
                           " has length " + std::to_string(len) + " but only " +
                           std::to_string(r.Remaining()) + " byte(s) are left");
                }
                col.data = r.ReadBytes(static_cast<size_t>(len), "tuple column value");
                break;
            }
            default:
                r.Fail(std::string(tuple_name) + " column " + std::to_string(i) +
                       " has unknown kind " + DescribeByte(kind) +
                       " (expected 'n', 'u', 't' or 'b')");
        }
    }
}

BeginMessage ReadBegin(ByteReader &r) {
    BeginMessage m;
    m.final_lsn = r.ReadU64("final_lsn");
    m.commit_time_us = r.ReadI64("commit timestamp");
    m.xid = r.ReadU32("xid");
    r.ExpectEnd();
    return m;
}

CommitMessage ReadCommit(ByteReader &r) {
    CommitMessage m;
    m.flags = r.ReadU8("flags");
    m.commit_lsn = r.ReadU64("commit_lsn");
    m.end_lsn = r.ReadU64("end_lsn");
    m.commit_time_us = r.ReadI64("commit timestamp");
    r.ExpectEnd();
    return m;
}

OriginMessage ReadOrigin(ByteReader &r) {
    OriginMessage m;
    m.commit_lsn = r.ReadU64("commit_lsn");
    m.name = r.ReadCString("origin name");
    r.ExpectEnd();
    return m;
}

RelationMessage ReadRelation(ByteReader &r) {
    RelationMessage m;
    m.oid = r.ReadU32("relation oid");
    m.schema = r.ReadCString("namespace");
    m.name = r.ReadCString("relation name");
    uint8_t identity = r.ReadU8("replica identity");
    switch (identity) {
        case 'd':
        case 'n':
        case 'f':
        case 'i':
            m.replica_identity = static_cast<ReplicaIdentity>(identity);
            break;
        default:
            r.Fail("relation \"" + m.schema + "." + m.name + "\" has unknown replica identity " +
                   DescribeByte(identity) + " (expected 'd', 'n', 'f' or 'i')");
    }
    int16_t count = r.ReadI16("column count");
    if (count < 0) {
        r.Fail("relation \"" + m.schema + "." + m.name + "\" has a negative column count (" +
               std::to_string(count) + ")");
    }
    // Flags, an empty name's NUL, type oid and typmod: no column is shorter than 10 bytes.
    if (static_cast<size_t>(count) > r.Remaining() / 10) {
        r.Fail("relation \"" + m.schema + "." + m.name + "\" claims " + std::to_string(count) +
               " column(s) but only " + std::to_string(r.Remaining()) + " byte(s) are left");
    }
    m.columns.resize(static_cast<size_t>(count));
    for (RelationColumn &col : m.columns) {
        col.flags = r.ReadU8("column flags");
        col.name = r.ReadCString("column name");
        col.type_oid = r.ReadU32("column type oid");
        col.type_modifier = r.ReadI32("column type modifier");
    }
    r.ExpectEnd();
    return m;
}

TypeMessage ReadType(ByteReader &r) {
    TypeMessage m;
    m.oid = r.ReadU32("type oid");
    m.schema = r.ReadCString("namespace");
    m.name = r.ReadCString("type name");
    r.ExpectEnd();
    return m;
}

InsertMessage ReadInsert(ByteReader &r, std::vector<TupleColumn> &new_columns) {
    InsertMessage m;
    m.relation_oid = r.ReadU32("relation oid");
    uint8_t marker = r.ReadU8("tuple marker");
    if (marker != 'N') r.Fail("expected new tuple marker 'N', got " + DescribeByte(marker));
    ReadTuple(r, "new tuple", new_columns);
    r.ExpectEnd();
    m.new_tuple = new_columns;
    return m;
}

// The old tuple is optional: PostgreSQL sends it only when the key changed or the replica
// identity is FULL.
UpdateMessage ReadUpdate(ByteReader &r, std::vector<TupleColumn> &old_columns,
                         std::vector<TupleColumn> &new_columns) {
    UpdateMessage m;
    m.relation_oid = r.ReadU32("relation oid");
    uint8_t marker = r.ReadU8("tuple marker");
    if (marker == 'K' || marker == 'O') {
        m.old_kind = static_cast<OldTupleKind>(marker);
        ReadTuple(r, marker == 'K' ? "old key tuple" : "old tuple", old_columns);
        m.old_tuple = old_columns;
        marker = r.ReadU8("new tuple marker");
    }
    if (marker != 'N') {
        r.Fail("expected tuple marker 'K', 'O' or 'N', got " + DescribeByte(marker));
    }
    ReadTuple(r, "new tuple", new_columns);
    r.ExpectEnd();
    m.new_tuple = new_columns;
    return m;
}

DeleteMessage ReadDelete(ByteReader &r, std::vector<TupleColumn> &old_columns) {
    DeleteMessage m;
    m.relation_oid = r.ReadU32("relation oid");
    uint8_t marker = r.ReadU8("tuple marker");
    if (marker != 'K' && marker != 'O') {
        r.Fail("expected old tuple marker 'K' or 'O', got " + DescribeByte(marker));
    }
    m.old_kind = static_cast<OldTupleKind>(marker);
    ReadTuple(r, marker == 'K' ? "old key tuple" : "old tuple", old_columns);
    r.ExpectEnd();
    m.old_tuple = old_columns;
    return m;
}

TruncateMessage ReadTruncate(ByteReader &r, std::vector<uint32_t> &oids) {
    TruncateMessage m;
    int32_t count = r.ReadI32("relation count");
    if (count < 0) r.Fail("negative relation count (" + std::to_string(count) + ")");
    m.options = r.ReadU8("options");
    // Checked before the resize, so that a corrupt count cannot make us allocate gigabytes.
    if (static_cast<size_t>(count) > r.Remaining() / 4) {
        r.Fail("claims " + std::to_string(count) + " relation(s) but only " +
               std::to_string(r.Remaining()) + " byte(s) are left");
    }
    oids.resize(static_cast<size_t>(count));
    for (uint32_t &oid : oids) oid = r.ReadU32("relation oid");
    r.ExpectEnd();
    m.relation_oids = oids;
    return m;
}

LogicalMessage ReadLogicalMessage(ByteReader &r) {
    LogicalMessage m;
    m.flags = r.ReadU8("flags");
    m.lsn = r.ReadU64("lsn");
    m.prefix = r.ReadCString("prefix");
    int32_t len = r.ReadI32("content length");
    if (len < 0) r.Fail("content has a negative length (" + std::to_string(len) + ")");
    m.content = r.ReadBytes(static_cast<size_t>(len), "content");
    r.ExpectEnd();
    return m;
}

}  // namespace

std::string_view PgoutputMessageName(char type) {
    const MessageInfo *info = FindMessage(type);
    return info ? info->name : std::string_view();
}

PgoutputMessage PgoutputDecoder::Decode(std::string_view message) {
    if (message.empty()) throw ProtocolError("postgres", "pgoutput: empty message");
    const MessageInfo *info = FindMessage(message[0]);
    if (info == nullptr) {
        throw ProtocolError(
            "postgres", "pgoutput: unknown message type " +
                            DescribeByte(static_cast<uint8_t>(message[0])) +
                            "; cdcctl asks for protocol version 1 without streaming or two-phase "
                            "commit, which never sends it");
    }
    // Over the whole message, so that the byte offsets in errors count from the type byte.
    ByteReader r(message, "postgres", info->context);
    r.ReadU8("message type");
    switch (info->type) {
        case 'B':
            return ReadBegin(r);
        case 'C':
            return ReadCommit(r);
        case 'O':
            return ReadOrigin(r);
        case 'R':
            return ReadRelation(r);
        case 'Y':
            return ReadType(r);
        case 'M':
            return ReadLogicalMessage(r);
        case 'I':
            return ReadInsert(r, new_columns_);
        case 'U':
            return ReadUpdate(r, old_columns_, new_columns_);
        case 'D':
            return ReadDelete(r, old_columns_);
        case 'T':
            return ReadTruncate(r, truncate_oids_);
    }
    // FindMessage only returns the types handled above.
    throw ProtocolError("postgres", "pgoutput: unhandled message type " +
                                        DescribeByte(static_cast<uint8_t>(message[0])));
}

}  // namespace cdcctl
