// RunLoop's reliability model, driven by a scripted source and a sink whose durability the test
// controls: a position is saved before the source confirms it, nothing is saved or confirmed past
// what the sink holds durably, failures propagate as themselves, a stop waits for a boundary, and
// EPIPE ends the run cleanly.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/event/change_event.h"
#include "core/runtime/pipeline_runner.h"
#include "core/runtime/signals.h"
#include "core/runtime/source.h"
#include "core/state/state_store.h"
#include "tests/unit/temp_dir.h"

using namespace cdcctl;
using cdcctl::unit::TempDir;
using namespace std::chrono_literals;

namespace {

// Long enough for a loaded 2-core machine; a passing test never waits this long.
constexpr std::chrono::seconds kTimeout{20};

// Polls `condition` until it holds or kTimeout passes.
bool WaitUntil(const std::function<bool()> &condition) {
    auto until = std::chrono::steady_clock::now() + kTimeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

// The fake source's checkpoints are {"pos": "N"}; -1: no position.
int Pos(const Offset &offset) {
    auto it = offset.find("pos");
    return it == offset.end() ? -1 : std::stoi(it->second);
}

// The position in the state file; -1: no state file.
int SavedPos(StateStore &store) {
    std::optional<PipelineState> state = store.Load();
    return state ? Pos(state->offset) : -1;
}

TableSchemaPtr ItemsTable() {
    auto table = std::make_shared<TableSchema>();
    table->topic = "fake.public.items";
    table->database = "fake";
    table->schema = "public";
    table->table = "items";
    FieldSchema id;
    id.name = "id";
    id.type = FieldType::kInt64;
    id.optional = false;
    FieldSchema name;
    name.name = "name";
    name.type = FieldType::kString;
    table->columns = {id, name};
    table->key = {0};
    table->version = 1;
    return table;
}

// What the fake source does on one Poll.
struct Step {
    enum class Kind { kEvents, kHold, kFail };
    Kind kind = Kind::kEvents;
    int events = 0;
    std::string pos;  // kEvents: the batch's checkpoint; empty: none (inside a transaction)
    bool at_boundary = true;
    std::exception_ptr error;  // kFail
};

// `n` events; a checkpoint at `pos` ends at a boundary, no checkpoint is inside a transaction.
Step Events(int n, std::string pos) {
    return {Step::Kind::kEvents, n, pos, !pos.empty(), nullptr};
}
// Nothing to give (each Poll waits out its deadline) until the test calls Release().
Step Hold(bool at_boundary) {
    return {Step::Kind::kHold, 0, "", at_boundary, nullptr};
}
template <typename E>
Step Fail(E error) {
    return {Step::Kind::kFail, 0, "", false, std::make_exception_ptr(std::move(error))};
}

class FakeSource : public Source {
public:
    // What Confirm was given, and the position the state file held at that moment.
    struct Confirmation {
        int pos;
        int saved_pos;
    };

    FakeSource(std::vector<Step> script, std::string state_path)
        : script_(std::move(script)), state_path_(std::move(state_path)), table_(ItemsTable()) {}

    void Open(const Offset &stored) override {
        std::lock_guard lock(mu_);
        opened_ = true;
        opened_with_ = stored;
    }

    bool Poll(Batch &batch, size_t max_events, Deadline deadline) override {
        std::unique_lock lock(mu_);
        ++polls_;
        if (next_ >= script_.size()) return false;  // the script is done: so is the run
        const Step &step = script_[next_];
        at_boundary_ = step.at_boundary;
        switch (step.kind) {
            case Step::Kind::kEvents:
                for (int i = 0; i < step.events; ++i) {
                    ChangeEvent &e = batch.Add();
                    int64_t id = ++last_id_;
                    e.op = Op::kCreate;
                    e.table = table_;
                    e.has_after = true;
                    e.after.resize(2);
                    e.after[0].SetInt(id);
                    e.after[1].SetString("item-" + std::to_string(id));
                }
                if (!step.pos.empty()) batch.checkpoint = Offset{{"pos", step.pos}};
                ++next_;
                return true;
            case Step::Kind::kHold:
                holding_ = true;
                if (cv_.wait_until(lock, deadline,
                                   [&] { return release_all_ || holds_passed_ < releases_; })) {
                    ++holds_passed_;
                    holding_ = false;
                    ++next_;
                }
                return true;
            case Step::Kind::kFail:
                failed_ = true;
                ++next_;
                std::rethrow_exception(step.error);
        }
        return false;
    }

    void Confirm(const Offset &offset) override {
        std::lock_guard lock(mu_);
        StateStore store(state_path_);
        confirmations_.push_back({Pos(offset), SavedPos(store)});
        // Like a real source whose connection broke: nothing more can be sent to the server.
        if (failed_) throw ConnectError("fake", "cannot confirm: the connection is gone");
    }

    bool AtBoundary() const override {
        std::lock_guard lock(mu_);
        return at_boundary_;
    }

    void Close() override {
        std::lock_guard lock(mu_);
        closed_ = true;
    }

    // Let the current (or next) Hold step pass.
    void Release() {
        std::lock_guard lock(mu_);
        ++releases_;
        cv_.notify_all();
    }
    // Let every Hold step pass, so that a run a failed test left behind can end.
    void ReleaseAll() {
        std::lock_guard lock(mu_);
        release_all_ = true;
        cv_.notify_all();
    }

    bool Opened() const {
        std::lock_guard lock(mu_);
        return opened_;
    }
    Offset OpenedWith() const {
        std::lock_guard lock(mu_);
        return opened_with_;
    }
    bool Closed() const {
        std::lock_guard lock(mu_);
        return closed_;
    }
    int Polls() const {
        std::lock_guard lock(mu_);
        return polls_;
    }
    bool Holding() const {
        std::lock_guard lock(mu_);
        return holding_;
    }
    std::vector<Confirmation> Confirmations() const {
        std::lock_guard lock(mu_);
        return confirmations_;
    }
    int LastConfirmed() const {
        std::lock_guard lock(mu_);
        return confirmations_.empty() ? -1 : confirmations_.back().pos;
    }
    int MaxConfirmed() const {
        std::lock_guard lock(mu_);
        int max = -1;
        for (const Confirmation &c : confirmations_) max = std::max(max, c.pos);
        return max;
    }

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Step> script_;
    std::string state_path_;
    TableSchemaPtr table_;
    size_t next_ = 0;
    int64_t last_id_ = 0;
    bool at_boundary_ = true;
    bool holding_ = false;
    int releases_ = 0;
    int holds_passed_ = 0;
    bool release_all_ = false;
    bool failed_ = false;
    bool opened_ = false;
    bool closed_ = false;
    Offset opened_with_;
    int polls_ = 0;
    std::vector<Confirmation> confirmations_;
};

// A sink that accepts batches and reports them durable up to a limit the test sets.
class FakeSink : public Sink {
public:
    struct Written {
        int64_t id;
        std::string name;
    };
    static constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();

    void Open() override {
        std::lock_guard lock(mu_);
        opened_ = true;
    }

    WriteResult Write(const Batch &batch) override {
        std::lock_guard lock(mu_);
        ++writes_;
        if (writes_ == fail_at_write_) {
            throw SinkError("fake-sink", "disk full; free some space and run again");
        }
        if (writes_ == closed_at_write_) return WriteResult::kClosed;
        for (const ChangeEvent &e : batch) {
            events_.push_back({e.after[0].as_int(), std::string(e.after[1].as_string())});
        }
        accepted_seq_ = batch.seq;
        ++accepted_batches_;
        durable_asks_since_write_ = 0;
        return WriteResult::kOk;
    }

    void Flush(std::chrono::milliseconds) override {}

    void Drain() override {
        std::lock_guard lock(mu_);
        drained_ = true;
        if (durable_on_drain_) durable_limit_ = kAll;
    }

    uint64_t DurableSeq() override {
        std::lock_guard lock(mu_);
        ++durable_asks_since_write_;
        return std::min(accepted_seq_, durable_limit_);
    }

    void Close() override {
        std::lock_guard lock(mu_);
        closed_ = true;
    }

    // Batches with a higher seq are accepted but not durable.
    void HoldDurableAt(uint64_t seq) {
        std::lock_guard lock(mu_);
        durable_limit_ = seq;
    }
    // Everything becomes durable when the run ends (a sink that completes its file on Drain).
    void DurableOnDrain() {
        std::lock_guard lock(mu_);
        durable_on_drain_ = true;
    }
    void FailAtWrite(int n) { fail_at_write_ = n; }
    void CloseAtWrite(int n) { closed_at_write_ = n; }  // the reader goes away (EPIPE)

    bool Opened() const {
        std::lock_guard lock(mu_);
        return opened_;
    }
    bool Drained() const {
        std::lock_guard lock(mu_);
        return drained_;
    }
    int AcceptedBatches() const {
        std::lock_guard lock(mu_);
        return accepted_batches_;
    }
    // How often the runtime asked for DurableSeq since the last accepted batch: two asks mean
    // that one whole acknowledgement pass ran after it.
    int DurableAsksSinceWrite() const {
        std::lock_guard lock(mu_);
        return durable_asks_since_write_;
    }
    std::vector<Written> Events() const {
        std::lock_guard lock(mu_);
        return events_;
    }
    std::vector<int64_t> Ids() const {
        std::lock_guard lock(mu_);
        std::vector<int64_t> ids;
        for (const Written &w : events_) ids.push_back(w.id);
        return ids;
    }

private:
    mutable std::mutex mu_;
    int writes_ = 0;
    int fail_at_write_ = 0;
    int closed_at_write_ = 0;
    uint64_t accepted_seq_ = 0;
    int accepted_batches_ = 0;
    uint64_t durable_limit_ = kAll;
    bool durable_on_drain_ = false;
    int durable_asks_since_write_ = 0;
    bool opened_ = false;
    bool drained_ = false;
    bool closed_ = false;
    std::vector<Written> events_;
};

// One pipeline's surroundings: a temp state file, its identity, and options that save at once.
struct Rig {
    TempDir tmp;
    StateStore store{tmp.Path("shop.state")};
    RunIdentity identity{"shop", "fake", PipelineMode::kCdc};
    RunOptions options;
    std::vector<std::unique_ptr<Transform>> transforms;

    Rig() {
        signals::Reset();
        options.poll_wait = 20ms;
        options.state_save_interval = 0ms;
    }
    ~Rig() { signals::Reset(); }

    FakeSource Source(std::vector<Step> script) {
        return FakeSource(std::move(script), store.path());
    }
    RunSummary Run(FakeSource &source, FakeSink &sink) {
        return RunLoop(source, transforms, sink, store, identity, options);
    }
    int Saved() { return SavedPos(store); }
};

// RunLoop on another thread, so that the test can watch it and step it. A test that fails half
// way releases the source, so the run still ends.
class BackgroundRun {
public:
    BackgroundRun(Rig &rig, FakeSource &source, FakeSink &sink) : source_(source) {
        result_ = std::async(std::launch::async,
                             [&rig, &source, &sink] { return rig.Run(source, sink); });
    }
    ~BackgroundRun() {
        source_.ReleaseAll();
        if (result_.valid()) result_.wait();
    }
    bool Ended() { return result_.wait_for(0s) == std::future_status::ready; }
    // The summary of a run that ends by itself within the timeout.
    RunSummary Summary() {
        REQUIRE(result_.wait_for(kTimeout) == std::future_status::ready);
        return result_.get();
    }

private:
    FakeSource &source_;
    std::future<RunSummary> result_;
};

// Appends `suffix` to every event's name.
class Rename : public Transform {
public:
    explicit Rename(std::string suffix) : suffix_(std::move(suffix)) {}
    void Apply(Batch &batch) override {
        for (ChangeEvent &e : batch) e.after[1].mutable_str() += suffix_;
    }

private:
    std::string suffix_;
};

// Drops the events with the given ids by compacting the batch, then renames the rest.
class DropAndRename : public Transform {
public:
    DropAndRename(std::set<int64_t> drop, std::string suffix)
        : drop_(std::move(drop)), suffix_(std::move(suffix)) {}
    void Apply(Batch &batch) override {
        size_t kept = 0;
        for (size_t i = 0; i < batch.size(); ++i) {
            if (drop_.count(batch[i].after[0].as_int())) continue;
            if (i != kept) std::swap(batch[kept], batch[i]);
            batch[kept].after[1].mutable_str() += suffix_;
            ++kept;
        }
        while (batch.size() > kept) batch.PopBack();
    }

private:
    std::set<int64_t> drop_;
    std::string suffix_;
};

}  // namespace

TEST_CASE("the state file holds a position before the source is told to confirm it") {
    Rig rig;
    FakeSource source = rig.Source(
        {Events(2, "1"), Events(2, "2"), Events(2, "3"), Events(1, "4"), Events(1, "5")});
    FakeSink sink;
    // Batches 1-3 are confirmed while streaming (through the source thread), 4 and 5 when the run
    // ends (directly): both paths must save first.
    sink.HoldDurableAt(3);
    sink.DurableOnDrain();

    RunSummary summary = rig.Run(source, sink);

    CHECK(summary.events == 8);
    std::vector<FakeSource::Confirmation> confirmations = source.Confirmations();
    REQUIRE_FALSE(confirmations.empty());
    int previous = -1;
    for (const FakeSource::Confirmation &c : confirmations) {
        INFO("confirmed pos " << c.pos << " while the state file held pos " << c.saved_pos);
        CHECK(c.saved_pos >= c.pos);
        CHECK(c.pos > previous);
        previous = c.pos;
    }
    CHECK(confirmations.back().pos == 5);
    CHECK(rig.Saved() == 5);
}

TEST_CASE("nothing is saved or confirmed past the batch the sink holds durably") {
    Rig rig;
    FakeSource source = rig.Source({Events(1, "1"), Events(1, "2"), Events(1, "3"), Events(1, "4"),
                                    Hold(true), Events(1, "5")});
    FakeSink sink;
    sink.HoldDurableAt(2);
    BackgroundRun run(rig, source, sink);

    // All four batches written, and a whole acknowledgement pass since (or, were 3 and 4 taken
    // for durable, a save of them): 3 and 4 are not durable.
    REQUIRE(WaitUntil([&] {
        return sink.AcceptedBatches() == 4 &&
               (sink.DurableAsksSinceWrite() >= 2 || rig.Saved() > 2);
    }));
    REQUIRE(WaitUntil([&] { return source.LastConfirmed() >= 2; }));
    CHECK(rig.Saved() == 2);
    CHECK(source.MaxConfirmed() == 2);

    // The sink catches up: the later checkpoint is saved and confirmed.
    sink.HoldDurableAt(4);
    REQUIRE(WaitUntil([&] { return source.LastConfirmed() == 4; }));
    CHECK(rig.Saved() == 4);

    // Batch 5 is written but never becomes durable before the run ends.
    source.Release();
    RunSummary summary = run.Summary();
    CHECK(summary.events == 5);
    CHECK(rig.Saved() == 4);
    CHECK(source.MaxConfirmed() == 4);
}

TEST_CASE("a sink failure ends the run with that error, saving only what was durable before it") {
    Rig rig;
    FakeSource source =
        rig.Source({Events(1, "1"), Events(1, "2"), Events(1, "3"), Events(1, "4")});
    FakeSink sink;
    sink.HoldDurableAt(1);
    sink.FailAtWrite(3);

    std::string message;
    std::string component;
    try {
        rig.Run(source, sink);
    } catch (const SinkError &e) {
        message = e.what();
        component = e.Component();
    }

    CHECK(message == "disk full; free some space and run again");
    CHECK(component == "fake-sink");
    CHECK(rig.Saved() == 1);
    CHECK(source.MaxConfirmed() <= 1);
    CHECK(sink.Ids() == std::vector<int64_t>{1, 2});
    CHECK_FALSE(sink.Drained());  // Drain is not called once Write threw
}

TEST_CASE("a source failure ends the run with that error, saving what the sink made durable") {
    Rig rig;
    FakeSource source = rig.Source({Events(2, "1"), Events(2, "2"),
                                    Fail(ConnectError("fake", "lost the connection to the server")),
                                    Events(1, "3")});
    FakeSink sink;
    // The tail becomes durable only when the run ends, after the failure; the broken source then
    // refuses to confirm, which must not hide the failure that ended the run.
    sink.HoldDurableAt(0);
    sink.DurableOnDrain();

    std::string message;
    try {
        rig.Run(source, sink);
    } catch (const ConnectError &e) {
        message = e.what();
    }

    CHECK(message == "lost the connection to the server");
    CHECK(sink.Ids() == std::vector<int64_t>{1, 2, 3, 4});
    CHECK(sink.Drained());
    CHECK(rig.Saved() == 2);
}

TEST_CASE("a stop requested at a boundary ends the run with the last checkpoint saved") {
    Rig rig;
    FakeSource source = rig.Source({Events(2, "1"), Events(2, "2"), Hold(true), Events(1, "3")});
    FakeSink sink;
    sink.HoldDurableAt(0);  // so the checkpoint is saved by the stop, not before it
    sink.DurableOnDrain();
    BackgroundRun run(rig, source, sink);

    REQUIRE(WaitUntil([&] { return sink.AcceptedBatches() == 2 && source.Holding(); }));
    CHECK(rig.Saved() == -1);
    signals::RequestStop();
    RunSummary summary = run.Summary();

    CHECK(summary.interrupted);
    CHECK_FALSE(summary.sink_closed);
    CHECK(summary.events == 4);
    CHECK(rig.Saved() == 2);
    CHECK(source.LastConfirmed() == 2);
    CHECK(sink.Ids() == std::vector<int64_t>{1, 2, 3, 4});
    CHECK(source.Closed());
}

TEST_CASE("a stop requested inside a transaction waits for the source to reach a boundary") {
    Rig rig;
    FakeSource source =
        rig.Source({Events(1, "1"), Events(1, ""), Hold(false), Events(1, "2"), Events(1, "3")});
    FakeSink sink;
    BackgroundRun run(rig, source, sink);

    REQUIRE(WaitUntil([&] { return sink.AcceptedBatches() == 2 && source.Holding(); }));
    signals::RequestStop();
    // Not at a boundary: the run keeps polling the source.
    int polls = source.Polls();
    REQUIRE(WaitUntil([&] { return source.Polls() >= polls + 2 || run.Ended(); }));
    CHECK_FALSE(run.Ended());

    source.Release();  // the transaction ends with pos 2; pos 3 is never read
    RunSummary summary = run.Summary();

    CHECK(summary.interrupted);
    CHECK(summary.events == 3);
    CHECK(sink.Ids() == std::vector<int64_t>{1, 2, 3});
    CHECK(rig.Saved() == 2);
}

TEST_CASE("a reader that goes away (EPIPE) ends the run cleanly, saving nothing past durable") {
    Rig rig;
    FakeSource source =
        rig.Source({Events(1, "1"), Events(1, "2"), Events(1, "3"), Events(1, "4")});
    FakeSink sink;
    sink.HoldDurableAt(1);
    sink.CloseAtWrite(3);

    RunSummary summary = rig.Run(source, sink);

    CHECK(summary.sink_closed);
    CHECK_FALSE(summary.interrupted);
    CHECK(summary.events == 2);
    CHECK(rig.Saved() == 1);
    CHECK(source.MaxConfirmed() == 1);
    CHECK(sink.Ids() == std::vector<int64_t>{1, 2});
}

TEST_CASE("the next run opens the source at the stored offset") {
    Rig rig;
    FakeSink sink;
    FakeSource first = rig.Source({Events(1, "1"), Events(1, "2")});
    rig.Run(first, sink);
    CHECK(first.Opened());
    CHECK(first.OpenedWith().empty());

    FakeSource second = rig.Source({Events(1, "3")});
    rig.Run(second, sink);
    CHECK(second.OpenedWith() == Offset{{"pos", "2"}});

    std::optional<PipelineState> state = rig.store.Load();
    REQUIRE(state.has_value());
    CHECK(state->pipeline == "shop");
    CHECK(state->source_type == "fake");
    CHECK(state->mode == "cdc");
    CHECK(state->offset == Offset{{"pos", "3"}});
}

TEST_CASE("a state saved by another pipeline, source type or mode is refused before opening") {
    Rig rig;
    PipelineState foreign;
    foreign.pipeline = "shop";
    foreign.source_type = "fake";
    foreign.mode = "cdc";
    foreign.offset = {{"pos", "7"}};
    std::string belongs;
    SUBCASE("another pipeline") {
        foreign.pipeline = "orders";
        belongs = "belongs to pipeline 'orders' (fake, cdc mode)";
    }
    SUBCASE("another source type") {
        foreign.source_type = "postgres";
        belongs = "belongs to pipeline 'shop' (postgres, cdc mode)";
    }
    SUBCASE("a sync state for a cdc run") {
        foreign.mode = "sync";
        belongs = "belongs to pipeline 'shop' (fake, sync mode)";
    }
    SUBCASE("a cdc state for a sync run") {
        rig.identity.mode = PipelineMode::kSync;
        belongs = "belongs to pipeline 'shop' (fake, cdc mode)";
    }
    rig.store.Save(foreign);
    FakeSource source = rig.Source({Events(1, "1")});
    FakeSink sink;

    std::string message;
    try {
        rig.Run(source, sink);
    } catch (const StateError &e) {
        message = e.what();
    }

    INFO(message);
    CHECK(message.find("'" + rig.store.path() + "'") != std::string::npos);
    CHECK(message.find(belongs) != std::string::npos);
    CHECK_FALSE(source.Opened());
    CHECK_FALSE(sink.Opened());
    std::optional<PipelineState> kept = rig.store.Load();
    REQUIRE(kept.has_value());
    CHECK(kept->pipeline == foreign.pipeline);
    CHECK(kept->mode == foreign.mode);
    CHECK(kept->offset == foreign.offset);
}

TEST_CASE("transforms run between source and sink, in order") {
    Rig rig;
    rig.transforms.push_back(std::make_unique<Rename>("|first"));
    rig.transforms.push_back(std::make_unique<DropAndRename>(std::set<int64_t>{2, 5}, "|second"));
    // Batch 3 (event 5) is emptied by the transform; its checkpoint still counts.
    FakeSource source = rig.Source({Events(2, "1"), Events(2, "2"), Events(1, "3")});
    FakeSink sink;

    RunSummary summary = rig.Run(source, sink);

    std::vector<FakeSink::Written> events = sink.Events();
    REQUIRE(events.size() == 3);
    CHECK(events[0].id == 1);
    CHECK(events[0].name == "item-1|first|second");
    CHECK(events[1].id == 3);
    CHECK(events[1].name == "item-3|first|second");
    CHECK(events[2].id == 4);
    CHECK(events[2].name == "item-4|first|second");
    CHECK(summary.events == 3);
    CHECK(rig.Saved() == 3);
}
