#include "core/runtime/pipeline_runner.h"

#include <deque>
#include <utility>

#include "core/error.h"
#include "core/runtime/log.h"
#include "core/runtime/registry.h"
#include "core/runtime/signals.h"
#include "core/state/run_lock.h"
#include "core/state/state_store.h"

namespace cdcctl {
namespace {

using Clock = std::chrono::steady_clock;

// Tracks checkpoints waiting for the sink, and saves/confirms them in order.
class Acknowledger {
public:
    Acknowledger(Source &source, Sink &sink, StateStore &store, PipelineState base,
                 std::chrono::milliseconds save_interval)
        : source_(source), sink_(sink), store_(store), state_(std::move(base)),
          save_interval_(save_interval) {}

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
        source_.Confirm(ready_);
        has_ready_ = false;
        last_save_ = now;
    }

    bool HasPending() const { return !pending_.empty(); }

private:
    Source &source_;
    Sink &sink_;
    StateStore &store_;
    PipelineState state_;
    std::chrono::milliseconds save_interval_;
    std::deque<std::pair<uint64_t, Offset>> pending_;
    Offset ready_;
    bool has_ready_ = false;
    Clock::time_point last_save_{};
};

std::string_view SourceTypeName(const PipelineConfig &config) {
    return std::visit([](const auto &s) { return SourceTypeOf(s); }, config.source);
}

}  // namespace

RunSummary RunLoop(Source &source, std::vector<std::unique_ptr<Transform>> &transforms, Sink &sink,
                   StateStore &store, const PipelineConfig &config, const RunOptions &options) {
    RunSummary summary;
    PipelineState state;
    state.pipeline = config.name;
    state.source_type = std::string(SourceTypeName(config));
    if (auto stored = store.Load()) {
        if (stored->pipeline != config.name || stored->source_type != state.source_type) {
            throw StateError("state", "state file '" + store.path() + "' belongs to pipeline '" +
                                          stored->pipeline + "' (" + stored->source_type +
                                          "), not '" + config.name + "' (" + state.source_type +
                                          "); point 'state:' at another file, or run 'cdcctl reset'");
        }
        state.offset = stored->offset;
    }

    sink.Open();
    source.Open(state.offset);
    // The source may have established a position before the first event (a new slot): it hands
    // that back through the first checkpoint, which the acknowledger saves like any other.
    Acknowledger ack(source, sink, store, state, options.state_save_interval);

    Batch batch;
    uint64_t seq = 0;
    bool more = true;
    while (more) {
        if (signals::AbortRequested()) {
            summary.interrupted = true;
            break;
        }
        if (signals::StopRequested() && source.AtBoundary()) {
            summary.interrupted = true;
            break;
        }
        batch.Clear();
        more = source.Poll(batch, options.max_batch_events, Clock::now() + options.poll_wait);
        if (!batch.empty() || batch.checkpoint) {
            for (auto &t : transforms) t->Apply(batch);
            batch.seq = ++seq;
            if (sink.Write(batch) == Sink::WriteResult::kClosed) {
                log::Info("runtime", "The reader of the output went away; stopping. Events it did "
                                     "not read will be sent again on the next run.");
                summary.sink_closed = true;
                break;
            }
            summary.events += batch.size();
            if (batch.checkpoint) ack.Track(batch.seq, *batch.checkpoint);
        }
        sink.Flush(std::chrono::milliseconds(0));
        ack.Advance(false);
        if (!batch.empty() || !more) continue;
        source.Idle();
    }
    // Give the sink a bounded time to make the tail durable, then confirm what it holds.
    if (!summary.sink_closed) {
        for (int i = 0; i < 100 && ack.HasPending() && !signals::AbortRequested(); ++i) {
            sink.Flush(std::chrono::milliseconds(100));
            ack.Advance(false);
            if (sink.DurableSeq() >= seq) break;
        }
    }
    ack.Advance(true);
    source.Close();
    sink.Close();
    return summary;
}

RunSummary RunPipeline(const PipelineConfig &config, const RunOptions &options) {
    RunLock lock = RunLock::Acquire(config.state_path, config.name);
    StateStore store(config.state_path, config.file);
    std::unique_ptr<Source> source = MakeSource(config, options.once);
    std::vector<std::unique_ptr<Transform>> transforms = MakeTransforms(config);
    std::unique_ptr<Sink> sink = MakeSink(config);
    return RunLoop(*source, transforms, *sink, store, config, options);
}

}  // namespace cdcctl
