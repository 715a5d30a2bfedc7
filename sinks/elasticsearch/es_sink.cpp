// The Elasticsearch sink: wires the parts together. Write encodes events into _bulk requests
// (bulk_request.h) on the pipeline's thread, after making sure their index exists
// (index_manager.h); the BulkSender sends them from its I/O thread and says which batches are
// durable (bulk_sender.h); setup requests go to the nodes in turn (node_set.h); documents the
// cluster rejects for good may go to the dead-letter file (dead_letter.h).
#include "sinks/elasticsearch/es_sink.h"

#include <string_view>

#include "core/error.h"
#include "core/json/json_writer.h"
#include "core/runtime/log.h"
#include "sinks/elasticsearch/bulk_request.h"
#include "sinks/elasticsearch/bulk_sender.h"
#include "sinks/elasticsearch/dead_letter.h"
#include "sinks/elasticsearch/index_manager.h"
#include "sinks/elasticsearch/node_set.h"

namespace cdcctl {
namespace {

constexpr const char *kComponent = "elasticsearch";

class ElasticsearchSink : public Sink {
public:
    ElasticsearchSink(const ElasticsearchSinkConfig &cfg, const SinkContext &ctx)
        : cfg_(cfg),
          ctx_(ctx),
          encoder_([&] {
              es::BulkEncoderConfig e;
              e.document = cfg.document;
              e.id = cfg.id;
              e.on_delete = cfg.on_delete;
              e.index = cfg.index;
              e.topic_prefix = ctx.topic_prefix;
              e.source_block = ctx.source_block;
              return e;
          }()),
          assembler_(static_cast<size_t>(cfg.bulk_max_bytes),
                     static_cast<size_t>(cfg.bulk_max_docs)),
          sender_(cfg_, assembler_, &dead_letter_) {}

    // The I/O thread stops before the dead-letter file it writes to closes.
    ~ElasticsearchSink() override { sender_.Stop(); }

    void Open() override {
        if (cfg_.insecure) {
            log::Warn(kComponent,
                      "TLS certificate and host name verification is off (insecure: true); "
                      "anyone between cdcctl and the cluster can read and change the data. "
                      "Use 'ca_file' instead outside tests.");
        }
        if (!cfg_.user.empty() && !cfg_.password.empty()) {
            // The Authorization header is never logged, but make sure its value could not leak.
            std::string basic;
            json::AppendBase64(&basic, cfg_.user + ":" + cfg_.password.value);
            log::AddSecret(std::string_view(basic).substr(1, basic.size() - 2));
        }
        setup_ = std::make_unique<es::SetupClient>(cfg_);
        setup_->Connect();
        indices_ = std::make_unique<es::IndexManager>(cfg_, encoder_, *setup_);
        if (cfg_.on_malformed == EsOnMalformed::kDeadLetter)
            dead_letter_.Open(cfg_.dead_letter_path);
        sender_.Start();
    }

    WriteResult Write(const Batch &batch) override {
        sender_.CheckFatal();
        sender_.BeginBatch(batch.seq);
        for (const ChangeEvent &event : batch) {
            if (event.table == nullptr) {
                throw SinkError(kComponent,
                                "a change event reached the sink without a table schema (a bug "
                                "in cdcctl)");
            }
            indices_->Ensure(event.table);
            assembler_.Add(encoder_, event, batch.seq, &sealed_);
            if (!sealed_.empty()) sender_.Push(&sealed_);
        }
        sender_.EndBatch(batch.seq);
        return WriteResult::kOk;
    }

    void Flush(std::chrono::milliseconds max_wait) override {
        sender_.CheckFatal();
        PushOpen();
        sender_.WaitIdle(max_wait);
    }

    void Drain() override { PushOpen(); }

    uint64_t DurableSeq() override { return sender_.DurableSeq(); }

    void Close() override { sender_.Stop(); }

private:
    // Sends the request being filled, if it holds anything.
    void PushOpen() {
        if (auto open = assembler_.TakeOpen()) {
            sealed_.push_back(std::move(open));
            sender_.Push(&sealed_);
        }
    }

    ElasticsearchSinkConfig cfg_;
    SinkContext ctx_;
    es::BulkEncoder encoder_;
    es::BulkAssembler assembler_;
    std::vector<std::unique_ptr<es::BulkRequest>> sealed_;
    std::unique_ptr<es::SetupClient> setup_;     // from Open on
    std::unique_ptr<es::IndexManager> indices_;  // from Open on
    es::DeadLetterFile dead_letter_;
    es::BulkSender sender_;
};

}  // namespace

std::unique_ptr<Sink> MakeElasticsearchSink(const ElasticsearchSinkConfig &cfg,
                                            const SinkContext &ctx) {
    return std::make_unique<ElasticsearchSink>(cfg, ctx);
}

}  // namespace cdcctl
