#include "sinks/stdout/stdout_sink.h"

#include "core/runtime/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "core/runtime/log.h"
#include "core/json/envelope_encoder.h"

namespace cdcctl {
namespace {

// How often Flush looks at the pipe while the reader drains it: short next to a flush interval,
// long enough not to spin.
constexpr std::chrono::milliseconds kPipePollInterval{5};

}  // namespace

StdoutSink::StdoutSink(const StdoutSinkConfig &cfg, Encoder encode, int fd)
    : cfg_(cfg), encode_(std::move(encode)), fd_(fd) {}

void StdoutSink::ThrowErrno(const std::string &action, int errnum) const {
    throw SinkError("stdout", action + " stdout (fd " + std::to_string(fd_) +
                                  ") failed: " + std::strerror(errnum) +
                                  ". The output may end with a partial line; nothing after the "
                                  "last durable batch was confirmed, so the next run repeats it.");
}

void StdoutSink::Open() {
    // Process-wide: a write to a pipe whose reader has gone must fail with EPIPE, which Write
    // reports as kClosed, instead of killing the process before it can save its state.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    if (::sigaction(SIGPIPE, &ignore, nullptr) != 0) ThrowErrno("ignoring SIGPIPE for", errno);

    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        throw SinkError("stdout", "stdout (fd " + std::to_string(fd_) +
                                      ") is not open: " + std::strerror(errno) +
                                      ". Run cdcctl with its standard output connected to a "
                                      "file, pipe or terminal.");
    }
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
        target_ = Target::kSyncedFile;
        if (S_ISREG(st.st_mode)) EndTornLine(st.st_size);
    } else if (S_ISFIFO(st.st_mode)) {
        target_ = Target::kPipe;
        // Without FIONREAD nothing in the pipe could ever be confirmed: find out now.
        int queued = 0;
        if (::ioctl(fd_, FIONREAD, &queued) != 0) {
            ThrowErrno("asking how much the reader has consumed of", errno);
        }
    } else {
        target_ = Target::kWrittenIsDurable;
    }
    opened_ = true;
    closed_ = false;
}

// A run killed mid-write (kill -9) can leave a file that ends inside a line; appending to it
// would glue that fragment to this run's first event. End the fragment with a newline, so every
// line a consumer reads is either whole JSON or the one fragment, on its own line.
void StdoutSink::EndTornLine(off_t size) {
    if (size <= 0) return;
    // Only where this run's writes go after the fragment (appending, or positioned at the end).
    int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || (!(flags & O_APPEND) && ::lseek(fd_, 0, SEEK_CUR) != size)) return;
    char last = '\n';
    ssize_t n = ::pread(fd_, &last, 1, size - 1);
    if (n != 1) {
        // Opened write-only (`>>`): read the same file through a descriptor of our own.
        int rd = ::open(("/proc/self/fd/" + std::to_string(fd_)).c_str(), O_RDONLY | O_CLOEXEC);
        if (rd < 0) return;
        n = ::pread(rd, &last, 1, size - 1);
        ::close(rd);
    }
    if (n != 1 || last == '\n') return;
    buf_.assign("\n");
    if (!WriteBuffer()) return;
    buf_.clear();
    log::Warn("stdout", "The output file ended inside a line (an earlier run was killed while "
                        "writing); wrote a newline so that this run's events start on a line of "
                        "their own. The line before it is incomplete JSON.");
}

bool StdoutSink::WritableSoon() const {
    pollfd pfd{fd_, POLLOUT, 0};
    int rc = ::poll(&pfd, 1, 1000);
    return rc > 0 && (pfd.revents & POLLOUT) && !(pfd.revents & (POLLERR | POLLHUP));
}

bool StdoutSink::WriteBuffer() {
    const char *data = buf_.data();
    size_t left = buf_.size();
    while (left > 0) {
        ssize_t n = ::write(fd_, data, left);
        if (n >= 0) {
            // Counted as they go: a batch cut short by EPIPE still moved the reader's position.
            bytes_written_ += static_cast<uint64_t>(n);
            data += n;
            left -= static_cast<size_t>(n);
            if (left > 0 && signals::StopRequested() && !WritableSoon()) return false;
            continue;
        }
        int err = errno;
        if (err == EINTR) {
            // A stop request interrupted a blocked write: a reader that takes nothing for a second
            // is treated as gone, so that the stop is not held up by it.
            if (signals::StopRequested() && !WritableSoon()) return false;
            continue;
        }
        if (err == EPIPE || err == ECONNRESET) return false;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            // Someone made our stdout non-blocking; wait for room as a blocking write would.
            pollfd pfd{fd_, POLLOUT, 0};
            if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) ThrowErrno("waiting to write to", errno);
            if (pfd.revents & POLLERR) return false;
            continue;
        }
        ThrowErrno("writing to", err);
    }
    return true;
}

Sink::WriteResult StdoutSink::Write(const Batch &batch) {
    if (!opened_ || closed_) {
        throw SinkError("stdout",
                        "the stdout sink was written to while not open (a bug in "
                        "cdcctl; please report it)");
    }
    if (reader_gone_) return WriteResult::kClosed;

    buf_.clear();
    for (const ChangeEvent &event : batch) {
        encode_(event, &buf_);
        buf_.push_back('\n');
    }
    if (!WriteBuffer()) {
        reader_gone_ = true;
        return WriteResult::kClosed;
    }
    written_seq_ = batch.seq;
    switch (target_) {
        case Target::kSyncedFile:
            break;  // durable after Flush's fdatasync
        case Target::kPipe:
            pending_.push_back({bytes_written_, batch.seq});
            UpdatePipeProgress();
            break;
        case Target::kWrittenIsDurable:
            durable_seq_ = batch.seq;
            break;
    }
    return WriteResult::kOk;
}

void StdoutSink::UpdatePipeProgress() {
    if (pending_.empty()) return;
    int queued = 0;
    if (::ioctl(fd_, FIONREAD, &queued) != 0) {
        ThrowErrno("asking how much the reader has consumed of", errno);
    }
    uint64_t unread =
        std::min<uint64_t>(static_cast<uint64_t>(std::max(queued, 0)), bytes_written_);
    uint64_t consumed = bytes_written_ - unread;
    while (!pending_.empty() && pending_.front().end <= consumed) {
        durable_seq_ = pending_.front().seq;
        pending_.pop_front();
    }
}

void StdoutSink::Flush(std::chrono::milliseconds max_wait) {
    if (!opened_) return;
    if (target_ == Target::kSyncedFile) {
        if (written_seq_ == durable_seq_) return;
        int rc;
        do {
            rc = ::fdatasync(fd_);
        } while (rc != 0 && errno == EINTR);
        if (rc != 0) ThrowErrno("syncing", errno);
        durable_seq_ = written_seq_;
        return;
    }
    if (target_ != Target::kPipe) return;

    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    for (;;) {
        UpdatePipeProgress();
        if (pending_.empty() || reader_gone_) return;
        // Rounded up, so that Flush waits the whole max_wait rather than up to 1 ms less.
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
        if (left <= std::chrono::milliseconds::zero()) return;
        // No events asked for: poll only reports POLLERR, which a pipe's write end gets once
        // every reader has closed. Otherwise it is a short sleep.
        pollfd pfd{fd_, 0, 0};
        int timeout = static_cast<int>(std::min(left, kPipePollInterval).count());
        if (::poll(&pfd, 1, timeout) < 0) {
            if (errno == EINTR) continue;
            ThrowErrno("waiting for the reader of", errno);
        }
        if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
            reader_gone_ = true;
            UpdatePipeProgress();  // what it read before leaving still counts
            return;
        }
    }
}

uint64_t StdoutSink::DurableSeq() {
    if (opened_ && target_ == Target::kPipe) UpdatePipeProgress();
    return durable_seq_;
}

void StdoutSink::Close() {
    closed_ = true;
}

std::unique_ptr<Sink> MakeStdoutSink(const StdoutSinkConfig &cfg, const SinkContext &ctx) {
    EnvelopeEncoderConfig opts;
    opts.format = cfg.format == StdoutFormat::kRow ? EventFormat::kRow : EventFormat::kEnvelope;
    opts.schemas = cfg.schemas;
    opts.topic_prefix = ctx.topic_prefix;
    opts.source_block = ctx.source_block;
    auto encoder = std::make_shared<EnvelopeEncoder>(opts);
    return std::make_unique<StdoutSink>(
        cfg, [encoder](const ChangeEvent &e, std::string *out) { encoder->Encode(e, out); });
}

}  // namespace cdcctl
