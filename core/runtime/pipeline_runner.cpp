#include "core/runtime/pipeline_runner.h"

#include <pthread.h>

#include <csignal>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <optional>
#include <mutex>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/runtime/log.h"
#include "core/runtime/signals.h"
#include "core/state/state_store.h"

namespace cdcctl {
namespace {

using Clock = std::chrono::steady_clock;

// Tracks checkpoints waiting for the sink, and saves/confirms them in order.
class Acknowledger {
public:
    using ConfirmFn = std::function<void(const Offset &)>;
    Acknowledger(ConfirmFn confirm, Sink &sink, StateStore &store, PipelineState base,
                 std::chrono::milliseconds save_interval)
        : confirm_(std::move(confirm)), sink_(sink), store_(store), state_(std::move(base)),
          save_interval_(save_interval) {}

    void SetConfirm(ConfirmFn confirm) { confirm_ = std::move(confirm); }

    void Track(uint64_t seq, Offset offset) { pending_.emplace_back(seq, std::move(offset)); }

    // Confirm everything the sink holds durably. `force`: save now even if saved recently.
    void Advance(bool force) {
        uint64_t durable = sink_.DurableSeq();
        while (!pending_.empty() && pending_.front().first <= durable) {
            ready_ = std::move(pending_.front().second);
            has_ready_ = true;
            pending_.pop_front();
        }
        if (!has_ready_) return;
        auto now = Clock::now();
        if (!force && now - last_save_ < save_interval_) return;
        state_.offset = ready_;
        store_.Save(state_);  // the state file first: the server never gets ahead of it
        confirm_(ready_);
        has_ready_ = false;
        last_save_ = now;
    }

    bool HasPending() const { return !pending_.empty(); }
    // True when a save is due: something waits for the sink and the last save is old enough.
    // Making the sink durable (an fdatasync for a file) only then keeps it off the hot path.
    bool SaveDue() const {
        return (!pending_.empty() || has_ready_) && Clock::now() - last_save_ >= save_interval_;
    }

private:
    ConfirmFn confirm_;
    Sink &sink_;
    StateStore &store_;
    PipelineState state_;
    std::chrono::milliseconds save_interval_;
    std::deque<std::pair<uint64_t, Offset>> pending_;
    Offset ready_;
    bool has_ready_ = false;
    Clock::time_point last_save_{};
};

// Batches travel from the source thread to the sink thread through a small pool, so that reading
// and decoding overlap with encoding and writing on two cores; confirmed offsets travel back. The
// source is only ever touched by its own thread while both run (libpq connections are not
// thread-safe).
class Handoff {
public:
    explicit Handoff(size_t depth) {
        for (size_t i = 0; i < depth; ++i) free_.push_back(std::make_unique<Batch>());
    }

    // Source side.
    std::unique_ptr<Batch> TakeFree(std::chrono::milliseconds wait) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, wait, [&] { return !free_.empty() || cancelled_; });
        if (free_.empty() || cancelled_) return nullptr;
        auto b = std::move(free_.back());
        free_.pop_back();
        return b;
    }
    void PushFull(std::unique_ptr<Batch> b) {
        std::lock_guard lock(mu_);
        full_.push_back(std::move(b));
        cv_.notify_all();
    }
    void Finish(std::exception_ptr error, bool interrupted) {
        std::lock_guard lock(mu_);
        finished_ = true;
        error_ = std::move(error);
        interrupted_ = interrupted;
        cv_.notify_all();
    }
    std::optional<Offset> TakeConfirm() {
        std::lock_guard lock(mu_);
        std::optional<Offset> c = std::move(confirm_);
        confirm_.reset();
        return c;
    }
    bool Cancelled() {
        std::lock_guard lock(mu_);
        return cancelled_;
    }

    // Sink side. Returns nullptr on timeout, or when the source has finished and nothing is left.
    std::unique_ptr<Batch> PopFull(std::chrono::milliseconds wait, bool *finished) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, wait, [&] { return !full_.empty() || finished_; });
        *finished = finished_ && full_.empty();
        if (full_.empty()) return nullptr;
        auto b = std::move(full_.front());
        full_.pop_front();
        return b;
    }
    void GiveBack(std::unique_ptr<Batch> b) {
        std::lock_guard lock(mu_);
        free_.push_back(std::move(b));
        cv_.notify_all();
    }
    void PostConfirm(const Offset &offset) {
        std::lock_guard lock(mu_);
        confirm_ = offset;
    }
    void Cancel() {
        std::lock_guard lock(mu_);
        cancelled_ = true;
        cv_.notify_all();
    }
    std::exception_ptr Error() {
        std::lock_guard lock(mu_);
        return error_;
    }
    bool Interrupted() {
        std::lock_guard lock(mu_);
        return interrupted_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Batch>> free_;
    std::deque<std::unique_ptr<Batch>> full_;
    std::optional<Offset> confirm_;
    std::exception_ptr error_;
    bool finished_ = false;
    bool cancelled_ = false;
    bool interrupted_ = false;
};

// The source thread: poll until done, stopped or cancelled, applying confirmations between polls.
void ProduceBatches(Source &source, Handoff &handoff, const RunOptions &options) {
    // SIGINT/SIGTERM go to the main thread, where they interrupt a write blocked on a stalled
    // reader; this thread sees the request through the flag.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    bool interrupted = false;
    try {
        bool more = true;
        while (more && !handoff.Cancelled()) {
            if (auto c = handoff.TakeConfirm()) source.Confirm(*c);
            if (signals::AbortRequested() || (signals::StopRequested() && source.AtBoundary())) {
                interrupted = true;
                break;
            }
            std::unique_ptr<Batch> batch = handoff.TakeFree(options.poll_wait);
            if (!batch) {
                source.Idle();  // the sink is behind: keep the server connection alive
                continue;
            }
            batch->Clear();
            more = source.Poll(*batch, options.max_batch_events, Clock::now() + options.poll_wait);
            if (!batch->empty() || batch->checkpoint) {
                handoff.PushFull(std::move(batch));
            } else {
                handoff.GiveBack(std::move(batch));
                source.Idle();
            }
        }
        if (auto c = handoff.TakeConfirm()) source.Confirm(*c);
        handoff.Finish(nullptr, interrupted);
    } catch (...) {
        handoff.Finish(std::current_exception(), interrupted);
    }
}

}  // namespace

std::string_view PipelineModeName(PipelineMode mode) {
    return mode == PipelineMode::kSync ? "sync" : "cdc";
}

void CheckStateBelongsTo(const PipelineState &stored, const RunIdentity &identity,
                         const std::string &path) {
    const std::string_view mode = PipelineModeName(identity.mode);
    if (stored.pipeline == identity.pipeline && stored.source_type == identity.source_type &&
        stored.mode == mode) {
        return;
    }
    throw StateError("state", "state file '" + path + "' belongs to pipeline '" + stored.pipeline +
                                  "' (" + stored.source_type + ", " + stored.mode + " mode), not '" +
                                  identity.pipeline + "' (" + identity.source_type + ", " +
                                  std::string(mode) +
                                  " mode); point 'state:' at another file, or run 'cdcctl reset'");
}

RunSummary RunLoop(Source &source, std::vector<std::unique_ptr<Transform>> &transforms, Sink &sink,
                   StateStore &store, const RunIdentity &identity, const RunOptions &options) {
    RunSummary summary;
    PipelineState state;
    state.pipeline = identity.pipeline;
    state.source_type = identity.source_type;
    state.mode = std::string(PipelineModeName(identity.mode));
    if (auto stored = store.Load()) {
        CheckStateBelongsTo(*stored, identity, store.path());
        state.offset = stored->offset;
    }

    sink.Open();
    source.Open(state.offset);

    Handoff handoff(3);
    // While the source thread runs, confirmations are posted to it; afterwards they go directly.
    Acknowledger ack([&](const Offset &o) { handoff.PostConfirm(o); }, sink, store, state,
                     options.state_save_interval);
    std::thread producer(ProduceBatches, std::ref(source), std::ref(handoff), std::cref(options));
    struct Joiner {
        Handoff &h;
        std::thread &t;
        ~Joiner() {
            h.Cancel();
            if (t.joinable()) t.join();
        }
    } joiner{handoff, producer};

    uint64_t seq = 0;
    while (true) {
        bool finished = false;
        std::unique_ptr<Batch> batch = handoff.PopFull(options.poll_wait, &finished);
        if (batch) {
            for (auto &t : transforms) t->Apply(*batch);
            batch->seq = ++seq;
            Sink::WriteResult result = sink.Write(*batch);
            if (result == Sink::WriteResult::kClosed) {
                log::Info("runtime", "The reader of the output went away; stopping. Events it did "
                                     "not read will be sent again on the next run.");
                summary.sink_closed = true;
                handoff.GiveBack(std::move(batch));
                break;
            }
            summary.events += batch->size();
            if (batch->checkpoint) ack.Track(batch->seq, *batch->checkpoint);
            handoff.GiveBack(std::move(batch));
        } else if (finished) {
            break;
        }
        if (ack.SaveDue()) {
            sink.Flush(std::chrono::milliseconds(0));
            ack.Advance(false);
        }
    }
    handoff.Cancel();
    producer.join();
    summary.interrupted = handoff.Interrupted();
    std::exception_ptr error = handoff.Error();
    ack.SetConfirm([&](const Offset &o) {
        if (!error) {
            source.Confirm(o);
            return;
        }
        // The source failed and its connection may be gone: confirming is worth a try, but the
        // failure that ended the run is the one to report, not this one.
        try {
            source.Confirm(o);
        } catch (const Error &) {
        }
    });
    // A confirmation posted after the source thread's last look still goes to the server.
    if (auto c = handoff.TakeConfirm(); c && !error) source.Confirm(*c);

    // Give the sink a bounded time to make the tail durable, then confirm what it holds.
    if (!summary.sink_closed) {
        sink.Drain();
        for (int i = 0; i < 100 && ack.HasPending() && !signals::AbortRequested(); ++i) {
            sink.Flush(std::chrono::milliseconds(100));
            ack.Advance(false);
            if (sink.DurableSeq() >= seq) break;
        }
    }
    if (error) {
        // Save what is durable, but the source's connection may be gone: do not insist.
        try {
            ack.Advance(true);
        } catch (const Error &) {
        }
        std::rethrow_exception(error);
    }
    ack.Advance(true);
    source.Close();
    sink.Close();
    return summary;
}

}  // namespace cdcctl
