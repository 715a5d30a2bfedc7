#include "sinks/parquet/parquet_sink.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "core/error.h"
#include "core/event/temporal.h"
#include "core/runtime/log.h"
#include "core/util/int_math.h"
#include "sinks/parquet/part_file.h"
#include "sinks/parquet/row_layout.h"

namespace cdcctl {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A row group is also flushed at this many buffered bytes, so that wide rows cannot make
// row_group_rows rows a memory problem.
constexpr size_t kRowGroupMaxBytes = size_t{64} << 20;
// Every open file (one per table, and per day with partition_by: date) holds its row group in
// memory; past this sum over all of them the largest row groups are written out early.
constexpr size_t kSinkMaxBufferedBytes = size_t{256} << 20;
// How often (in rows) the byte limits are looked at within a batch.
constexpr int64_t kSizeCheckRows = 1024;

constexpr int64_t kMsPerDay = 86400000;

parquet::Codec CodecOf(ParquetCompression c) {
    switch (c) {
        case ParquetCompression::kSnappy:
            return parquet::Codec::kSnappy;
        case ParquetCompression::kZstd:
            return parquet::Codec::kZstd;
        case ParquetCompression::kGzip:
            return parquet::Codec::kGzip;
        case ParquetCompression::kNone:
            return parquet::Codec::kUncompressed;
    }
    return parquet::Codec::kSnappy;
}

// "dt=YYYY-MM-DD" of a day number.
std::string DateFolder(int64_t day) {
    std::string folder = "dt=";
    AppendIsoDate(&folder, day, IsoYearSign::kNegativeOnly);
    return folder;
}

// "YYYYMMDDTHHMMSS.mmmZ"
std::string FileTime(int64_t unix_ms) {
    const int64_t days = FloorDiv(unix_ms, kMsPerDay);
    const int64_t ms = unix_ms - days * kMsPerDay;
    int64_t year;
    unsigned month, day;
    CivilFromDays(days, &year, &month, &day);
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%04lld%02u%02uT%02d%02d%02d.%03dZ",
                  static_cast<long long>(year), month, day, static_cast<int>(ms / 3600000),
                  static_cast<int>(ms / 60000 % 60), static_cast<int>(ms / 1000 % 60),
                  static_cast<int>(ms % 1000));
    return buf;
}

class ParquetSink : public Sink {
public:
    ParquetSink(const ParquetSinkConfig &cfg, const SinkContext &ctx) : cfg_(cfg), ctx_(ctx) {}

    ~ParquetSink() override {
        // Open files are abandoned: their PartFile removes the temporary file, and their rows were
        // never counted as durable.
        files_.clear();
    }

    void Open() override {
        MakeDirectories(cfg_.path);
        RemoveStale();
        opened_ = true;
    }

    WriteResult Write(const Batch &batch) override {
        return AsSinkError([&] { return WriteBatch(batch); });
    }

    void Flush(std::chrono::milliseconds) override {
        AsSinkError([&] { return CompleteAged(); });
    }

    void Drain() override {
        AsSinkError([&] {
            while (!files_.empty()) Complete(*files_.begin()->second);
            return 0;
        });
    }

    uint64_t DurableSeq() override {
        uint64_t durable = written_seq_;
        for (const auto &[key, file] : files_) durable = std::min(durable, file->first_seq - 1);
        return durable;
    }

    void Close() override {
        if (!files_.empty()) {
            log::Warn("parquet", "The sink closed with " + std::to_string(files_.size()) +
                                     " open file(s); their rows were not confirmed and are written "
                                     "again by the next run.");
        }
        files_.clear();
        opened_ = false;
    }

private:
    // Errors of the writer other than the SinkErrors of the file layer (a codec that fails, an
    // allocation) still end the run with the sink's exit code and a message that says where.
    template <typename Fn>
    auto AsSinkError(Fn &&fn) -> decltype(fn()) {
        try {
            return fn();
        } catch (const Error &) {
            throw;
        } catch (const std::exception &e) {
            throw SinkError("parquet", std::string("writing a Parquet file under '") + cfg_.path +
                                           "' failed: " + e.what());
        }
    }

    WriteResult WriteBatch(const Batch &batch) {
        if (!opened_)
            throw SinkError("parquet",
                            "the parquet sink was written to while not open (a bug in cdcctl)");
        for (const ChangeEvent &event : batch) {
            if (event.table == nullptr)
                throw SinkError("parquet",
                                "a change event reached the sink without a table schema");
            OpenFile &file = FileFor(event, batch.seq);
            file.layout->WriteEvent(event, file.columns);
            file.writer->AddRows(1);
            ++file.rows;
            if (file.rows >= cfg_.max_rows) {
                Complete(file);
                continue;
            }
            if (file.writer->buffered_rows() >= cfg_.row_group_rows) {
                file.writer->FlushRowGroup();
                if (OverMaxBytes(file)) Complete(file);
            } else if (file.rows % kSizeCheckRows == 0) {
                if (file.writer->buffered_bytes() >= kRowGroupMaxBytes)
                    file.writer->FlushRowGroup();
                if (OverMaxBytes(file)) Complete(file);
            }
        }
        written_seq_ = batch.seq;
        LimitBufferedBytes();
        // At the batch boundary: the byte limit, and the age limit of every open file.
        auto now = SteadyClock::now();
        for (auto it = files_.begin(); it != files_.end();) {
            OpenFile &file = *it->second;
            ++it;  // Complete erases the entry
            if (OverMaxBytes(file) || Aged(file, now)) Complete(file);
        }
        return WriteResult::kOk;
    }

    void LimitBufferedBytes() {
        size_t total = 0;
        for (const auto &[key, file] : files_) total += file->writer->buffered_bytes();
        while (total > kSinkMaxBufferedBytes) {
            OpenFile *largest = nullptr;
            for (const auto &[key, file] : files_) {
                if (largest == nullptr ||
                    file->writer->buffered_bytes() > largest->writer->buffered_bytes()) {
                    largest = file.get();
                }
            }
            size_t bytes = largest == nullptr ? 0 : largest->writer->buffered_bytes();
            if (bytes == 0) break;
            largest->writer->FlushRowGroup();
            total -= bytes;
        }
    }

    int CompleteAged() {
        auto now = SteadyClock::now();
        for (auto it = files_.begin(); it != files_.end();) {
            OpenFile &file = *it->second;
            ++it;
            if (Aged(file, now)) Complete(file);
        }
        return 0;
    }

    struct OpenFile {
        std::string key;
        std::string dir;
        TableSchemaPtr table;  // the schema the file's columns come from
        std::shared_ptr<ParquetRowLayout> layout;
        std::unique_ptr<PartFile> part;
        std::unique_ptr<parquet::FileWriter> writer;
        std::vector<parquet::ColumnWriter *> columns;
        uint64_t first_seq = 0;
        int64_t rows = 0;
        SteadyClock::time_point opened;
    };

    bool OverMaxBytes(OpenFile &file) const {
        return static_cast<int64_t>(file.writer->bytes_written() + file.writer->buffered_bytes()) >=
               cfg_.max_bytes;
    }

    bool Aged(const OpenFile &file, SteadyClock::time_point now) const {
        return cfg_.max_age.count() > 0 && now - file.opened >= cfg_.max_age;
    }

    // Schema and table names may hold any character in PostgreSQL ("x/../../etc" is a valid
    // quoted name): a folder name keeps letters, digits, '.', '_' and '-' and replaces the rest
    // with '_', as Debezium does for topic names, so that files never land outside `path`.
    std::string TopicDir(const std::string &topic) const {
        std::string safe = topic;
        for (char &c : safe) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
            if (!ok) c = '_';
        }
        if (safe == "." || safe == "..") safe = "_";
        return cfg_.path + "/" + safe;
    }

    // Removes the temporary files an earlier run of this pipeline left behind (kill -9, power
    // loss): in <path>/<topic_prefix>.*/ and their dt=*/ folders.
    void RemoveStale() {
        std::string prefix = ctx_.topic_prefix + ".";
        std::vector<std::string> dirs;
        ListSubdirs(cfg_.path, prefix, &dirs);
        size_t topics = dirs.size();
        for (size_t i = 0; i < topics; ++i) ListSubdirs(dirs[i], "dt=", &dirs);
        for (const std::string &dir : dirs) {
            for (const std::string &path : RemoveStaleTempFiles(dir, ctx_.pipeline)) {
                log::Info("parquet",
                          "Removed '" + path +
                              "', a file an earlier run did not complete; its rows were not "
                              "confirmed and are written again.");
            }
        }
    }

    static void ListSubdirs(const std::string &dir, const std::string &prefix,
                            std::vector<std::string> *out) {
        DIR *d = ::opendir(dir.c_str());
        if (d == nullptr) return;
        while (dirent *e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name.compare(0, prefix.size(), prefix) != 0 || name == "." || name == "..")
                continue;
            std::string path = dir + "/" + name;
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out->push_back(path);
        }
        ::closedir(d);
    }

    OpenFile &FileFor(const ChangeEvent &event, uint64_t seq) {
        const TableSchema *table = event.table.get();
        int64_t day = 0;
        if (cfg_.partition_by == ParquetPartition::kDate)
            day = FloorDiv(event.source.ts_ms, kMsPerDay);
        if (last_file_ != nullptr && last_file_->table.get() == table && last_day_ == day)
            return *last_file_;

        key_.assign(table->topic);
        if (cfg_.partition_by == ParquetPartition::kDate) {
            key_.push_back('\0');
            key_ += std::to_string(day);
        }
        auto it = files_.find(key_);
        if (it != files_.end()) {
            OpenFile &file = *it->second;
            if (file.table.get() != table) {
                // Another schema object for the table: its columns may have changed in any way
                // (a type, a name, a scale), also when the version and the column count did not
                // (the snapshot and the stream number their versions separately). The rows that
                // follow get a file of their own; at worst one extra file per table.
                Complete(file);
                it = files_.end();
            }
        }
        if (it == files_.end()) it = files_.emplace(key_, StartFile(event, day, seq)).first;
        last_file_ = it->second.get();
        last_day_ = day;
        return *last_file_;
    }

    std::unique_ptr<OpenFile> StartFile(const ChangeEvent &event, int64_t day, uint64_t seq) {
        auto file = std::make_unique<OpenFile>();
        file->key = key_;
        file->table = event.table;
        file->dir = TopicDir(event.table->topic);
        if (cfg_.partition_by == ParquetPartition::kDate) file->dir += "/" + DateFolder(day);
        if (created_dirs_.insert(file->dir).second) MakeDirectories(file->dir);

        auto &layout = layouts_[event.table.get()];
        if (!layout || layout_tables_[event.table.get()] != event.table) {
            layout = std::make_shared<ParquetRowLayout>(*event.table, cfg_.content, *ctx_.source_block,
                                                        ctx_.topic_prefix);
            layout_tables_[event.table.get()] = event.table;
        }
        file->layout = layout;

        int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        // Names sort in write order even if the clock steps back during the run.
        now_ms = std::max(now_ms, last_name_ms_);
        last_name_ms_ = now_ms;
        char tail[64];
        std::snprintf(tail, sizeof(tail), "-%06llu-%016llX.parquet",
                      static_cast<unsigned long long>(++file_seq_),
                      static_cast<unsigned long long>(event.source.event_order));
        std::string name = FileTime(now_ms) + tail;
        file->part = std::make_unique<PartFile>(file->dir, name, ctx_.pipeline);

        parquet::WriterOptions options;
        options.codec = CodecOf(cfg_.compression);
        options.created_by = "cdcctl version " CDCCTL_VERSION;
        options.key_value_metadata = {
            {"cdcctl.topic", event.table->topic},
            {"cdcctl.schema_version", std::to_string(event.table->version)},
            {"cdcctl.content", cfg_.content == ParquetContent::kRow ? "row" : "envelope"},
        };
        try {
            file->writer =
                std::make_unique<parquet::FileWriter>(*file->part, layout->schema(), options);
        } catch (const std::invalid_argument &e) {
            throw SinkError("parquet", "table '" + event.table->schema + "." + event.table->table +
                                           "' has a schema Parquet cannot express: " + e.what() +
                                           " (a bug in cdcctl; please report it)");
        }
        file->columns.resize(file->writer->num_columns());
        for (size_t i = 0; i < file->columns.size(); ++i)
            file->columns[i] = &file->writer->column(i);
        file->first_seq = seq;
        file->opened = SteadyClock::now();
        log::Debug("parquet", "Started '" + file->part->temp_path() + "'.");
        return file;
    }

    void Complete(OpenFile &file) {
        if (last_file_ == &file) last_file_ = nullptr;
        // The file leaves files_ only once it is published: until then its first_seq holds
        // DurableSeq back, also if Close or Publish throws (ENOSPC, EIO).
        file.writer->Close();
        file.part->Publish();
        std::unique_ptr<OpenFile> owned;
        auto it = files_.find(file.key);
        if (it != files_.end() && it->second.get() == &file) {
            owned = std::move(it->second);
            files_.erase(it);
        }
        log::Debug("parquet", "Completed '" + file.part->final_path() + "' (" +
                                  std::to_string(file.rows) + " rows).");
        ForgetLayoutIfUnused(file.table.get());
    }

    void ForgetLayoutIfUnused(const TableSchema *table) {
        for (const auto &[key, f] : files_) {
            if (f->table.get() == table) return;
        }
        // Keep the newest layout of a table around; drop layouts no open file uses and whose
        // schema is no longer the one events arrive with (the next event tells).
        if (layouts_.size() > 64) {
            layouts_.erase(table);
            layout_tables_.erase(table);
        }
    }

    ParquetSinkConfig cfg_;
    SinkContext ctx_;
    bool opened_ = false;
    // Open files by topic (plus '\0' and the day number with partition_by: date).
    std::unordered_map<std::string, std::unique_ptr<OpenFile>> files_;
    std::unordered_map<const TableSchema *, std::shared_ptr<ParquetRowLayout>> layouts_;
    std::unordered_map<const TableSchema *, TableSchemaPtr> layout_tables_;  // keeps the keys alive
    std::set<std::string> created_dirs_;
    std::string key_;
    // The file of the last event: consecutive events mostly go to the same file.
    OpenFile *last_file_ = nullptr;
    int64_t last_day_ = 0;
    uint64_t written_seq_ = 0;
    uint64_t file_seq_ = 0;
    int64_t last_name_ms_ = 0;
};

// A relative path is relative to the pipeline file's folder, as the state file's is.
ParquetSinkConfig Resolved(ParquetSinkConfig cfg, const SinkContext &ctx) {
    if (!cfg.path.empty() && cfg.path[0] != '/') {
        size_t slash = ctx.file.find_last_of('/');
        if (slash != std::string::npos) cfg.path = ctx.file.substr(0, slash + 1) + cfg.path;
    }
    while (cfg.path.size() > 1 && cfg.path.back() == '/') cfg.path.pop_back();
    return cfg;
}

}  // namespace

std::unique_ptr<Sink> MakeParquetSink(const ParquetSinkConfig &cfg, const SinkContext &ctx) {
    return std::make_unique<ParquetSink>(Resolved(cfg, ctx), ctx);
}

std::vector<CheckResult> CheckParquet(const ParquetSinkConfig &given, const SinkContext &ctx) {
    const ParquetSinkConfig cfg = Resolved(given, ctx);
    CheckResult r;
    r.name = "parquet path";
    // The nearest existing ancestor must be a writable directory (the sink creates the rest).
    std::string existing = cfg.path;
    struct stat st {};
    while (::stat(existing.c_str(), &st) != 0) {
        if (errno != ENOENT) {
            r.ok = false;
            r.detail = "cannot look at '" + existing + "': " + std::strerror(errno);
            return {r};
        }
        size_t slash = existing.find_last_of('/');
        std::string parent =
            slash == std::string::npos ? "." : (slash == 0 ? "/" : existing.substr(0, slash));
        if (parent == existing) break;
        existing = parent;
    }
    if (!S_ISDIR(st.st_mode)) {
        r.ok = false;
        r.detail = "'" + existing + "' is not a directory; point 'sink.path' in " + ctx.file +
                   " at a directory";
        return {r};
    }
    if (existing != cfg.path) {
        if (::access(existing.c_str(), W_OK | X_OK) != 0) {
            r.ok = false;
            r.detail = "'" + cfg.path + "' does not exist and cannot be created: '" + existing +
                       "' is not writable (" + std::strerror(errno) + ")";
            return {r};
        }
        r.ok = true;
        r.detail =
            "'" + cfg.path + "' does not exist yet; the first run creates it in '" + existing + "'";
        return {r};
    }
    // Try what a run does: create a hidden file there and remove it.
    std::string probe = cfg.path + "/.cdcctl-check-" + std::to_string(::getpid()) + ".parquet.tmp";
    int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        r.ok = false;
        r.detail = "cannot create files in '" + cfg.path + "': " + std::strerror(errno);
        return {r};
    }
    ::close(fd);
    ::unlink(probe.c_str());
    r.ok = true;
    r.detail = "'" + cfg.path + "' is a writable directory";
    return {r};
}

}  // namespace cdcctl
