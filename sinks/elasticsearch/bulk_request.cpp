#include "sinks/elasticsearch/bulk_request.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "core/event/decimal.h"
#include "core/event/temporal.h"
#include "core/json/json_writer.h"
#include "core/runtime/log.h"

namespace cdcctl::es {
namespace {

using namespace std::string_view_literals;

// How a column's value becomes a row document's value.
enum class Conv { kNone, kDate, kMillis, kMicros, kNanos, kZoned, kDecimal, kVariableDecimal };

Conv ConvOf(const FieldSchema &f) {
    const FieldSchema &s = f.type == FieldType::kArray && !f.fields.empty() ? f.fields[0] : f;
    const std::string &sem = s.semantic;
    if (sem.empty()) return Conv::kNone;
    if (sem == semantic::kDate || sem == semantic::kConnectDate) return Conv::kDate;
    if (sem == semantic::kTimestamp || sem == semantic::kConnectTimestamp) return Conv::kMillis;
    if (sem == semantic::kMicroTimestamp) return Conv::kMicros;
    if (sem == semantic::kNanoTimestamp) return Conv::kNanos;
    if (sem == semantic::kDecimal) return Conv::kDecimal;
    if (sem == semantic::kVariableScaleDecimal) return Conv::kVariableDecimal;
    if (sem == semantic::kZonedTimestamp) return Conv::kZoned;
    return Conv::kNone;
}

int ScaleOf(const FieldSchema &f) {
    const FieldSchema &s = f.type == FieldType::kArray && !f.fields.empty() ? f.fields[0] : f;
    const std::string *p = s.Parameter("scale");
    int scale = 0;
    if (p != nullptr) std::from_chars(p->data(), p->data() + p->size(), scale);
    return scale;
}

void AppendPlainValue(std::string *out, const FieldSchema &f, const Value &v) {
    switch (v.kind()) {
        case Value::Kind::kNull:
            out->append("null", 4);
            return;
        case Value::Kind::kBool:
            out->append(v.as_bool() ? "true"sv : "false"sv);
            return;
        case Value::Kind::kInt:
            json::AppendInt(out, v.as_int());
            return;
        case Value::Kind::kDouble:
            if (f.type == FieldType::kFloat32)
                json::AppendFloat(out, static_cast<float>(v.as_double()));
            else
                json::AppendDouble(out, v.as_double());
            return;
        case Value::Kind::kString:
            json::AppendString(out, v.as_string());
            return;
        case Value::Kind::kBytes:
            json::AppendBase64(out, v.as_string());
            return;
        default: {
            json::JsonWriter w(out);
            WriteFieldValue(w, f, v);
            return;
        }
    }
}

void AppendDocValue(std::string *out, const FieldSchema &f, Conv conv, int scale, const Value &v) {
    if (conv == Conv::kNone || v.is_null()) {
        AppendPlainValue(out, f, v);
        return;
    }
    if (v.kind() == Value::Kind::kArray) {
        const FieldSchema &item =
            f.type == FieldType::kArray && !f.fields.empty() ? f.fields[0] : f;
        out->push_back('[');
        bool first = true;
        for (const Value &x : v.items()) {
            if (!first) out->push_back(',');
            first = false;
            if (x.kind() == Value::Kind::kArray)
                AppendDocValue(out, f, conv, scale, x);  // nested dims
            else
                AppendDocValue(out, item, conv, scale, x);
        }
        out->push_back(']');
        return;
    }
    switch (conv) {
        case Conv::kDate:
        case Conv::kMillis:
        case Conv::kMicros:
        case Conv::kNanos:
            if (v.kind() != Value::Kind::kInt) break;
            out->push_back('"');
            // Without java.time's '+' before years beyond 9999, as the sink always wrote them.
            if (conv == Conv::kDate)
                AppendIsoDate(out, v.as_int(), IsoYearSign::kNegativeOnly);
            else
                AppendIsoTimestamp(out, v.as_int(),
                                   conv == Conv::kMillis   ? 1000
                                   : conv == Conv::kMicros ? 1000000
                                                           : 1000000000,
                                   IsoYearSign::kNegativeOnly);
            out->push_back('"');
            return;
        case Conv::kZoned: {
            // The source writes UTC ("...Z"), which goes out as it is; a timezone converter
            // writes local time with its offset, which becomes the same instant in UTC so that
            // every document of an index reads alike. Text that is no instant ("infinity")
            // stays as it is, for Elasticsearch to judge.
            if (v.kind() != Value::Kind::kString) break;
            std::string_view text = v.as_string();
            IsoInstant instant;
            if (text.empty() || text.back() == 'Z' || !ParseIsoInstant(text, &instant)) break;
            out->push_back('"');
            AppendIsoInstant(out, instant.epoch_seconds, instant.nanos);
            out->push_back('"');
            return;
        }
        case Conv::kDecimal:
            if (v.kind() != Value::Kind::kBytes) break;
            out->push_back('"');
            AppendDecimalText(out, v.as_string(), scale);
            out->push_back('"');
            return;
        case Conv::kVariableDecimal:
            if (v.kind() != Value::Kind::kStruct || v.items().size() != 2 ||
                v.items()[0].kind() != Value::Kind::kInt ||
                v.items()[1].kind() != Value::Kind::kBytes) {
                break;
            }
            out->push_back('"');
            AppendDecimalText(out, v.items()[1].as_string(),
                              static_cast<int>(v.items()[0].as_int()));
            out->push_back('"');
            return;
        case Conv::kNone:
            break;
    }
    AppendPlainValue(out, f, v);  // unavailable (TOAST) placeholders and the unexpected
}

// A key column's value as id text (unescaped).
void AppendIdText(std::string *out, const FieldSchema &f, const Value &v) {
    switch (v.kind()) {
        case Value::Kind::kInt:
            json::AppendInt(out, v.as_int());
            return;
        case Value::Kind::kString:
            out->append(v.as_string());
            return;
        case Value::Kind::kBool:
            out->append(v.as_bool() ? "true"sv : "false"sv);
            return;
        case Value::Kind::kNull:
            out->append("null"sv);
            return;
        case Value::Kind::kBytes: {
            size_t at = out->size();
            json::AppendBase64(out, v.as_string());
            out->erase(at, 1);
            out->pop_back();
            return;
        }
        default: {
            json::JsonWriter w(out);
            WriteFieldValue(w, f, v);
            return;
        }
    }
}

std::string CheckIndexName(const std::string &name) {
    if (name.empty()) return "it is empty";
    if (name.size() > 255) return "it is longer than 255 bytes";
    if (name == "." || name == "..") return "'.' and '..' are not index names";
    if (name.front() == '-' || name.front() == '_' || name.front() == '+') {
        return "an index name must not start with '-', '_' or '+'";
    }
    for (char c : name) {
        if (std::string_view("\\/*?\"<>| ,#:").find(c) != std::string_view::npos) {
            return std::string("an index name must not contain '") + c + "'";
        }
    }
    return "";
}

}  // namespace

std::string ResolveIndex(std::string_view tmpl, const TableSchema &table, std::string *error) {
    std::string out;
    for (size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] == '$' && i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
            size_t close = tmpl.find('}', i);
            if (close != std::string_view::npos) {
                std::string_view name = tmpl.substr(i + 2, close - i - 2);
                if (name == "topic")
                    out += table.topic;
                else if (name == "schema")
                    out += table.schema;
                else if (name == "table")
                    out += table.table;
                else
                    out.append(tmpl.substr(i, close - i + 1));
                i = close;
                continue;
            }
        }
        out.push_back(tmpl[i]);
    }
    for (char &c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    std::string problem = CheckIndexName(out);
    if (!problem.empty()) {
        *error = "the index name '" + out + "' for table '" + table.schema + "." + table.table +
                 "' is not valid: " + problem;
        return "";
    }
    return out;
}

BulkEncoder::BulkEncoder(BulkEncoderConfig config)
    : config_(std::move(config)), envelope_([&] {
          EnvelopeEncoderConfig e;
          e.format = EventFormat::kEnvelope;
          e.topic_prefix = config_.topic_prefix;
          e.source_block = config_.source_block;
          return e;
      }()) {}

BulkEncoder::Entry &BulkEncoder::EntryFor(const TableSchemaPtr &table) {
    if (table.get() == last_table_) return *last_entry_;
    auto it = cache_.find(table.get());
    if (it == cache_.end()) {
        last_table_ = nullptr;
        last_entry_ = nullptr;
        auto [topic_it, inserted] = by_topic_.try_emplace(table->topic, table.get());
        if (!inserted) {
            cache_.erase(topic_it->second);
            topic_it->second = table.get();
        }
        Entry e;
        e.table = table;
        std::string error;
        e.index = ResolveIndex(config_.index, *table, &error);
        if (e.index.empty()) {
            by_topic_.erase(table->topic);
            throw SinkError("elasticsearch", error + ". Change 'index:' in the pipeline file.");
        }
        e.index_action = R"({"index":{"_index":)";
        json::AppendString(&e.index_action, e.index);
        e.delete_action = R"({"delete":{"_index":)";
        json::AppendString(&e.delete_action, e.index);
        for (size_t i = 0; i < table->columns.size(); ++i) {
            std::string key = i == 0 ? "" : ",";
            json::AppendString(&key, table->columns[i].name);
            key.push_back(':');
            e.keys.push_back(std::move(key));
        }
        e.index_hash = std::hash<std::string>{}(e.index);
        it = cache_.emplace(table.get(), std::move(e)).first;
    }
    last_table_ = table.get();
    last_entry_ = &it->second;
    return it->second;
}

const std::string &BulkEncoder::IndexOf(const TableSchemaPtr &table) {
    return EntryFor(table).index;
}

void BulkEncoder::AppendRowDocument(std::string *out, Entry &entry, const Row &row) {
    const TableSchema &table = *entry.table;
    out->push_back('{');
    for (size_t i = 0; i < table.columns.size(); ++i) {
        out->append(entry.keys[i]);
        const FieldSchema &f = table.columns[i];
        if (i >= row.size()) {
            out->append("null", 4);
            continue;
        }
        if (row[i].kind() == Value::Kind::kUnavailable && !entry.warned_unavailable) {
            entry.warned_unavailable = true;
            std::string name = table.schema + "." + table.table;
            log::Warn("elasticsearch",
                      "Table '" + name + "' sent an update without the unchanged TOASTed value " +
                          "of column '" + f.name +
                          "' (its replica identity is not FULL), so the document's field is "
                          "overwritten with the placeholder '__debezium_unavailable_value'. Run "
                          "ALTER TABLE " +
                          name +
                          " REPLICA IDENTITY FULL so that every change carries the whole row. "
                          "This is said once per table.");
        }
        // Semantic types are rare next to plain columns: look at them only when there is one.
        if (f.semantic.empty() && f.type != FieldType::kArray)
            AppendPlainValue(out, f, row[i]);
        else
            AppendDocValue(out, f, ConvOf(f), ScaleOf(f), row[i]);
    }
    out->push_back('}');
}

void BulkEncoder::BuildId(const Entry &entry, const ChangeEvent &event, const Row &row,
                          std::string *out) {
    const TableSchema &table = *entry.table;
    out->clear();
    if (config_.id == EsIdMode::kPosition) {
        *out += table.topic;
        out->push_back('/');
        json::AppendUint(out, event.source.commit_order);
        out->push_back('/');
        json::AppendUint(out, event.source.event_order);
        out->push_back('/');
        json::AppendUint(out, entry.ordinal);
        return;
    }
    if (table.key.empty()) {
        throw SinkError(
            "elasticsearch",
            "table '" + table.schema + "." + table.table +
                "' has no primary key, so 'id: key' cannot name its documents. Give it a "
                "primary key (or a replica identity index), or set 'id: position' or "
                "'id: none' in the pipeline file.");
    }
    if (table.key.size() == 1) {
        size_t k = table.key[0];
        if (k < row.size()) AppendIdText(out, table.columns[k], row[k]);
        return;
    }
    std::string part;
    for (size_t n = 0; n < table.key.size(); ++n) {
        size_t k = table.key[n];
        if (n > 0) out->push_back('|');
        part.clear();
        if (k < row.size()) AppendIdText(&part, table.columns[k], row[k]);
        for (char c : part) {
            if (c == '\\' || c == '|') out->push_back('\\');
            out->push_back(c);
        }
    }
}

void BulkEncoder::AppendIdFields(const Entry &entry, const ChangeEvent &event,
                                 const std::string &id, size_t prefix, std::string *body,
                                 BulkItem *item) {
    item->id_at = static_cast<uint32_t>(prefix);
    body->append(R"(,"_id":")"sv);
    json::AppendEscaped(body, id);
    body->push_back('"');
    item->id_len = static_cast<uint32_t>(body->size() - item->begin - prefix);
    if (event.source.commit_order != 0) {
        body->append(R"(,"version":)"sv);
        json::AppendUint(body, event.source.commit_order);
        body->append(R"(,"version_type":"external_gte")"sv);
    }
    uint64_t h = std::hash<std::string_view>{}(id) ^ (entry.index_hash * 0x9E3779B97F4A7C15ULL);
    item->id_hash = h == 0 ? 1 : h;
}

namespace {
constexpr size_t kIndexPrefix = sizeof(R"({"index":{)") - 1;
constexpr size_t kDeletePrefix = sizeof(R"({"delete":{)") - 1;
}  // namespace

bool BulkEncoder::Append(const ChangeEvent &event, std::string *body, BulkItem *item) {
    if (event.table == nullptr)
        throw SinkError("elasticsearch", "an event reached the sink without a table schema");
    if (event.op == Op::kTruncate) return false;
    Entry &entry = EntryFor(event.table);
    bool deletes = event.op == Op::kDelete && config_.id != EsIdMode::kPosition;
    if (deletes && (config_.on_delete == EsOnDelete::kIgnore || config_.id == EsIdMode::kNone))
        return false;
    const Row *row = nullptr;
    if (event.has_after)
        row = &event.after;
    else if (event.has_before)
        row = &event.before;
    if (row == nullptr) return false;

    item->id_hash = 0;
    item->id_at = 0;
    item->id_len = 0;
    if (config_.id == EsIdMode::kPosition) {
        if (entry.seen_position && entry.last_commit_order == event.source.commit_order &&
            entry.last_event_order == event.source.event_order) {
            ++entry.ordinal;
        } else {
            entry.seen_position = true;
            entry.last_commit_order = event.source.commit_order;
            entry.last_event_order = event.source.event_order;
            entry.ordinal = 0;
        }
    }
    // Before anything is appended: BuildId may throw, and the body must stay well-formed.
    if (config_.id != EsIdMode::kNone) BuildId(entry, event, *row, &id_);

    item->begin = body->size();
    body->append(deletes ? entry.delete_action : entry.index_action);
    if (config_.id != EsIdMode::kNone)
        AppendIdFields(entry, event, id_, deletes ? kDeletePrefix : kIndexPrefix, body, item);
    body->append("}}\n", 3);
    item->source = body->size();
    if (!deletes) {
        if (config_.document == EsDocument::kEnvelope)
            envelope_.Encode(event, body);
        else
            AppendRowDocument(body, entry, *row);
        body->push_back('\n');
    }
    item->end = body->size();
    return true;
}

bool BulkEncoder::AppendKeyChange(const ChangeEvent &event, std::string *body, BulkItem *item) {
    if (config_.id != EsIdMode::kKey || event.op != Op::kUpdate || !event.has_before ||
        !event.has_after || event.table == nullptr) {
        return false;
    }
    Entry &entry = EntryFor(event.table);
    const TableSchema &table = *entry.table;
    if (table.key.empty()) return false;  // Append says why
    for (size_t k : table.key) {
        // No old key to compare with (a before state without the key columns).
        if (k >= event.before.size() || event.before[k].kind() == Value::Kind::kUnavailable)
            return false;
    }
    BuildId(entry, event, event.after, &id_);
    BuildId(entry, event, event.before, &old_id_);
    if (id_ == old_id_) return false;
    item->begin = body->size();
    body->append(entry.delete_action);
    AppendIdFields(entry, event, old_id_, kDeletePrefix, body, item);
    body->append("}}\n", 3);
    item->source = body->size();
    item->end = body->size();
    return true;
}

BulkAssembler::BulkAssembler(size_t max_bytes, size_t max_docs)
    : max_bytes_(max_bytes), max_docs_(max_docs), open_(std::make_unique<BulkRequest>()) {}

std::unique_ptr<BulkRequest> BulkAssembler::Fresh() {
    if (spare_.empty()) return std::make_unique<BulkRequest>();
    auto r = std::move(spare_.back());
    spare_.pop_back();
    r->Clear();
    return r;
}

void BulkAssembler::Recycle(std::unique_ptr<BulkRequest> request) {
    if (spare_.size() < 16) spare_.push_back(std::move(request));
}

void BulkAssembler::Add(BulkEncoder &encoder, const ChangeEvent &event, uint64_t seq,
                        std::vector<std::unique_ptr<BulkRequest>> *sealed) {
    BulkItem item;
    item.seq = seq;
    if (encoder.AppendKeyChange(event, &open_->body, &item)) Place(item, sealed);
    item = BulkItem{};
    item.seq = seq;
    if (encoder.Append(event, &open_->body, &item)) Place(item, sealed);
}

void BulkAssembler::Place(BulkItem item, std::vector<std::unique_ptr<BulkRequest>> *sealed) {
    if (item.id_hash != 0) {
        auto [it, inserted] = open_ids_.try_emplace(item.id_hash, open_->items.size());
        if (!inserted) {
            BulkItem &earlier = open_->items[it->second];
            std::string_view body = open_->body;
            if (!earlier.superseded && earlier.id_len == item.id_len &&
                body.substr(earlier.begin + earlier.id_at, earlier.id_len) ==
                    body.substr(item.begin + item.id_at, item.id_len)) {
                earlier.superseded = true;
                item.seq = std::min(item.seq, earlier.seq);
            }
            it->second = open_->items.size();
        }
    }
    open_->items.push_back(item);
    if (open_->items.size() > 1 && open_->body.size() > max_bytes_) {
        // The last document does not fit: it starts the next request.
        auto next = Fresh();
        BulkItem last = open_->items.back();
        open_->items.pop_back();
        next->body.assign(open_->body, last.begin, last.end - last.begin);
        open_->body.resize(last.begin);
        last.source -= last.begin;
        last.end -= last.begin;
        last.begin = 0;
        next->items.push_back(last);
        Seal(std::move(open_), sealed);
        open_ = std::move(next);
        open_ids_.clear();
        if (last.id_hash != 0) open_ids_.emplace(last.id_hash, 0);
    }
    if (open_->items.size() >= max_docs_ || open_->body.size() >= max_bytes_) {
        Seal(std::move(open_), sealed);
        open_ = Fresh();
        open_ids_.clear();
    }
}

void BulkAssembler::Compact(BulkRequest *request) {
    auto &items = request->items;
    if (std::none_of(items.begin(), items.end(), [](const BulkItem &i) { return i.superseded; }))
        return;
    scratch_.clear();
    size_t kept = 0;
    for (const BulkItem &old : items) {
        if (old.superseded) continue;
        BulkItem item = old;
        size_t begin = scratch_.size();
        scratch_.append(request->body, old.begin, old.end - old.begin);
        item.source = begin + (old.source - old.begin);
        item.end = begin + (old.end - old.begin);
        item.begin = begin;
        items[kept++] = item;
    }
    items.resize(kept);
    request->body.swap(scratch_);
}

void BulkAssembler::Seal(std::unique_ptr<BulkRequest> request,
                         std::vector<std::unique_ptr<BulkRequest>> *sealed) {
    Compact(request.get());
    if (request->items.empty()) {
        Recycle(std::move(request));
        return;
    }
    sealed->push_back(std::move(request));
}

std::unique_ptr<BulkRequest> BulkAssembler::TakeOpen() {
    if (open_->items.empty()) return nullptr;
    auto r = std::move(open_);
    open_ = Fresh();
    open_ids_.clear();
    Compact(r.get());
    return r;
}

bool IdGate::CanSend(const BulkRequest &request) const {
    if (held_.empty()) return true;
    for (const BulkItem &item : request.items) {
        if (item.id_hash != 0 && held_.count(item.id_hash) != 0) return false;
    }
    return true;
}

void IdGate::Hold(const BulkRequest &request) {
    for (const BulkItem &item : request.items) {
        if (item.id_hash != 0) ++held_[item.id_hash];
    }
}

void IdGate::Release(const BulkItem &item) {
    if (item.id_hash == 0) return;
    auto it = held_.find(item.id_hash);
    if (it != held_.end() && --it->second <= 0) held_.erase(it);
}

}  // namespace cdcctl::es
