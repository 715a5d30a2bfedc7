// The CopyData payloads of PostgreSQL's streaming replication protocol, after START_REPLICATION
// has put the connection into CopyBoth mode.
//
// Server to client, the first byte says which:
//   'w' XLogData:          Int64 wal_start, Int64 wal_end, Int64 send_time, Byten data
//                          (data is one message of the output plugin, here pgoutput)
//   'k' Primary keepalive: Int64 wal_end, Int64 send_time, Byte1 reply_requested
// Client to server:
//   'r' Standby status update: Int64 write, Int64 flush, Int64 apply, Int64 client_time,
//                          Byte1 reply_requested (34 bytes in all)
// LSNs are 64-bit WAL positions; times are microseconds since the PostgreSQL epoch,
// 2000-01-01 00:00:00 UTC. All integers are big-endian.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace cdcctl {

// 2000-01-01T00:00:00Z in seconds since the Unix epoch.
inline constexpr int64_t kPostgresEpochUnixSeconds = 946684800;

struct XLogData {
    uint64_t wal_start = 0;
    uint64_t wal_end = 0;
    int64_t send_time_us = 0;  // PostgreSQL epoch
    std::string_view data;     // the pgoutput message; points into the CopyData buffer
};

struct PrimaryKeepalive {
    uint64_t wal_end = 0;
    int64_t send_time_us = 0;  // PostgreSQL epoch
    bool reply_requested = false;
};

using ReplicationMessage = std::variant<XLogData, PrimaryKeepalive>;

// Decodes one CopyData payload from the server. Throws ProtocolError on an unknown message type,
// a truncated message, or trailing bytes after a keepalive.
ReplicationMessage DecodeReplicationMessage(std::string_view copy_data);

struct StandbyStatusUpdate {
    uint64_t write_lsn = 0;  // received and written
    uint64_t flush_lsn = 0;  // durable: the server may recycle WAL and advance the slot to here
    uint64_t apply_lsn = 0;
    int64_t client_time_us = 0;  // PostgreSQL epoch
    bool reply_requested = false;
};

inline constexpr size_t kStandbyStatusUpdateSize = 34;

// The CopyData payload to send, starting with 'r'.
std::array<char, kStandbyStatusUpdateSize> EncodeStandbyStatusUpdate(const StandbyStatusUpdate &u);

// Conversions between PostgreSQL-epoch and Unix-epoch microseconds. They saturate at the int64
// range instead of overflowing, so PostgreSQL's +/-infinity timestamps stay at the extremes.
int64_t UnixMicrosToPostgres(int64_t unix_us);
int64_t PostgresMicrosToUnix(int64_t postgres_us);
// Unix milliseconds (Debezium's ts_ms), rounded towards negative infinity.
int64_t PostgresMicrosToUnixMillis(int64_t postgres_us);
// The system clock as PostgreSQL-epoch microseconds, for StandbyStatusUpdate::client_time_us.
int64_t PostgresMicrosNow();

// "16/B374D848": the high and low 32 bits in upper-case hex, as pg_lsn prints it.
std::string FormatLsn(uint64_t lsn);
// Accepts what pg_lsn accepts: 1 to 8 hex digits, '/', 1 to 8 hex digits, nothing else.
// Returns false (leaving *lsn untouched) for anything else.
bool ParseLsn(std::string_view text, uint64_t *lsn);

}  // namespace cdcctl
