#include "sinks/parquet/parquet_config.h"

namespace cdcctl {

const StructSpec<ParquetSinkConfig> &ParquetSinkSpec() {
    static const StructSpec<ParquetSinkConfig> spec = [] {
        using C = ParquetSinkConfig;
        StructSpec<C> s("sink", "parquet",
                        "Writes change events as Parquet files under <path>/<topic>/. A file is "
                        "written as a hidden .tmp file and renamed when it is complete; source "
                        "positions are confirmed only once the file holding them is renamed.");
        s.String("path", &C::path,
                 "The directory that receives one folder per topic; created if missing. A relative "
                 "path is relative to the pipeline file's folder, like state.")
            .Required()
            .NonEmpty();
        s.Enum("compression", &C::compression,
               {{"snappy", ParquetCompression::kSnappy},
                {"zstd", ParquetCompression::kZstd},
                {"gzip", ParquetCompression::kGzip},
                {"none", ParquetCompression::kNone}},
               "The codec of every data page.");
        s.Enum("content", &C::content,
               {{"row", ParquetContent::kRow}, {"envelope", ParquetContent::kEnvelope}},
               "row writes the row state (the after state; for a delete, the key columns of "
               "the before state; for a truncate, no column) and the metadata columns _op, "
               "_ts_ms, _position (the change's LSN as 8+8 hex digits, 00000000/016B3748, "
               "which sorts as text and casts to pg_lsn) and _snapshot (a table with a column "
               "of one of these names stops the run with status 78); envelope writes before "
               "and after as structs beside a source struct with Debezium's fields, op and "
               "ts_ms.");
        s.Integer(
            "max_rows", &C::max_rows, 1, int64_t{1} << 40,
            "A file is completed once it holds this many rows (exactly; the next row starts a "
            "new file).");
        s.Size("max_bytes", &C::max_bytes, int64_t{1} << 10, int64_t{1} << 40,
               "A file is completed once its size (bytes written plus an estimate of the row "
               "group in memory) reaches this; looked at after every batch and every 1024 rows.");
        s.Duration("max_age", &C::max_age,
                   "A file is completed this long after its first row, so that positions keep "
                   "being confirmed on a quiet stream; 0 completes files only on max_rows, "
                   "max_bytes, a schema change or the end of the run.");
        s.Integer("row_group_rows", &C::row_group_rows, 1, int64_t{1} << 30,
                  "Rows per row group; the rows of one row group are held in memory.");
        s.Enum("partition_by", &C::partition_by,
               {{"none", ParquetPartition::kNone}, {"date", ParquetPartition::kDate}},
               "date writes files under Hive-style dt=YYYY-MM-DD folders, from the event's "
               "source time in UTC.");
        return s;
    }();
    return spec;
}

}  // namespace cdcctl
