// pgoutput protocol version 1 decoding, from byte fixtures laid out as the PostgreSQL
// documentation ("Logical Replication Message Formats") describes each message.
#include "sources/postgres/pgoutput_decoder.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/error.h"

using namespace cdcctl;

namespace {

// Appends big-endian fields, so that a fixture reads like the documented layout.
class Wire {
public:
    explicit Wire(char type) { buf_.push_back(type); }
    Wire &U8(uint8_t v) {
        buf_.push_back(static_cast<char>(v));
        return *this;
    }
    Wire &I16(int16_t v) { return Big(static_cast<uint16_t>(v), 2); }
    Wire &I32(int32_t v) { return Big(static_cast<uint32_t>(v), 4); }
    Wire &U32(uint32_t v) { return Big(v, 4); }
    Wire &U64(uint64_t v) { return Big(v, 8); }
    Wire &I64(int64_t v) { return Big(static_cast<uint64_t>(v), 8); }
    Wire &Str(std::string_view s) {
        buf_.append(s);
        buf_.push_back('\0');
        return *this;
    }
    Wire &Raw(std::string_view s) {
        buf_.append(s);
        return *this;
    }
    // TupleData column parts.
    Wire &Text(std::string_view s) {
        U8('t');
        I32(static_cast<int32_t>(s.size()));
        return Raw(s);
    }
    Wire &Binary(std::string_view s) {
        U8('b');
        I32(static_cast<int32_t>(s.size()));
        return Raw(s);
    }
    Wire &Null() { return U8('n'); }
    Wire &Toast() { return U8('u'); }
    const std::string &str() const { return buf_; }

private:
    Wire &Big(uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i) buf_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
        return *this;
    }
    std::string buf_;
};

// The message of the ProtocolError that decoding `bytes` throws, or a marker when it throws
// nothing (or something else), so that a CHECK on the text fails readably.
std::string DecodeError(std::string_view bytes) {
    PgoutputDecoder decoder;
    try {
        decoder.Decode(bytes);
    } catch (const ProtocolError &e) {
        if (e.Component() != "postgres") return "<wrong component: " + e.Component() + ">";
        return e.what();
    }
    return "<no ProtocolError>";
}

bool Contains(const std::string &haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string InsertFixture() {
    return Wire('I')
        .U32(16384)
        .U8('N')
        .I16(4)
        .Text("42")
        .Null()
        .Toast()
        .Binary(std::string("\x00\x01", 2))
        .str();
}

}  // namespace

TEST_CASE("Begin carries the final LSN, the commit time and the xid") {
    std::string bytes = Wire('B').U64(0x16B374D848).I64(739000000123456).U32(7777).str();
    PgoutputDecoder decoder;
    auto m = std::get<BeginMessage>(decoder.Decode(bytes));
    CHECK(m.final_lsn == 0x16B374D848);
    CHECK(m.commit_time_us == 739000000123456);
    CHECK(m.xid == 7777);
}

TEST_CASE("Commit carries flags, commit LSN, end LSN and commit time") {
    std::string bytes = Wire('C').U8(0).U64(0x100).U64(0x1A8).I64(-5).str();
    PgoutputDecoder decoder;
    auto m = std::get<CommitMessage>(decoder.Decode(bytes));
    CHECK(m.flags == 0);
    CHECK(m.commit_lsn == 0x100);
    CHECK(m.end_lsn == 0x1A8);
    CHECK(m.commit_time_us == -5);
}

TEST_CASE("Origin carries the origin's commit LSN and name") {
    std::string bytes = Wire('O').U64(0xABCDEF).Str("node_a").str();
    PgoutputDecoder decoder;
    auto m = std::get<OriginMessage>(decoder.Decode(bytes));
    CHECK(m.commit_lsn == 0xABCDEF);
    CHECK(m.name == "node_a");
}

TEST_CASE("Relation carries namespace, name, replica identity and every column") {
    Wire w('R');
    w.U32(16384).Str("public").Str("orders").U8('d').I16(2);
    w.U8(1).Str("id").U32(23).I32(-1);      // int4, part of the key
    w.U8(0).Str("note").U32(1043).I32(68);  // varchar(64): atttypmod is 64 + 4
    std::string bytes = w.str();
    PgoutputDecoder decoder;
    auto m = std::get<RelationMessage>(decoder.Decode(bytes));
    CHECK(m.oid == 16384);
    CHECK(m.schema == "public");
    CHECK(m.name == "orders");
    CHECK(m.replica_identity == ReplicaIdentity::kDefault);
    REQUIRE(m.columns.size() == 2);
    CHECK(m.columns[0].IsKey());
    CHECK(m.columns[0].name == "id");
    CHECK(m.columns[0].type_oid == 23);
    CHECK(m.columns[0].type_modifier == -1);
    CHECK_FALSE(m.columns[1].IsKey());
    CHECK(m.columns[1].name == "note");
    CHECK(m.columns[1].type_oid == 1043);
    CHECK(m.columns[1].type_modifier == 68);
}

TEST_CASE("Relation in pg_catalog has an empty namespace") {
    std::string bytes = Wire('R').U32(1).Str("").Str("t").U8('f').I16(0).str();
    PgoutputDecoder decoder;
    auto m = std::get<RelationMessage>(decoder.Decode(bytes));
    CHECK(m.schema.empty());
    CHECK(m.replica_identity == ReplicaIdentity::kFull);
    CHECK(m.columns.empty());
}

TEST_CASE("Relation owns its strings, so it outlives the message bytes") {
    PgoutputDecoder decoder;
    RelationMessage kept;
    {
        std::string bytes =
            Wire('R').U32(5).Str("s").Str("t").U8('i').I16(1).U8(1).Str("k").U32(20).I32(-1).str();
        kept = std::get<RelationMessage>(decoder.Decode(bytes));
    }
    decoder.Decode(InsertFixture());
    CHECK(kept.schema == "s");
    CHECK(kept.name == "t");
    CHECK(kept.replica_identity == ReplicaIdentity::kIndex);
    CHECK(kept.columns.at(0).name == "k");
}

TEST_CASE("Relation with an unknown replica identity is rejected") {
    std::string bytes = Wire('R').U32(1).Str("public").Str("t").U8('x').I16(0).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Relation"));
    CHECK(Contains(err, "replica identity"));
}

TEST_CASE("Relation with a negative column count is rejected") {
    std::string bytes = Wire('R').U32(1).Str("public").Str("t").U8('d').I16(-1).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Relation"));
    CHECK(Contains(err, "negative column count"));
}

TEST_CASE("Type carries oid, namespace and name") {
    std::string bytes = Wire('Y').U32(90001).Str("public").Str("mood").str();
    PgoutputDecoder decoder;
    auto m = std::get<TypeMessage>(decoder.Decode(bytes));
    CHECK(m.oid == 90001);
    CHECK(m.schema == "public");
    CHECK(m.name == "mood");
}

TEST_CASE("Insert exposes text, null, unchanged TOAST and binary columns") {
    std::string bytes = InsertFixture();
    PgoutputDecoder decoder;
    auto m = std::get<InsertMessage>(decoder.Decode(bytes));
    CHECK(m.relation_oid == 16384);
    REQUIRE(m.new_tuple.size() == 4);
    CHECK(m.new_tuple[0].kind == TupleColumnKind::kText);
    CHECK(m.new_tuple[0].data == "42");
    CHECK(m.new_tuple[1].kind == TupleColumnKind::kNull);
    CHECK(m.new_tuple[1].data.empty());
    CHECK(m.new_tuple[2].kind == TupleColumnKind::kUnchangedToast);
    CHECK(m.new_tuple[2].data.empty());
    CHECK(m.new_tuple[3].kind == TupleColumnKind::kBinary);
    CHECK(m.new_tuple[3].data == std::string_view("\x00\x01", 2));
}

TEST_CASE("Insert column values are views into the message bytes, not copies") {
    std::string bytes = InsertFixture();
    PgoutputDecoder decoder;
    auto m = std::get<InsertMessage>(decoder.Decode(bytes));
    const char *value = m.new_tuple[0].data.data();
    CHECK(value >= bytes.data());
    CHECK(value < bytes.data() + bytes.size());
}

TEST_CASE("Insert of an empty text value is a zero-length text column, not null") {
    std::string bytes = Wire('I').U32(1).U8('N').I16(1).Text("").str();
    PgoutputDecoder decoder;
    auto m = std::get<InsertMessage>(decoder.Decode(bytes));
    REQUIRE(m.new_tuple.size() == 1);
    CHECK(m.new_tuple[0].kind == TupleColumnKind::kText);
    CHECK(m.new_tuple[0].data.empty());
}

TEST_CASE("A reused decoder sizes each tuple to its own message") {
    PgoutputDecoder decoder;
    decoder.Decode(InsertFixture());
    std::string smaller = Wire('I').U32(2).U8('N').I16(1).Text("x").str();
    auto m = std::get<InsertMessage>(decoder.Decode(smaller));
    CHECK(m.relation_oid == 2);
    REQUIRE(m.new_tuple.size() == 1);
    CHECK(m.new_tuple[0].data == "x");
}

TEST_CASE("Insert without the 'N' marker is rejected") {
    std::string bytes = Wire('I').U32(1).U8('K').I16(0).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Insert"));
    CHECK(Contains(err, "'N'"));
}

TEST_CASE("Update without an old tuple carries only the new tuple") {
    std::string bytes = Wire('U').U32(7).U8('N').I16(2).Text("1").Text("b").str();
    PgoutputDecoder decoder;
    auto m = std::get<UpdateMessage>(decoder.Decode(bytes));
    CHECK(m.relation_oid == 7);
    CHECK(m.old_kind == OldTupleKind::kNone);
    CHECK(m.old_tuple.empty());
    REQUIRE(m.new_tuple.size() == 2);
    CHECK(m.new_tuple[0].data == "1");
    CHECK(m.new_tuple[1].data == "b");
}

TEST_CASE("Update that changes the key carries the old key tuple before the new tuple") {
    std::string bytes =
        Wire('U').U32(7).U8('K').I16(2).Text("1").Null().U8('N').I16(2).Text("2").Text("b").str();
    PgoutputDecoder decoder;
    auto m = std::get<UpdateMessage>(decoder.Decode(bytes));
    CHECK(m.old_kind == OldTupleKind::kKey);
    REQUIRE(m.old_tuple.size() == 2);
    CHECK(m.old_tuple[0].data == "1");
    CHECK(m.old_tuple[1].kind == TupleColumnKind::kNull);
    REQUIRE(m.new_tuple.size() == 2);
    CHECK(m.new_tuple[0].data == "2");
    CHECK(m.new_tuple[1].data == "b");
}

TEST_CASE("Update with REPLICA IDENTITY FULL carries the whole old row") {
    std::string bytes =
        Wire('U').U32(7).U8('O').I16(2).Text("1").Text("a").U8('N').I16(2).Text("1").Toast().str();
    PgoutputDecoder decoder;
    auto m = std::get<UpdateMessage>(decoder.Decode(bytes));
    CHECK(m.old_kind == OldTupleKind::kFull);
    REQUIRE(m.old_tuple.size() == 2);
    CHECK(m.old_tuple[1].data == "a");
    REQUIRE(m.new_tuple.size() == 2);
    CHECK(m.new_tuple[1].kind == TupleColumnKind::kUnchangedToast);
}

TEST_CASE("Update with an unknown tuple marker is rejected") {
    std::string bytes = Wire('U').U32(7).U8('X').I16(0).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Update"));
    CHECK(Contains(err, "'X'"));
}

TEST_CASE("Update with an old tuple but no new tuple is rejected") {
    std::string bytes = Wire('U').U32(7).U8('K').I16(1).Text("1").str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Update"));
    CHECK(Contains(err, "truncated"));
}

TEST_CASE("Delete carries the old key tuple") {
    std::string bytes = Wire('D').U32(9).U8('K').I16(2).Text("5").Null().str();
    PgoutputDecoder decoder;
    auto m = std::get<DeleteMessage>(decoder.Decode(bytes));
    CHECK(m.relation_oid == 9);
    CHECK(m.old_kind == OldTupleKind::kKey);
    REQUIRE(m.old_tuple.size() == 2);
    CHECK(m.old_tuple[0].data == "5");
    CHECK(m.old_tuple[1].kind == TupleColumnKind::kNull);
}

TEST_CASE("Delete with REPLICA IDENTITY FULL carries the whole old row") {
    std::string bytes = Wire('D').U32(9).U8('O').I16(2).Text("5").Text("e").str();
    PgoutputDecoder decoder;
    auto m = std::get<DeleteMessage>(decoder.Decode(bytes));
    CHECK(m.old_kind == OldTupleKind::kFull);
    REQUIRE(m.old_tuple.size() == 2);
    CHECK(m.old_tuple[1].data == "e");
}

TEST_CASE("Delete without an old tuple marker is rejected") {
    std::string bytes = Wire('D').U32(9).U8('N').I16(1).Text("5").str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Delete"));
    CHECK(Contains(err, "'K' or 'O'"));
}

TEST_CASE("Truncate carries CASCADE, RESTART IDENTITY and every relation oid") {
    std::string bytes = Wire('T').I32(3).U8(3).U32(100).U32(200).U32(300).str();
    PgoutputDecoder decoder;
    auto m = std::get<TruncateMessage>(decoder.Decode(bytes));
    CHECK(m.options == 3);
    CHECK(m.Cascade());
    CHECK(m.RestartIdentity());
    REQUIRE(m.relation_oids.size() == 3);
    CHECK(m.relation_oids[0] == 100);
    CHECK(m.relation_oids[1] == 200);
    CHECK(m.relation_oids[2] == 300);
}

TEST_CASE("Truncate without options sets neither CASCADE nor RESTART IDENTITY") {
    std::string bytes = Wire('T').I32(1).U8(0).U32(100).str();
    PgoutputDecoder decoder;
    auto m = std::get<TruncateMessage>(decoder.Decode(bytes));
    CHECK_FALSE(m.Cascade());
    CHECK_FALSE(m.RestartIdentity());
}

TEST_CASE("Truncate claiming more relations than the message holds is rejected") {
    std::string bytes = Wire('T').I32(1000000).U8(0).U32(100).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Truncate"));
    CHECK(Contains(err, "1000000"));
}

TEST_CASE("Truncate with a negative relation count is rejected") {
    std::string bytes = Wire('T').I32(-1).U8(0).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Truncate"));
    CHECK(Contains(err, "negative relation count"));
}

TEST_CASE("Logical decoding Message carries flags, LSN, prefix and content") {
    std::string bytes = Wire('M').U8(1).U64(0x3000).Str("cdcctl").I32(5).Raw("hello").str();
    PgoutputDecoder decoder;
    auto m = std::get<LogicalMessage>(decoder.Decode(bytes));
    CHECK(m.Transactional());
    CHECK(m.lsn == 0x3000);
    CHECK(m.prefix == "cdcctl");
    CHECK(m.content == "hello");
}

TEST_CASE("Logical decoding Message with a negative content length is rejected") {
    std::string bytes = Wire('M').U8(0).U64(1).Str("p").I32(-2).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Message"));
    CHECK(Contains(err, "negative length"));
}

TEST_CASE("Insert cut short at any byte is a ProtocolError") {
    std::string bytes = InsertFixture();
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
        CAPTURE(cut);
        std::string err = DecodeError(std::string_view(bytes).substr(0, cut));
        CHECK(Contains(err, cut == 0 ? "empty message" : "Insert"));
    }
}

TEST_CASE("Error offsets count from the message type byte") {
    std::string bytes = InsertFixture().substr(0, 5);
    CHECK(DecodeError(bytes) ==
          "pgoutput Insert message: truncated reading 'tuple marker' at byte 5 (needs 1 byte(s), "
          "0 left)");
}

TEST_CASE("Every message type cut short at any byte is a ProtocolError") {
    const std::string fixtures[] = {
        Wire('B').U64(1).I64(2).U32(3).str(),
        Wire('C').U8(0).U64(1).U64(2).I64(3).str(),
        Wire('O').U64(1).Str("o").str(),
        Wire('R').U32(1).Str("s").Str("t").U8('d').I16(1).U8(1).Str("c").U32(23).I32(-1).str(),
        Wire('Y').U32(1).Str("s").Str("t").str(),
        Wire('U').U32(1).U8('O').I16(1).Text("a").U8('N').I16(1).Text("b").str(),
        Wire('D').U32(1).U8('K').I16(1).Text("a").str(),
        Wire('T').I32(2).U8(1).U32(1).U32(2).str(),
        Wire('M').U8(1).U64(1).Str("p").I32(2).Raw("xy").str(),
    };
    for (const std::string &bytes : fixtures) {
        PgoutputDecoder decoder;
        CHECK_NOTHROW(decoder.Decode(bytes));
        for (size_t cut = 1; cut < bytes.size(); ++cut) {
            CAPTURE(bytes[0]);
            CAPTURE(cut);
            CHECK_THROWS_AS(decoder.Decode(std::string_view(bytes).substr(0, cut)), ProtocolError);
        }
    }
}

TEST_CASE("A negative column length is rejected") {
    std::string bytes = Wire('I').U32(1).U8('N').I16(1).U8('t').I32(-1).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Insert"));
    CHECK(Contains(err, "negative length (-1)"));
}

TEST_CASE("A column length beyond the end of the message is rejected") {
    std::string bytes = Wire('I').U32(1).U8('N').I16(1).U8('t').I32(100).Raw("abc").str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Insert"));
    CHECK(Contains(err, "length 100"));
}

TEST_CASE("A negative tuple column count is rejected") {
    std::string bytes = Wire('I').U32(1).U8('N').I16(-3).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Insert"));
    CHECK(Contains(err, "negative column count"));
}

TEST_CASE("A tuple column count larger than the message is rejected before allocating") {
    std::string bytes = Wire('I').U32(1).U8('N').I16(32767).Null().str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Insert"));
    CHECK(Contains(err, "32767"));
}

TEST_CASE("An unknown tuple column kind is rejected") {
    std::string bytes = Wire('I').U32(1).U8('N').I16(2).Null().U8('x').str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Insert"));
    CHECK(Contains(err, "column 1 has unknown kind 'x'"));
}

TEST_CASE("Trailing bytes after an Insert are rejected") {
    std::string bytes = InsertFixture() + "zz";
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Insert"));
    CHECK(Contains(err, "2 unexpected trailing byte(s)"));
}

TEST_CASE("Trailing bytes after a Begin are rejected") {
    std::string bytes = Wire('B').U64(1).I64(2).U32(3).U8(0).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Begin"));
    CHECK(Contains(err, "trailing"));
}

TEST_CASE("A string without its terminating NUL is rejected") {
    std::string bytes = Wire('O').U64(1).Raw("no_nul").str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "Origin"));
    CHECK(Contains(err, "no terminating NUL"));
}

TEST_CASE("An unknown message type is rejected with its type byte") {
    std::string bytes = Wire('S').U32(1).U8(1).str();  // Stream Start: protocol version 2
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "unknown message type 'S' (0x53)"));
}

TEST_CASE("An unprintable message type is shown in hex") {
    std::string err = DecodeError(std::string_view("\x01", 1));
    CHECK(Contains(err, "unknown message type 0x01"));
}

TEST_CASE("An empty message is rejected") {
    CHECK(Contains(DecodeError(""), "empty message"));
}

TEST_CASE("Message type names follow the PostgreSQL documentation") {
    CHECK(PgoutputMessageName('I') == "Insert");
    CHECK(PgoutputMessageName('Y') == "Type");
    CHECK(PgoutputMessageName('S').empty());
}
