#include "sources/postgres/source_block.h"

#include <charconv>

namespace cdcctl::postgres {
namespace {

uint8_t tx_id_value = 0;
uint8_t lsn_value = 0;

SourceBlock Build() {
    SourceBlock b = SourceBlock::WithCommonFields("postgresql", "io.debezium.connector.postgresql.Source");
    b.AddField("schema", FieldType::kString, false, SourceFieldFrom::kSchema);
    b.AddField("table", FieldType::kString, false, SourceFieldFrom::kTable);
    tx_id_value = b.AddValue("txId", FieldType::kInt64);
    lsn_value = b.AddValue("lsn", FieldType::kInt64);
    // Debezium fills xmin only with xmin.fetch.interval.ms, which cdcctl does not offer.
    b.AddField("xmin", FieldType::kInt64, true, SourceFieldFrom::kNull);
    b.row_position_field = "__lsn";
    b.row_position_value = lsn_value;
    b.append_position = AppendLsnPosition;
    return b;
}

// Debezium's sequence: a JSON array of two decimal LSN strings, null where the LSN is 0.
void SetSequence(std::string &out, uint64_t last_commit_lsn, uint64_t lsn) {
    char buf[64];
    char *p = buf;
    *p++ = '[';
    auto put = [&p](uint64_t v) {
        if (v == 0) {
            for (char c : {'n', 'u', 'l', 'l'}) *p++ = c;
            return;
        }
        *p++ = '"';
        p = std::to_chars(p, p + 20, v).ptr;
        *p++ = '"';
    };
    put(last_commit_lsn);
    *p++ = ',';
    put(lsn);
    *p++ = ']';
    out.assign(buf, static_cast<size_t>(p - buf));
}

void SetLsnAndTx(SourceInfo &s, uint64_t lsn, int64_t xid) {
    const SourceBlock &block = PostgresSourceBlock();
    if (s.values.size() < block.value_count) s.values.resize(block.value_count);
    if (xid < 0) s.values[tx_id_value].SetNull();
    else s.values[tx_id_value].SetInt(xid);
    if (lsn == 0) s.values[lsn_value].SetNull();
    else s.values[lsn_value].SetInt(static_cast<int64_t>(lsn));
}

}  // namespace

const SourceBlock &PostgresSourceBlock() {
    static const SourceBlock block = Build();
    return block;
}

void SetSnapshotSource(SourceInfo &s, uint64_t consistent_point) {
    s.commit_order = consistent_point;
    s.event_order = consistent_point;
    if (consistent_point == 0) s.sequence.clear();
    else SetSequence(s.sequence, 0, consistent_point);
    SetLsnAndTx(s, consistent_point, -1);
}

void SetStreamSource(SourceInfo &s, uint64_t lsn, uint64_t last_commit_lsn, uint64_t commit_lsn,
                     int64_t xid) {
    s.commit_order = commit_lsn;
    s.event_order = lsn;
    if (lsn == 0) s.sequence.clear();
    else SetSequence(s.sequence, last_commit_lsn, lsn);
    SetLsnAndTx(s, lsn, xid);
}

void AppendLsnPosition(std::string *out, uint64_t lsn) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    char buf[17];
    for (int i = 0; i < 8; ++i) buf[i] = kHex[(lsn >> (60 - 4 * i)) & 0xF];
    buf[8] = '/';
    for (int i = 0; i < 8; ++i) buf[9 + i] = kHex[(lsn >> (28 - 4 * i)) & 0xF];
    out->append(buf, sizeof(buf));
}

}  // namespace cdcctl::postgres
