// The Parquet sink: change events as Parquet files under <path>/<topic>/ (with partition_by:
// date, under <path>/<topic>/dt=YYYY-MM-DD/ from the event's source time in UTC).
//
// Files. Each topic (and date partition) has at most one open file. It is named
//   <UTC time it was opened, YYYYMMDDTHHMMSS.mmmZ>-<sequence in this run, 6 digits>-<position of
//   its first event (SourceInfo::event_order; PostgreSQL: the LSN), 16 hex digits>.parquet
// so names sort in write order (the time first, then the run's sequence within a millisecond)
// and cannot collide across runs (the run lock keeps a second run out; the rename refuses to
// replace a file). While open it is the hidden ".<name>.tmp" beside it.
//
// A file is completed (footer written, fdatasync'd, renamed, directory fsync'd; see
// part_file.h) when it holds max_rows rows (exactly: the next row starts a new file, also in the
// middle of a batch), when its size reaches max_bytes (checked after every batch and every 1024
// rows: the size is what was written plus an estimate of the buffered row group), when max_age
// has passed since its first row (checked on every Write and Flush, so that a quiet stream keeps
// confirming positions: an idle source still delivers empty checkpoint batches), when its table's
// schema changes (a new TableSchema version: the next rows need other columns), and on Drain()
// at the end of the run. Flush() completes nothing else: cutting files once a second would
// leave a lake of tiny files.
//
// Durability. DurableSeq() is the last batch all of whose rows, and those of every earlier batch,
// are in renamed files: with files open, one less than the oldest batch that has a row in any
// of them; with none, the last batch written. The runtime confirms a source position only up to
// there, so a kill -9 loses nothing: the open files' rows are sent again by the next run, which
// first removes the hidden .tmp files (of topics <topic_prefix>.*) left in the sink's folders.
// Rows of completed files can also be sent again when the run ends before the position after
// them was saved: delivery is at-least-once, and a repeated row has the same _position (row
// content) or source position (envelope content; PostgreSQL: source.lsn), which is how readers
// deduplicate.
//
// Memory: one row group per open file, flushed once it holds row_group_rows rows (or 64 MiB of
// encoded values, whichever comes first).
//
// Errors (disk full, I/O errors) are SinkErrors naming the file and the errno text; the
// temporary file is removed and nothing after the last completed file is confirmed.
#pragma once

#include <memory>
#include <vector>

#include "core/runtime/check.h"
#include "core/runtime/source.h"
#include "sinks/parquet/parquet_config.h"

namespace cdcctl {

std::unique_ptr<Sink> MakeParquetSink(const ParquetSinkConfig &cfg, const SinkContext &ctx);
// `cdcctl check`: the target directory exists or can be created, and is writable.
std::vector<CheckResult> CheckParquet(const ParquetSinkConfig &cfg, const SinkContext &ctx);

}  // namespace cdcctl
