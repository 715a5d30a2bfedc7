// Streaming replication CopyData messages, LSN text and PostgreSQL-epoch times, from byte
// fixtures laid out as the PostgreSQL documentation ("Streaming Replication Protocol") describes.
#include "sources/postgres/replication_messages.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.h"

using namespace cdcctl;

namespace {

class Wire {
public:
    explicit Wire(char type) { buf_.push_back(type); }
    Wire &U8(uint8_t v) {
        buf_.push_back(static_cast<char>(v));
        return *this;
    }
    Wire &U64(uint64_t v) {
        for (int i = 7; i >= 0; --i) buf_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
        return *this;
    }
    Wire &I64(int64_t v) { return U64(static_cast<uint64_t>(v)); }
    Wire &Raw(std::string_view s) {
        buf_.append(s);
        return *this;
    }
    const std::string &str() const { return buf_; }

private:
    std::string buf_;
};

uint64_t BigU64At(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

std::string DecodeError(std::string_view bytes) {
    try {
        DecodeReplicationMessage(bytes);
    } catch (const ProtocolError &e) {
        if (e.Component() != "postgres") return "<wrong component: " + e.Component() + ">";
        return e.what();
    }
    return "<no ProtocolError>";
}

bool Contains(const std::string &haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("XLogData carries WAL start, WAL end, send time and the plugin message") {
    std::string bytes =
        Wire('w').U64(0x16B374D848).U64(0x16B374D900).I64(123456789).Raw("B...").str();
    auto m = std::get<XLogData>(DecodeReplicationMessage(bytes));
    CHECK(m.wal_start == 0x16B374D848);
    CHECK(m.wal_end == 0x16B374D900);
    CHECK(m.send_time_us == 123456789);
    CHECK(m.data == "B...");
    CHECK(m.data.data() == bytes.data() + 25);
}

TEST_CASE("XLogData with no payload has empty data") {
    std::string bytes = Wire('w').U64(1).U64(2).I64(3).str();
    auto m = std::get<XLogData>(DecodeReplicationMessage(bytes));
    CHECK(m.data.empty());
}

TEST_CASE("XLogData shorter than its header is rejected") {
    std::string bytes = Wire('w').U64(1).U64(2).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "XLogData"));
    CHECK(Contains(err, "truncated reading 'send_time'"));
}

TEST_CASE("Keepalive carries WAL end, send time and whether a reply is requested") {
    std::string bytes = Wire('k').U64(0x2A000000).I64(-1).U8(1).str();
    auto m = std::get<PrimaryKeepalive>(DecodeReplicationMessage(bytes));
    CHECK(m.wal_end == 0x2A000000);
    CHECK(m.send_time_us == -1);
    CHECK(m.reply_requested);
}

TEST_CASE("Keepalive without a reply request") {
    std::string bytes = Wire('k').U64(5).I64(6).U8(0).str();
    auto m = std::get<PrimaryKeepalive>(DecodeReplicationMessage(bytes));
    CHECK_FALSE(m.reply_requested);
}

TEST_CASE("Keepalive cut short at any byte is a ProtocolError") {
    std::string bytes = Wire('k').U64(5).I64(6).U8(1).str();
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
        CAPTURE(cut);
        CHECK_THROWS_AS(DecodeReplicationMessage(std::string_view(bytes).substr(0, cut)),
                        ProtocolError);
    }
}

TEST_CASE("Keepalive with trailing bytes is rejected") {
    std::string bytes = Wire('k').U64(5).I64(6).U8(1).U8(0).str();
    std::string err = DecodeError(bytes);
    CHECK(Contains(err, "keepalive"));
    CHECK(Contains(err, "trailing"));
}

TEST_CASE("An unknown CopyData message type is rejected") {
    std::string err = DecodeError(Wire('s').U64(1).str());
    CHECK(Contains(err, "unknown message type 0x73"));
}

TEST_CASE("An empty CopyData message is rejected") {
    CHECK(Contains(DecodeError(""), "empty CopyData"));
}

TEST_CASE("Standby status update is 'r', three LSNs, the clock and the reply flag in 34 bytes") {
    StandbyStatusUpdate u;
    u.write_lsn = 0x0102030405060708;
    u.flush_lsn = 0x1112131415161718;
    u.apply_lsn = 0x2122232425262728;
    u.client_time_us = -2;
    u.reply_requested = true;
    auto out = EncodeStandbyStatusUpdate(u);
    REQUIRE(out.size() == 34);
    CHECK(out[0] == 'r');
    CHECK(BigU64At(&out[1]) == 0x0102030405060708);
    CHECK(BigU64At(&out[9]) == 0x1112131415161718);
    CHECK(BigU64At(&out[17]) == 0x2122232425262728);
    CHECK(BigU64At(&out[25]) == 0xFFFFFFFFFFFFFFFE);
    CHECK(out[33] == 1);
}

TEST_CASE("Standby status update without a reply request ends in a zero byte") {
    StandbyStatusUpdate u;
    auto out = EncodeStandbyStatusUpdate(u);
    CHECK(out[33] == 0);
}

TEST_CASE("The PostgreSQL epoch is 2000-01-01 in Unix time") {
    CHECK(PostgresMicrosToUnix(0) == 946684800LL * 1000000);
    CHECK(UnixMicrosToPostgres(946684800LL * 1000000) == 0);
    CHECK(UnixMicrosToPostgres(0) == -946684800LL * 1000000);
}

TEST_CASE("PostgreSQL-epoch and Unix micros convert back and forth") {
    int64_t pg = 739000000123456;
    CHECK(UnixMicrosToPostgres(PostgresMicrosToUnix(pg)) == pg);
}

TEST_CASE("Epoch conversion saturates instead of overflowing") {
    CHECK(PostgresMicrosToUnix(INT64_MAX) == INT64_MAX);
    CHECK(UnixMicrosToPostgres(INT64_MIN) == INT64_MIN);
}

TEST_CASE("Unix millis round towards negative infinity") {
    int64_t epoch_us = 946684800LL * 1000000;
    CHECK(PostgresMicrosToUnixMillis(1999) == epoch_us / 1000 + 1);
    CHECK(PostgresMicrosToUnixMillis(-epoch_us - 1) == -1);
}

TEST_CASE("The current time is after 2020 in PostgreSQL-epoch micros") {
    CHECK(PostgresMicrosNow() > 20LL * 365 * 86400 * 1000000);
}

TEST_CASE("LSNs print as upper-case hex halves like pg_lsn") {
    CHECK(FormatLsn(0x16B374D848) == "16/B374D848");
    CHECK(FormatLsn(0) == "0/0");
    CHECK(FormatLsn(UINT64_MAX) == "FFFFFFFF/FFFFFFFF");
    CHECK(FormatLsn(0x100000000) == "1/0");
}

TEST_CASE("LSNs parse back to the value they were printed from") {
    for (uint64_t lsn : {uint64_t{0}, uint64_t{0x16B374D848}, uint64_t{0xA}, UINT64_MAX}) {
        uint64_t parsed = 1;
        CHECK(ParseLsn(FormatLsn(lsn), &parsed));
        CHECK(parsed == lsn);
    }
}

TEST_CASE("LSN parsing accepts lower-case hex") {
    uint64_t lsn = 0;
    CHECK(ParseLsn("16/b374d848", &lsn));
    CHECK(lsn == 0x16B374D848);
}

TEST_CASE("LSN parsing rejects malformed text and leaves the output alone") {
    for (std::string_view bad : {"zz/1", "1", "1/", "/1", "", "/", "1/2/3", "123456789/0",
                                 "0/123456789", " 1/2", "1/2 ", "+1/2", "1/-2"}) {
        CAPTURE(bad);
        uint64_t lsn = 77;
        CHECK_FALSE(ParseLsn(bad, &lsn));
        CHECK(lsn == 77);
    }
}
