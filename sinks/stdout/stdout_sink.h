// The stdout sink: one JSON object per event, one per line (NDJSON), written to a file
// descriptor (1 unless a test says otherwise).
//
// When a batch counts as durable (DurableSeq) depends on what the descriptor is, because the
// source position is confirmed, and the database may discard the changes, once it does:
//
//   regular file, block device  written, then fdatasync'd by Flush(). Until then the bytes are
//                               only in the page cache and a power loss would lose them.
//   pipe, FIFO                  consumed by the reader. Bytes written into a pipe still sit in
//                               the kernel's pipe buffer, and when the reader exits
//                               (`cdcctl run shop.yaml | head -n 1`) they are gone. We count the
//                               bytes we wrote and, per batch, the running total at its end; the
//                               reader has consumed (total written - FIONREAD) bytes, and a batch
//                               is durable once that passes its end. FIONREAD on the write end
//                               reports the unread bytes of the pipe on Linux. Bytes another
//                               process wrote to the same pipe only make the count lower, so the
//                               estimate never confirms too much. "Consumed" is as far as we can
//                               see: what the reader does with the bytes is up to the reader.
//   terminal, other character   written. There is nothing further to wait for (a terminal, or
//   device, socket              /dev/null).
//
// A reader that goes away (EPIPE, ECONNRESET) makes Write return kClosed; nothing it did not
// consume is confirmed. Open() sets SIGPIPE to SIG_IGN for the whole process, so that a vanished
// reader is an error code and not a signal that kills cdcctl.
//
// Write blocks while the pipe is full (also when the descriptor is non-blocking): a slow reader
// slows the pipeline down instead of making it buffer without bound.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "core/runtime/source.h"
#include "sinks/stdout/stdout_config.h"

namespace cdcctl {

class StdoutSink : public Sink {
public:
    // Appends one event as a JSON object to the string, without a newline.
    using Encoder = std::function<void(const ChangeEvent &, std::string *)>;

    // `cfg` is what the encoder was built from; the sink itself only writes lines.
    StdoutSink(const StdoutSinkConfig &cfg, Encoder encode, int fd = 1);

    // Ignores SIGPIPE and finds out what the descriptor is. Throws SinkError when it is not open.
    void Open() override;
    // Encode and write the whole batch before returning. kClosed once the reader has gone.
    // Throws SinkError on any other write error (ENOSPC, EIO, ...).
    WriteResult Write(const Batch &batch) override;
    // File: fdatasync. Pipe: wait up to `max_wait` for the reader to consume what was written,
    // returning early when it has, or when it has gone. Otherwise: nothing to do.
    void Flush(std::chrono::milliseconds max_wait) override;
    uint64_t DurableSeq() override;
    // The descriptor is left open: it is the process's stdout, not ours.
    void Close() override;

    const StdoutSinkConfig &config() const { return cfg_; }

private:
    enum class Target { kSyncedFile, kPipe, kWrittenIsDurable };

    // Write buf_ completely; false when the reader has gone.
    bool WriteBuffer();
    // After a stop request: whether the reader makes room within a second.
    bool WritableSoon() const;
    void EndTornLine(off_t size);
    // Advance durable_seq_ over the batches the pipe's reader has consumed.
    void UpdatePipeProgress();
    [[noreturn]] void ThrowErrno(const std::string &action, int errnum) const;

    StdoutSinkConfig cfg_;
    Encoder encode_;
    int fd_;
    Target target_ = Target::kWrittenIsDurable;
    bool opened_ = false;
    bool closed_ = false;
    bool reader_gone_ = false;
    std::string buf_;  // reused across batches, keeps its capacity

    uint64_t written_seq_ = 0;  // the last batch written completely
    uint64_t durable_seq_ = 0;
    // Pipe accounting: bytes written so far, and (running total at the end of the batch, seq)
    // for every batch the reader has not yet consumed, oldest first.
    uint64_t bytes_written_ = 0;
    struct PendingBatch {
        uint64_t end;
        uint64_t seq;
    };
    std::deque<PendingBatch> pending_;
};

// The sink of `type: stdout`: events encoded as the envelope or the row format of `ctx`'s source.
std::unique_ptr<Sink> MakeStdoutSink(const StdoutSinkConfig &cfg, const SinkContext &ctx);

}  // namespace cdcctl
