// Streaming replication CopyData messages; the wire format is described in
// replication_messages.h.
#include "sources/postgres/replication_messages.h"

#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "core/util/byte_reader.h"
#include "core/util/int_math.h"

namespace cdcctl {

namespace {

constexpr int64_t kEpochOffsetUs = kPostgresEpochUnixSeconds * 1000000;

// One half of an LSN: 1 to 8 hex digits.
bool ParseLsnHalf(std::string_view text, uint32_t *out) {
    if (text.empty() || text.size() > 8) return false;
    uint32_t v = 0;
    for (char c : text) {
        int d = HexDigitValue(c);
        if (d < 0) return false;
        v = (v << 4) | static_cast<uint32_t>(d);
    }
    *out = v;
    return true;
}

}  // namespace

ReplicationMessage DecodeReplicationMessage(std::string_view copy_data) {
    if (copy_data.empty()) {
        throw ProtocolError("postgres", "replication stream: empty CopyData message");
    }
    switch (copy_data[0]) {
        case 'w': {
            ByteReader r(copy_data, "postgres", "replication XLogData message");
            r.ReadU8("message type");
            XLogData m;
            m.wal_start = r.ReadU64("wal_start");
            m.wal_end = r.ReadU64("wal_end");
            m.send_time_us = r.ReadI64("send_time");
            m.data = r.ReadBytes(r.Remaining(), "data");
            return m;
        }
        case 'k': {
            ByteReader r(copy_data, "postgres", "replication keepalive message");
            r.ReadU8("message type");
            PrimaryKeepalive m;
            m.wal_end = r.ReadU64("wal_end");
            m.send_time_us = r.ReadI64("send_time");
            m.reply_requested = r.ReadU8("reply_requested") != 0;
            r.ExpectEnd();
            return m;
        }
        default: {
            char buf[8];
            std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned char>(copy_data[0]));
            throw ProtocolError("postgres",
                                std::string("replication stream: unknown message type ") + buf +
                                    " (expected 'w' XLogData or 'k' keepalive)");
        }
    }
}

std::array<char, kStandbyStatusUpdateSize> EncodeStandbyStatusUpdate(const StandbyStatusUpdate &u) {
    std::array<char, kStandbyStatusUpdateSize> out{};
    out[0] = 'r';
    StoreBigEndian<uint64_t>(&out[1], u.write_lsn);
    StoreBigEndian<uint64_t>(&out[9], u.flush_lsn);
    StoreBigEndian<uint64_t>(&out[17], u.apply_lsn);
    StoreBigEndian<uint64_t>(&out[25], static_cast<uint64_t>(u.client_time_us));
    out[33] = u.reply_requested ? 1 : 0;
    return out;
}

int64_t UnixMicrosToPostgres(int64_t unix_us) {
    return SaturatingAdd(unix_us, -kEpochOffsetUs);
}

int64_t PostgresMicrosToUnix(int64_t postgres_us) {
    return SaturatingAdd(postgres_us, kEpochOffsetUs);
}

int64_t PostgresMicrosToUnixMillis(int64_t postgres_us) {
    int64_t us = PostgresMicrosToUnix(postgres_us);
    int64_t ms = us / 1000;
    if (us % 1000 < 0) --ms;
    return ms;
}

int64_t PostgresMicrosNow() {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return UnixMicrosToPostgres(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

std::string FormatLsn(uint64_t lsn) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                  static_cast<unsigned>(lsn & 0xffffffffu));
    return buf;
}

bool ParseLsn(std::string_view text, uint64_t *lsn) {
    size_t slash = text.find('/');
    if (slash == std::string_view::npos) return false;
    uint32_t hi, lo;
    if (!ParseLsnHalf(text.substr(0, slash), &hi)) return false;
    if (!ParseLsnHalf(text.substr(slash + 1), &lo)) return false;
    *lsn = (static_cast<uint64_t>(hi) << 32) | lo;
    return true;
}

}  // namespace cdcctl
