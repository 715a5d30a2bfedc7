// The Parquet file writer: schema validation, column chunk buffering, pages and the footer.
//
// Each leaf column buffers its current data page (levels and values) and, once the page's values
// reach WriterOptions::data_page_bytes, encodes and compresses it into the column's list of
// finished pages. A page is only ever cut where a new row starts (repetition level 0), so that a
// row never spans two pages, which readers using page statistics assume. FlushRowGroup() cuts the
// last pages and writes every column chunk: the dictionary page (if the chunk used one), then the
// data pages. Memory is therefore bounded by one row group (compressed pages plus one open page
// and the dictionary per column).
//
// Page layout (data page v1): PageHeader (Thrift compact), then the possibly compressed body:
// [repetition levels: u32 length + RLE hybrid][definition levels: u32 length + RLE hybrid][values].
// Levels are present only when the column's max level is above 0.
#include "sinks/parquet/format/parquet_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <type_traits>

#include "sinks/parquet/format/buffer.h"
#include "sinks/parquet/format/compression.h"
#include "sinks/parquet/format/encoding.h"
#include "sinks/parquet/format/thrift_compact.h"

namespace cdcctl::parquet {

using thrift::CompactWriter;
using thrift::CType;

SchemaNode SchemaNode::List(std::string name, Repetition rep, SchemaNode element) {
    element.name = "element";
    std::vector<SchemaNode> inner;
    inner.push_back(std::move(element));
    std::vector<SchemaNode> outer;
    outer.push_back(Group("list", Repetition::kRepeated, std::move(inner)));
    return Group(std::move(name), rep, std::move(outer), LogicalType::List());
}

namespace {

// parquet.thrift enums.
enum Encoding : int32_t { kPlain = 0, kRle = 3, kRleDictionary = 8 };
enum PageType : int32_t { kDataPage = 0, kDictionaryPage = 2 };

constexpr uint8_t kMagic[4] = {'P', 'A', 'R', '1'};

// How min/max compare for a column (the TYPE_DEFINED_ORDER of its logical type).
enum class SortOrder : uint8_t { kSigned, kUnsigned, kBytes, kDecimalBytes };

std::string PathString(const std::vector<std::string> &path) {
    std::string s;
    for (const auto &p : path) {
        if (!s.empty()) s += '.';
        s += p;
    }
    return s;
}

const char *TypeName(PhysicalType t) {
    switch (t) {
        case PhysicalType::kBoolean:
            return "BOOLEAN";
        case PhysicalType::kInt32:
            return "INT32";
        case PhysicalType::kInt64:
            return "INT64";
        case PhysicalType::kFloat:
            return "FLOAT";
        case PhysicalType::kDouble:
            return "DOUBLE";
        case PhysicalType::kByteArray:
            return "BYTE_ARRAY";
        case PhysicalType::kFixedLenByteArray:
            return "FIXED_LEN_BYTE_ARRAY";
    }
    return "unknown";
}

// Statistics of one page or chunk in their encoded form (PLAIN without length prefix).
struct EncodedStats {
    int64_t null_count = 0;
    int64_t nan_count = -1;  // FLOAT/DOUBLE only
    bool has_minmax = false;
    bool min_exact = true;
    bool max_exact = true;
    std::string min;
    std::string max;
};

// Byte-array bounds longer than this are truncated: a JSON document or a long text would
// otherwise be copied into every page header and into the footer.
constexpr size_t kStatsMaxBytes = 64;

// A lower bound for every string starting with `v`: its prefix of at most kStatsMaxBytes, cut
// at a UTF-8 character boundary so that a STRING bound stays valid UTF-8.
std::string TruncatedMin(std::string_view v) {
    size_t n = kStatsMaxBytes;
    while (n > 0 && (static_cast<uint8_t>(v[n]) & 0xC0) == 0x80) --n;
    return std::string(v.substr(0, n));
}

// An upper bound for `v`: a short prefix with its last ASCII character below 0x7F incremented
// (characters after it, and non-ASCII ones, are dropped, which keeps the bound valid UTF-8).
// False when there is no such character; the caller then writes no bounds.
bool TruncatedMax(std::string_view v, std::string *out) {
    std::string_view p = v.substr(0, kStatsMaxBytes);
    for (size_t i = p.size(); i-- > 0;) {
        auto c = static_cast<uint8_t>(p[i]);
        if (c < 0x7F) {
            out->assign(p.substr(0, i));
            out->push_back(static_cast<char>(c + 1));
            return true;
        }
    }
    return false;
}

void WriteStatistics(CompactWriter &w, int16_t field_id, const EncodedStats &s) {
    w.FieldStructBegin(field_id);
    w.FieldI64(3, s.null_count);
    if (s.has_minmax) {
        w.FieldBinary(5, s.max);
        w.FieldBinary(6, s.min);
        w.FieldBool(7, s.max_exact);
        w.FieldBool(8, s.min_exact);
    }
    // Without nan_count a reader must assume NaNs may be present (parquet.thrift), and some then
    // ignore the float bounds altogether.
    if (s.nan_count >= 0) w.FieldI64(9, s.nan_count);
    w.StructEnd();
}

// What the footer needs to know about one written column chunk.
struct ChunkMeta {
    int64_t file_offset = 0;
    int64_t data_page_offset = 0;
    int64_t dictionary_page_offset = -1;
    int64_t num_values = 0;
    int64_t total_uncompressed = 0;
    int64_t total_compressed = 0;
    int32_t dict_data_pages = 0;
    int32_t plain_data_pages = 0;
    bool has_levels = false;
    EncodedStats stats;
};

struct RowGroupMeta {
    std::vector<ChunkMeta> columns;
    int64_t num_rows = 0;
    int64_t file_offset = 0;
};

// ---------------------------------------------------------------------------------------------
// Columns

class ColumnBase : public ColumnWriter {
public:
    ColumnBase(ColumnDescriptor desc, const WriterOptions &options, Compressor *compressor)
        : desc_(std::move(desc)),
          max_def_(desc_.max_def),
          max_rep_(desc_.max_rep),
          page_limit_(options.data_page_bytes),
          dict_max_(options.dictionary_max_bytes),
          compressor_(compressor) {}

    const ColumnDescriptor &descriptor() const override { return desc_; }

    void WriteNull(int16_t def, int16_t rep) override {
        if (def >= max_def_ || def < 0) BadNull(def);
        Enter(def, rep, PageValueBytes());
        ++page_nulls_;
    }
    void WriteBool(bool, int16_t) override { Mismatch("WriteBool"); }
    void WriteInt32(int32_t, int16_t) override { Mismatch("WriteInt32"); }
    void WriteInt64(int64_t, int16_t) override { Mismatch("WriteInt64"); }
    void WriteFloat(float, int16_t) override { Mismatch("WriteFloat"); }
    void WriteDouble(double, int16_t) override { Mismatch("WriteDouble"); }
    void WriteBytes(std::string_view, int16_t) override { Mismatch("WriteBytes"); }

    // Cuts the last page and writes the chunk (dictionary page, data pages) through `emit`;
    // `offset` is the file offset of the chunk's first byte. Resets the column for the next
    // row group.
    template <typename Emit>
    ChunkMeta FinishChunk(int64_t offset, Emit &&emit) {
        CutPage();
        ChunkMeta m;
        m.file_offset = offset;
        m.num_values = chunk_values_;
        m.has_levels = max_def_ > 0 || max_rep_ > 0;
        m.dict_data_pages = dict_data_pages_;
        m.plain_data_pages = plain_data_pages_;
        m.total_uncompressed = chunk_uncompressed_;
        m.total_compressed = chunk_compressed_;
        if (dict_data_pages_ > 0) {
            const Buffer &dict = DictionaryPlain();
            header_.clear();
            compressed_.clear();
            const uint8_t *body = dict.data();
            size_t body_size = dict.size();
            if (compressor_->codec() != Codec::kUncompressed) {
                compressor_->Compress(dict.data(), dict.size(), &compressed_);
                body = compressed_.data();
                body_size = compressed_.size();
            }
            CompactWriter w(&header_);
            w.StructBegin();
            w.FieldI32(1, kDictionaryPage);
            w.FieldI32(2, CheckedI32(dict.size(), "dictionary page"));
            w.FieldI32(3, CheckedI32(body_size, "dictionary page"));
            w.FieldStructBegin(7);
            w.FieldI32(1, static_cast<int32_t>(DictionarySize()));
            w.FieldI32(2, kPlain);
            w.StructEnd();
            w.StructEnd();
            emit(header_.data(), header_.size());
            emit(body, body_size);
            m.dictionary_page_offset = offset;
            m.total_uncompressed += static_cast<int64_t>(header_.size() + dict.size());
            m.total_compressed += static_cast<int64_t>(header_.size() + body_size);
        }
        m.data_page_offset = offset + (m.total_compressed - chunk_compressed_);
        emit(pages_.data(), pages_.size());
        m.stats = ChunkStats();
        m.stats.null_count = chunk_nulls_;

        pages_.clear();
        chunk_values_ = chunk_nulls_ = chunk_uncompressed_ = chunk_compressed_ = 0;
        dict_data_pages_ = plain_data_pages_ = 0;
        finished_pages_bytes_ = 0;
        ResetChunk();
        return m;
    }

    // Uncompressed bytes of this column's buffered row group, the open page estimated.
    size_t BufferedBytes() const {
        return finished_pages_bytes_ + PageValueBytes() +
               (def_levels_.size() + rep_levels_.size()) / 4 + DictionaryPlainBytes();
    }

protected:
    // Before every entry: cut the page if it is full (only where a row starts), then record the
    // levels. Inline and non-virtual, as it runs once per value; `page_bytes` is the open page's
    // PageValueBytes(), passed in so that the typed columns compute it without a virtual call.
    inline void Enter(int16_t def, int16_t rep, size_t page_bytes) {
        if (rep == 0) {
            if (fallback_pending_ || page_bytes >= page_limit_) [[unlikely]]
                CutPage();
        } else if (rep > max_rep_ || rep < 0) [[unlikely]] {
            BadRep(rep);
        }
        if (max_rep_ > 0) rep_levels_.push_back(static_cast<uint16_t>(rep));
        if (max_def_ > 0) def_levels_.push_back(static_cast<uint16_t>(def));
        ++page_entries_;
    }

    // Values of the open page, encoded size estimate.
    virtual size_t PageValueBytes() const = 0;
    // Appends the open page's values to body and returns their encoding; clears them.
    virtual Encoding EncodeValues(Buffer *body) = 0;
    // The open page's statistics (min/max), merged into the chunk's; resets the page's.
    virtual EncodedStats TakePageStats() = 0;
    virtual EncodedStats ChunkStats() const = 0;
    virtual void ResetChunk() = 0;
    virtual const Buffer &DictionaryPlain() const = 0;
    virtual uint32_t DictionarySize() const = 0;
    virtual size_t DictionaryPlainBytes() const = 0;
    // Called after a page cut when the dictionary had grown past its limit.
    virtual void FallBackToPlain() = 0;
    // Before the first page of a chunk is encoded: re-encode it PLAIN if the dictionary does
    // not pay.
    virtual void MaybeDropDictionary() {}

    [[noreturn]] void Mismatch(const char *call) const {
        throw std::logic_error("Parquet column '" + PathString(desc_.path) + "' is " +
                               TypeName(desc_.type) + "; " + call + " does not apply to it");
    }
    [[noreturn]] void BadNull(int16_t def) const {
        if (max_def_ == 0)
            throw std::invalid_argument("Parquet column '" + PathString(desc_.path) +
                                        "' is required at every level; it cannot hold a null");
        throw std::invalid_argument("Parquet column '" + PathString(desc_.path) +
                                    "': WriteNull needs def < " + std::to_string(max_def_) +
                                    ", got " + std::to_string(def));
    }
    [[noreturn]] void BadRep(int16_t rep) const {
        throw std::invalid_argument("Parquet column '" + PathString(desc_.path) +
                                    "': repetition level " + std::to_string(rep) +
                                    " is outside 0.." + std::to_string(max_rep_));
    }
    static int32_t CheckedI32(size_t n, const char *what) {
        if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
            throw std::runtime_error(std::string("Parquet ") + what +
                                     " is larger than 2 GiB; lower data_page_bytes");
        return static_cast<int32_t>(n);
    }

    // Out of line: it is rare, and inlined into Enter() it would keep Enter() from being inlined.
    [[gnu::noinline]] void CutPage() {
        if (page_entries_ == 0) {
            if (fallback_pending_) {
                fallback_pending_ = false;
                FallBackToPlain();
            }
            return;
        }
        // The first page of a chunk is where a dictionary that does not pay is cheapest to drop.
        if (dict_data_pages_ == 0) MaybeDropDictionary();
        body_.clear();
        if (max_rep_ > 0) AppendLevels(rep_levels_, max_rep_);
        if (max_def_ > 0) AppendLevels(def_levels_, max_def_);
        Encoding enc = EncodeValues(&body_);
        EncodedStats stats = TakePageStats();
        stats.null_count = page_nulls_;

        const uint8_t *out = body_.data();
        size_t out_size = body_.size();
        if (compressor_->codec() != Codec::kUncompressed) {
            compressed_.clear();
            compressor_->Compress(body_.data(), body_.size(), &compressed_);
            out = compressed_.data();
            out_size = compressed_.size();
        }
        header_.clear();
        CompactWriter w(&header_);
        w.StructBegin();
        w.FieldI32(1, kDataPage);
        w.FieldI32(2, CheckedI32(body_.size(), "data page"));
        w.FieldI32(3, CheckedI32(out_size, "data page"));
        w.FieldStructBegin(5);
        w.FieldI32(1, CheckedI32(page_entries_, "data page"));
        w.FieldI32(2, enc);
        w.FieldI32(3, kRle);
        w.FieldI32(4, kRle);
        WriteStatistics(w, 5, stats);
        w.StructEnd();
        w.StructEnd();
        pages_.Append(header_.data(), header_.size());
        pages_.Append(out, out_size);

        chunk_uncompressed_ += static_cast<int64_t>(header_.size() + body_.size());
        chunk_compressed_ += static_cast<int64_t>(header_.size() + out_size);
        finished_pages_bytes_ += header_.size() + body_.size();
        chunk_values_ += static_cast<int64_t>(page_entries_);
        chunk_nulls_ += page_nulls_;
        if (enc == kRleDictionary) {
            ++dict_data_pages_;
        } else {
            ++plain_data_pages_;
        }
        def_levels_.clear();
        rep_levels_.clear();
        page_entries_ = 0;
        page_nulls_ = 0;
        if (fallback_pending_) {
            fallback_pending_ = false;
            FallBackToPlain();
        }
    }

    void AppendLevels(const std::vector<uint16_t> &levels, int16_t max_level) {
        size_t at = body_.size();
        body_.Grow(4);
        EncodeRleHybrid(levels.data(), levels.size(), BitWidth(static_cast<uint64_t>(max_level)),
                        &body_);
        uint32_t len = static_cast<uint32_t>(body_.size() - at - 4);
        std::memcpy(body_.data() + at, &len, 4);
    }

    ColumnDescriptor desc_;
    int16_t max_def_;
    int16_t max_rep_;
    size_t page_limit_;
    size_t dict_max_;
    Compressor *compressor_;
    bool fallback_pending_ = false;

    std::vector<uint16_t> def_levels_;
    std::vector<uint16_t> rep_levels_;
    size_t page_entries_ = 0;
    int64_t page_nulls_ = 0;

    Buffer pages_;  // finished data pages of the chunk: header + body each
    Buffer body_;
    Buffer compressed_;
    Buffer header_;
    size_t finished_pages_bytes_ = 0;
    int64_t chunk_values_ = 0;
    int64_t chunk_nulls_ = 0;
    int64_t chunk_uncompressed_ = 0;
    int64_t chunk_compressed_ = 0;
    int32_t dict_data_pages_ = 0;
    int32_t plain_data_pages_ = 0;
};

// BOOLEAN: PLAIN only (a dictionary of two values never beats one bit per value).
class BoolColumn final : public ColumnBase {
public:
    using ColumnBase::ColumnBase;

    void WriteBool(bool v, int16_t rep) override {
        Enter(max_def_, rep, bits_.bytes().size());
        bits_.Put(v);
        page_seen_[v ? 1 : 0] = true;
    }

protected:
    size_t PageValueBytes() const override { return bits_.bytes().size(); }
    Encoding EncodeValues(Buffer *body) override {
        body->Append(bits_.bytes().data(), bits_.bytes().size());
        bits_.clear();
        return kPlain;
    }
    EncodedStats TakePageStats() override {
        EncodedStats s;
        if (page_seen_[0] || page_seen_[1]) {
            s.has_minmax = true;
            s.min.assign(1, page_seen_[0] ? '\0' : '\1');
            s.max.assign(1, page_seen_[1] ? '\1' : '\0');
        }
        chunk_seen_[0] |= page_seen_[0];
        chunk_seen_[1] |= page_seen_[1];
        page_seen_[0] = page_seen_[1] = false;
        return s;
    }
    EncodedStats ChunkStats() const override {
        EncodedStats s;
        if (chunk_seen_[0] || chunk_seen_[1]) {
            s.has_minmax = true;
            s.min.assign(1, chunk_seen_[0] ? '\0' : '\1');
            s.max.assign(1, chunk_seen_[1] ? '\1' : '\0');
        }
        return s;
    }
    void ResetChunk() override { chunk_seen_[0] = chunk_seen_[1] = false; }
    const Buffer &DictionaryPlain() const override { return empty_; }
    uint32_t DictionarySize() const override { return 0; }
    size_t DictionaryPlainBytes() const override { return 0; }
    void FallBackToPlain() override {}

private:
    BitWriter bits_;
    bool page_seen_[2] = {false, false};
    bool chunk_seen_[2] = {false, false};
    Buffer empty_;
};

// Min/max tracking in a column's sort order. T is the value type the column receives; for
// BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY the bounds are kept as owned strings (assigned only when a
// bound changes, reusing their capacity).
template <typename T>
struct Bounds {
    using Stored = std::conditional_t<std::is_same_v<T, std::string_view>, std::string, T>;
    bool has = false;
    Stored min{};
    Stored max{};
};

template <typename T>
class TypedColumn final : public ColumnBase {
public:
    static constexpr bool kIsBytes = std::is_same_v<T, std::string_view>;

    TypedColumn(ColumnDescriptor desc, const WriterOptions &options, Compressor *compressor,
                SortOrder order)
        : ColumnBase(std::move(desc), options, compressor),
          order_(order),
          fixed_len_(desc_.type == PhysicalType::kFixedLenByteArray
                         ? static_cast<size_t>(desc_.type_length)
                         : 0),
          dict_(kIsBytes ? fixed_len_ : sizeof(T)) {
        dict_enabled_ = options.dictionary_max_bytes > 0;
        dict_mode_ = dict_enabled_;
    }

    void WriteInt32(int32_t v, int16_t rep) override {
        if constexpr (std::is_same_v<T, int32_t>) {
            Enter(max_def_, rep, ValueBytes());
            Add(v);
        } else {
            Mismatch("WriteInt32");
        }
    }
    void WriteInt64(int64_t v, int16_t rep) override {
        if constexpr (std::is_same_v<T, int64_t>) {
            Enter(max_def_, rep, ValueBytes());
            Add(v);
        } else {
            Mismatch("WriteInt64");
        }
    }
    void WriteFloat(float v, int16_t rep) override {
        if constexpr (std::is_same_v<T, float>) {
            Enter(max_def_, rep, ValueBytes());
            Add(v);
        } else {
            Mismatch("WriteFloat");
        }
    }
    void WriteDouble(double v, int16_t rep) override {
        if constexpr (std::is_same_v<T, double>) {
            Enter(max_def_, rep, ValueBytes());
            Add(v);
        } else {
            Mismatch("WriteDouble");
        }
    }
    void WriteBytes(std::string_view v, int16_t rep) override {
        if constexpr (kIsBytes) {
            if (fixed_len_ != 0 && v.size() != fixed_len_) [[unlikely]]
                throw std::invalid_argument(
                    "Parquet column '" + PathString(desc_.path) + "' is FIXED_LEN_BYTE_ARRAY(" +
                    std::to_string(fixed_len_) + "); got " + std::to_string(v.size()) + " bytes");
            if (v.size() > std::numeric_limits<uint32_t>::max()) [[unlikely]]
                throw std::invalid_argument("Parquet column '" + PathString(desc_.path) +
                                            "': a value is larger than 4 GiB");
            Enter(max_def_, rep, ValueBytes());
            Add(v);
        } else {
            Mismatch("WriteBytes");
        }
    }

protected:
    size_t PageValueBytes() const override { return ValueBytes(); }
    inline size_t ValueBytes() const {
        if (dict_mode_)
            return (indices_.size() * static_cast<size_t>(BitWidth(dict_.size())) + 7) / 8;
        return plain_.size();
    }

    Encoding EncodeValues(Buffer *body) override {
        if (dict_mode_ && dict_.size() == 0) {
            // Only nulls so far: a dictionary page without entries is legal but unusual enough to
            // trip readers, so such a page is PLAIN (it has no values) and the chunk stays PLAIN.
            dict_mode_ = false;
        }
        if (dict_mode_) {
            int width = std::max(1, BitWidth(dict_.size() > 0 ? dict_.size() - 1 : 0));
            body->PushByte(static_cast<uint8_t>(width));
            EncodeRleHybrid(indices_.data(), indices_.size(), width, body);
            indices_.clear();
            return kRleDictionary;
        }
        body->Append(plain_.data(), plain_.size());
        plain_.clear();
        return kPlain;
    }

    EncodedStats TakePageStats() override {
        EncodedStats s = Encode(page_);
        if constexpr (std::is_floating_point_v<T>) {
            s.nan_count = page_nans_;
            chunk_nans_ += page_nans_;
            page_nans_ = 0;
        }
        if (page_.has) {
            if (!chunk_.has) {
                chunk_.has = true;
                chunk_.min = page_.min;
                chunk_.max = page_.max;
            } else {
                if (Less(AsT(page_.min), AsT(chunk_.min))) chunk_.min = page_.min;
                if (Less(AsT(chunk_.max), AsT(page_.max))) chunk_.max = page_.max;
            }
        }
        page_.has = false;
        return s;
    }
    EncodedStats ChunkStats() const override {
        EncodedStats s = Encode(chunk_);
        if constexpr (std::is_floating_point_v<T>) s.nan_count = chunk_nans_;
        return s;
    }
    void ResetChunk() override {
        chunk_.has = false;
        chunk_nans_ = 0;
        dict_.clear();
        dict_mode_ = dict_enabled_;
        dict_values_ = 0;
        plain_equiv_ = 0;
    }
    const Buffer &DictionaryPlain() const override { return dict_.plain(); }
    uint32_t DictionarySize() const override { return dict_.size(); }
    size_t DictionaryPlainBytes() const override { return dict_.plain_bytes(); }
    void FallBackToPlain() override { dict_mode_ = false; }
    void MaybeDropDictionary() override {
        if (dict_mode_) CheckDictionaryPays();
    }

private:
    static T AsT(const typename Bounds<T>::Stored &s) {
        if constexpr (kIsBytes) {
            return std::string_view(s);
        } else {
            return s;
        }
    }

    inline void Add(T v) {
        if (dict_mode_) {
            bool inserted;
            uint32_t idx;
            if constexpr (kIsBytes) {
                idx = dict_.Insert(v, &inserted);
            } else {
                idx = dict_.Insert(std::string_view(reinterpret_cast<const char *>(&v), sizeof(T)),
                                   &inserted);
            }
            indices_.push_back(idx);
            if constexpr (kIsBytes) plain_equiv_ += v.size() + (fixed_len_ == 0 ? 4 : 0);
            if (inserted && dict_.plain_bytes() > dict_max_) [[unlikely]]
                fallback_pending_ = true;
            if (++dict_values_ % kDictionaryCheckInterval == 0) [[unlikely]]
                CheckDictionaryPays();
        } else {
            if constexpr (kIsBytes) {
                if (fixed_len_ == 0) plain_.AppendLE(static_cast<uint32_t>(v.size()));
                plain_.Append(v);
            } else {
                plain_.AppendLE(v);
            }
        }
        if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(v))
                [[unlikely]] {  // NaN has no place in min/max (parquet.thrift ColumnOrder)
                ++page_nans_;
                return;
            }
        }
        if (!page_.has) [[unlikely]] {
            page_.has = true;
            page_.min = v;
            page_.max = v;
            return;
        }
        if (Less(v, AsT(page_.min))) {
            page_.min = v;
        } else if (Less(AsT(page_.max), v)) {
            page_.max = v;
        }
    }

    // A dictionary pays when its entries plus the bit-packed indices are clearly smaller than the
    // PLAIN values would be. For near-unique columns (ids, timestamps, UUIDs) it does not: the
    // indices are as many as the values and, being a permutation, compress far worse than the
    // values themselves. Checked every kDictionaryCheckInterval values; when no page has been
    // cut yet the open page is turned into PLAIN and the dictionary dropped, so the chunk has no
    // dictionary page at all.
    void CheckDictionaryPays() {
        size_t plain = kIsBytes ? plain_equiv_ : dict_values_ * sizeof(T);
        size_t width = static_cast<size_t>(BitWidth(dict_.size()));
        size_t with_dict = dict_.plain_bytes() + (dict_values_ * width + 7) / 8;
        if (with_dict * 4 <= plain * 3) return;
        if (dict_data_pages_ > 0) {
            fallback_pending_ = true;
            return;
        }
        for (uint32_t idx : indices_) dict_.AppendPlain(idx, &plain_);
        indices_.clear();
        dict_.clear();
        dict_mode_ = false;
    }

    inline bool Less(T a, T b) const {
        if constexpr (kIsBytes) {
            if (order_ == SortOrder::kDecimalBytes && !a.empty() && !b.empty()) {
                // Two's complement big-endian: the first byte compares signed, the rest unsigned.
                auto fa = static_cast<int8_t>(a[0]);
                auto fb = static_cast<int8_t>(b[0]);
                if (fa != fb) return fa < fb;
                return a.substr(1) < b.substr(1);
            }
            return a < b;  // char_traits<char> compares as unsigned char, like memcmp
        } else if constexpr (std::is_integral_v<T>) {
            if (order_ == SortOrder::kUnsigned)
                return static_cast<std::make_unsigned_t<T>>(a) <
                       static_cast<std::make_unsigned_t<T>>(b);
            return a < b;
        } else {
            return a < b;
        }
    }

    EncodedStats Encode(const Bounds<T> &b) const {
        EncodedStats s;
        if (!b.has) return s;
        s.has_minmax = true;
        if constexpr (kIsBytes) {
            if (b.min.size() > kStatsMaxBytes && order_ == SortOrder::kBytes) {
                s.min = TruncatedMin(b.min);
                s.min_exact = false;
            } else {
                s.min = b.min;
            }
            if (b.max.size() > kStatsMaxBytes && order_ == SortOrder::kBytes) {
                if (!TruncatedMax(b.max, &s.max)) return EncodedStats{};
                s.max_exact = false;
            } else {
                s.max = b.max;
            }
        } else {
            T mn = b.min;
            T mx = b.max;
            if constexpr (std::is_floating_point_v<T>) {
                // parquet.thrift: a zero min is written as -0.0 and a zero max as +0.0, so that a
                // reader filtering on either zero does not skip the chunk.
                if (mn == 0) mn = -static_cast<T>(0);
                if (mx == 0) mx = static_cast<T>(0);
            }
            s.min.assign(reinterpret_cast<const char *>(&mn), sizeof(T));
            s.max.assign(reinterpret_cast<const char *>(&mx), sizeof(T));
        }
        return s;
    }

    SortOrder order_;
    size_t fixed_len_;
    bool dict_enabled_ = true;
    bool dict_mode_ = true;
    Dictionary dict_;
    static constexpr size_t kDictionaryCheckInterval = 4096;
    std::vector<uint32_t> indices_;
    size_t dict_values_ = 0;  // values dictionary-encoded in this chunk
    size_t plain_equiv_ = 0;  // BYTE_ARRAY/FLBA: their PLAIN size
    Buffer plain_;
    Bounds<T> page_;
    Bounds<T> chunk_;
    int64_t page_nans_ = 0;
    int64_t chunk_nans_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Schema

int ConvertedTypeOf(const LogicalType &l) {
    switch (l.kind) {
        case LogicalType::Kind::kString:
            return 0;  // UTF8
        case LogicalType::Kind::kList:
            return 3;
        case LogicalType::Kind::kEnum:
            return 4;
        case LogicalType::Kind::kDecimal:
            return 5;
        case LogicalType::Kind::kDate:
            return 6;
        // LogicalTypes.md: local times and timestamps carry the legacy annotation too.
        case LogicalType::Kind::kTime:
            return l.unit == TimeUnit::kMillis ? 7 : l.unit == TimeUnit::kMicros ? 8 : -1;
        case LogicalType::Kind::kTimestamp:
            return l.unit == TimeUnit::kMillis ? 9 : l.unit == TimeUnit::kMicros ? 10 : -1;
        case LogicalType::Kind::kInteger: {
            int i = l.bit_width == 8 ? 0 : l.bit_width == 16 ? 1 : l.bit_width == 32 ? 2 : 3;
            return (l.is_signed ? 15 : 11) + i;
        }
        case LogicalType::Kind::kJson:
            return 19;
        default:
            return -1;
    }
}

void WriteTimeUnit(CompactWriter &w, TimeUnit u) {
    w.FieldStructBegin(2);
    w.FieldStructBegin(u == TimeUnit::kMillis ? 1 : u == TimeUnit::kMicros ? 2 : 3);
    w.StructEnd();
    w.StructEnd();
}

void WriteLogicalType(CompactWriter &w, const LogicalType &l) {
    using K = LogicalType::Kind;
    if (l.kind == K::kNone) return;
    w.FieldStructBegin(10);
    switch (l.kind) {
        case K::kString:
            w.FieldStructBegin(1);
            break;
        case K::kList:
            w.FieldStructBegin(3);
            break;
        case K::kEnum:
            w.FieldStructBegin(4);
            break;
        case K::kDecimal:
            w.FieldStructBegin(5);
            w.FieldI32(1, l.scale);
            w.FieldI32(2, l.precision);
            break;
        case K::kDate:
            w.FieldStructBegin(6);
            break;
        case K::kTime:
        case K::kTimestamp:
            w.FieldStructBegin(l.kind == K::kTime ? 7 : 8);
            w.FieldBool(1, l.adjusted_to_utc);
            WriteTimeUnit(w, l.unit);
            break;
        case K::kInteger:
            w.FieldStructBegin(10);
            w.FieldI8(1, static_cast<int8_t>(l.bit_width));
            w.FieldBool(2, l.is_signed);
            break;
        case K::kJson:
            w.FieldStructBegin(12);
            break;
        case K::kUuid:
            w.FieldStructBegin(14);
            break;
        case K::kNone:
            break;
    }
    w.StructEnd();  // the member struct
    w.StructEnd();  // the union
}

int CountElements(const SchemaNode &n) {
    int c = 1;
    for (const auto &ch : n.children) c += CountElements(ch);
    return c;
}

void WriteSchemaElement(CompactWriter &w, const SchemaNode &n, bool root) {
    w.ElemStructBegin();
    if (!n.is_group()) {
        w.FieldI32(1, static_cast<int32_t>(n.type));
        if (n.type == PhysicalType::kFixedLenByteArray) w.FieldI32(2, n.type_length);
    }
    if (!root) w.FieldI32(3, static_cast<int32_t>(n.repetition));
    w.FieldBinary(4, n.name);
    if (n.is_group()) w.FieldI32(5, static_cast<int32_t>(n.children.size()));
    int converted = root ? -1 : ConvertedTypeOf(n.logical);
    if (converted >= 0) w.FieldI32(6, converted);
    if (!root && n.logical.kind == LogicalType::Kind::kDecimal) {
        w.FieldI32(7, n.logical.scale);
        w.FieldI32(8, n.logical.precision);
    }
    if (!root) WriteLogicalType(w, n.logical);
    w.StructEnd();
    for (const auto &ch : n.children) WriteSchemaElement(w, ch, false);
}

[[noreturn]] void SchemaError(const std::string &path, const std::string &what) {
    throw std::invalid_argument("Parquet schema: '" + path + "' " + what);
}

// Digits a FIXED_LEN_BYTE_ARRAY(n) decimal can hold: floor(log10(2^(8n-1) - 1)). 2^k is never a
// power of ten, so the -1 does not change the floor.
int MaxDecimalDigits(int32_t n) {
    return static_cast<int>(std::floor((8.0 * n - 1) * std::log10(2.0)));
}

void ValidateLeaf(const SchemaNode &n, const std::string &path) {
    using K = LogicalType::Kind;
    const LogicalType &l = n.logical;
    PhysicalType t = n.type;
    switch (t) {
        case PhysicalType::kBoolean:
        case PhysicalType::kInt32:
        case PhysicalType::kInt64:
        case PhysicalType::kFloat:
        case PhysicalType::kDouble:
        case PhysicalType::kByteArray:
        case PhysicalType::kFixedLenByteArray:
            break;
        default:
            SchemaError(path,
                        "has an unknown physical type " + std::to_string(static_cast<int>(t)));
    }
    if (t == PhysicalType::kFixedLenByteArray && n.type_length <= 0)
        SchemaError(path, "is FIXED_LEN_BYTE_ARRAY without a positive type_length");
    auto wrong = [&](const char *logical, const char *allowed) {
        SchemaError(path, std::string("is ") + TypeName(t) + " but logical type " + logical +
                              " needs " + allowed);
    };
    switch (l.kind) {
        case K::kNone:
            break;
        case K::kString:
            if (t != PhysicalType::kByteArray) wrong("STRING", "BYTE_ARRAY");
            break;
        case K::kEnum:
            if (t != PhysicalType::kByteArray) wrong("ENUM", "BYTE_ARRAY");
            break;
        case K::kJson:
            if (t != PhysicalType::kByteArray) wrong("JSON", "BYTE_ARRAY");
            break;
        case K::kUuid:
            if (t != PhysicalType::kFixedLenByteArray || n.type_length != 16)
                wrong("UUID", "FIXED_LEN_BYTE_ARRAY(16)");
            break;
        case K::kDate:
            if (t != PhysicalType::kInt32) wrong("DATE", "INT32");
            break;
        case K::kTime:
            if (l.unit == TimeUnit::kMillis && t != PhysicalType::kInt32)
                wrong("TIME(MILLIS)", "INT32");
            if (l.unit != TimeUnit::kMillis && t != PhysicalType::kInt64)
                wrong("TIME(MICROS|NANOS)", "INT64");
            break;
        case K::kTimestamp:
            if (t != PhysicalType::kInt64) wrong("TIMESTAMP", "INT64");
            break;
        case K::kInteger:
            if (l.bit_width != 8 && l.bit_width != 16 && l.bit_width != 32 && l.bit_width != 64)
                SchemaError(path, "has INTEGER bit width " + std::to_string(l.bit_width) +
                                      "; it must be 8, 16, 32 or 64");
            if (l.bit_width == 64 && t != PhysicalType::kInt64) wrong("INTEGER(64)", "INT64");
            if (l.bit_width != 64 && t != PhysicalType::kInt32) wrong("INTEGER(8|16|32)", "INT32");
            break;
        case K::kDecimal: {
            if (l.precision < 1 || l.scale < 0 || l.scale > l.precision)
                SchemaError(path, "has DECIMAL(" + std::to_string(l.precision) + "," +
                                      std::to_string(l.scale) +
                                      "); it needs precision >= 1 and 0 <= scale <= precision");
            int max_digits = t == PhysicalType::kInt32   ? 9
                             : t == PhysicalType::kInt64 ? 18
                             : t == PhysicalType::kFixedLenByteArray
                                 ? MaxDecimalDigits(n.type_length)
                                 : -1;
            if (max_digits < 0) wrong("DECIMAL", "INT32, INT64 or FIXED_LEN_BYTE_ARRAY");
            if (l.precision > max_digits)
                SchemaError(path, "has DECIMAL precision " + std::to_string(l.precision) + " but " +
                                      TypeName(t) +
                                      (t == PhysicalType::kFixedLenByteArray
                                           ? "(" + std::to_string(n.type_length) + ")"
                                           : std::string()) +
                                      " holds at most " + std::to_string(max_digits) + " digits");
            break;
        }
        case K::kList:
            SchemaError(path, "is a leaf but LIST annotates a group (use SchemaNode::List)");
    }
}

void CollectColumns(const SchemaNode &n, std::vector<std::string> &path, int16_t def, int16_t rep,
                    std::vector<ColumnDescriptor> &out, std::vector<SortOrder> &orders) {
    std::string where = PathString(path);
    if (n.name.empty()) SchemaError(where.empty() ? "(root)" : where, "has a child without a name");
    if (n.repetition != Repetition::kRequired && n.repetition != Repetition::kOptional &&
        n.repetition != Repetition::kRepeated)
        SchemaError(where, "has an unknown repetition");
    if (n.repetition == Repetition::kOptional) ++def;
    if (n.repetition == Repetition::kRepeated) {
        ++def;
        ++rep;
    }
    if (!n.is_group()) {
        ValidateLeaf(n, where);
        ColumnDescriptor d;
        d.path = path;
        d.type = n.type;
        d.type_length = n.type == PhysicalType::kFixedLenByteArray ? n.type_length : 0;
        d.logical = n.logical;
        d.max_def = def;
        d.max_rep = rep;
        SortOrder o = SortOrder::kSigned;
        if (n.type == PhysicalType::kByteArray || n.type == PhysicalType::kFixedLenByteArray)
            o = n.logical.kind == LogicalType::Kind::kDecimal ? SortOrder::kDecimalBytes
                                                              : SortOrder::kBytes;
        else if (n.logical.kind == LogicalType::Kind::kInteger && !n.logical.is_signed)
            o = SortOrder::kUnsigned;
        out.push_back(std::move(d));
        orders.push_back(o);
        return;
    }
    if (n.logical.kind == LogicalType::Kind::kList) {
        if (n.children.size() != 1 || n.children[0].repetition != Repetition::kRepeated)
            SchemaError(where, "is a LIST but does not have exactly one repeated child");
    } else if (n.logical.kind != LogicalType::Kind::kNone) {
        SchemaError(where, "is a group; only LIST may annotate a group");
    }
    std::set<std::string_view> names;
    for (const auto &ch : n.children) {
        if (!names.insert(ch.name).second) SchemaError(where + "." + ch.name, "is defined twice");
        path.push_back(ch.name);
        CollectColumns(ch, path, def, rep, out, orders);
        path.pop_back();
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FileWriter

struct FileWriter::Impl {
    Output &out;
    SchemaNode root;
    WriterOptions options;
    Compressor compressor;
    std::vector<std::unique_ptr<ColumnBase>> columns;
    std::vector<RowGroupMeta> row_groups;
    int64_t buffered_rows = 0;
    int64_t rows_written = 0;
    uint64_t bytes_written = 0;
    bool closed = false;

    Impl(Output &o, const SchemaNode &r, WriterOptions opts)
        : out(o),
          root(r),
          options(std::move(opts)),
          compressor(options.codec, options.compression_level) {}

    void Emit(const uint8_t *data, size_t n) {
        if (n == 0) return;
        out.Write(data, n);
        bytes_written += n;
    }

    void WriteFooter();
};

FileWriter::FileWriter(Output &out, const SchemaNode &root, WriterOptions options)
    : impl_(std::make_unique<Impl>(out, root, std::move(options))) {
    if (!root.is_group())
        throw std::invalid_argument("Parquet schema: the root '" + root.name + "' has no columns");
    if (root.logical.kind != LogicalType::Kind::kNone)
        throw std::invalid_argument("Parquet schema: the root group cannot carry a logical type");
    std::vector<ColumnDescriptor> descs;
    std::vector<SortOrder> orders;
    std::vector<std::string> path;
    std::set<std::string_view> names;
    for (const auto &ch : root.children) {
        if (!names.insert(ch.name).second) SchemaError(ch.name, "is defined twice");
        path.push_back(ch.name);
        CollectColumns(ch, path, 0, 0, descs, orders);
        path.pop_back();
    }
    for (size_t i = 0; i < descs.size(); ++i) {
        Compressor *c = &impl_->compressor;
        const WriterOptions &o = impl_->options;
        std::unique_ptr<ColumnBase> col;
        switch (descs[i].type) {
            case PhysicalType::kBoolean:
                col = std::make_unique<BoolColumn>(std::move(descs[i]), o, c);
                break;
            case PhysicalType::kInt32:
                col = std::make_unique<TypedColumn<int32_t>>(std::move(descs[i]), o, c, orders[i]);
                break;
            case PhysicalType::kInt64:
                col = std::make_unique<TypedColumn<int64_t>>(std::move(descs[i]), o, c, orders[i]);
                break;
            case PhysicalType::kFloat:
                col = std::make_unique<TypedColumn<float>>(std::move(descs[i]), o, c, orders[i]);
                break;
            case PhysicalType::kDouble:
                col = std::make_unique<TypedColumn<double>>(std::move(descs[i]), o, c, orders[i]);
                break;
            case PhysicalType::kByteArray:
            case PhysicalType::kFixedLenByteArray:
                col = std::make_unique<TypedColumn<std::string_view>>(std::move(descs[i]), o, c,
                                                                      orders[i]);
                break;
        }
        impl_->columns.push_back(std::move(col));
    }
    impl_->Emit(kMagic, 4);
}

FileWriter::~FileWriter() = default;

size_t FileWriter::num_columns() const {
    return impl_->columns.size();
}

ColumnWriter &FileWriter::column(size_t i) {
    return *impl_->columns.at(i);
}

void FileWriter::AddRows(int64_t n) {
    impl_->buffered_rows += n;
}

int64_t FileWriter::buffered_rows() const {
    return impl_->buffered_rows;
}

size_t FileWriter::buffered_bytes() const {
    size_t total = 0;
    for (const auto &c : impl_->columns) total += c->BufferedBytes();
    return total;
}

uint64_t FileWriter::bytes_written() const {
    return impl_->bytes_written;
}

int64_t FileWriter::rows_written() const {
    return impl_->rows_written;
}

void FileWriter::FlushRowGroup() {
    Impl &im = *impl_;
    if (im.closed) throw std::logic_error("Parquet FileWriter::FlushRowGroup after Close");
    if (im.buffered_rows == 0) return;
    RowGroupMeta rg;
    rg.num_rows = im.buffered_rows;
    rg.file_offset = static_cast<int64_t>(im.bytes_written);
    for (auto &c : im.columns) {
        int64_t offset = static_cast<int64_t>(im.bytes_written);
        rg.columns.push_back(
            c->FinishChunk(offset, [&](const uint8_t *d, size_t n) { im.Emit(d, n); }));
    }
    im.rows_written += im.buffered_rows;
    im.buffered_rows = 0;
    im.row_groups.push_back(std::move(rg));
}

void FileWriter::Impl::WriteFooter() {
    Buffer meta;
    meta.reserve(4096);
    CompactWriter w(&meta);
    w.StructBegin();
    w.FieldI32(1, 2);
    w.FieldListBegin(2, CType::kStruct, static_cast<uint32_t>(CountElements(root)));
    WriteSchemaElement(w, root, true);
    w.FieldI64(3, rows_written);
    w.FieldListBegin(4, CType::kStruct, static_cast<uint32_t>(row_groups.size()));
    for (const RowGroupMeta &rg : row_groups) {
        w.ElemStructBegin();
        w.FieldListBegin(1, CType::kStruct, static_cast<uint32_t>(rg.columns.size()));
        int64_t total_uncompressed = 0;
        int64_t total_compressed = 0;
        for (size_t i = 0; i < rg.columns.size(); ++i) {
            const ChunkMeta &m = rg.columns[i];
            const ColumnDescriptor &d = columns[i]->descriptor();
            total_uncompressed += m.total_uncompressed;
            total_compressed += m.total_compressed;
            w.ElemStructBegin();  // ColumnChunk
            w.FieldI64(2, m.file_offset);
            w.FieldStructBegin(3);  // ColumnMetaData
            w.FieldI32(1, static_cast<int32_t>(d.type));
            std::vector<int32_t> encodings;
            if (m.dictionary_page_offset >= 0 || m.plain_data_pages > 0)
                encodings.push_back(kPlain);
            if (m.has_levels) encodings.push_back(kRle);
            if (m.dict_data_pages > 0) encodings.push_back(kRleDictionary);
            w.FieldListBegin(2, CType::kI32, static_cast<uint32_t>(encodings.size()));
            for (int32_t e : encodings) w.ElemI32(e);
            w.FieldListBegin(3, CType::kBinary, static_cast<uint32_t>(d.path.size()));
            for (const auto &p : d.path) w.ElemBinary(p);
            w.FieldI32(4, static_cast<int32_t>(options.codec));
            w.FieldI64(5, m.num_values);
            w.FieldI64(6, m.total_uncompressed);
            w.FieldI64(7, m.total_compressed);
            w.FieldI64(9, m.data_page_offset);
            if (m.dictionary_page_offset >= 0) w.FieldI64(11, m.dictionary_page_offset);
            WriteStatistics(w, 12, m.stats);
            // encoding_stats: lets readers see that every data page is dictionary-encoded (or not)
            // without reading the pages.
            uint32_t n_stats = (m.dictionary_page_offset >= 0 ? 1 : 0) +
                               (m.dict_data_pages > 0 ? 1 : 0) + (m.plain_data_pages > 0 ? 1 : 0);
            w.FieldListBegin(13, CType::kStruct, n_stats);
            auto page_stat = [&](int32_t type, int32_t enc, int32_t count) {
                w.ElemStructBegin();
                w.FieldI32(1, type);
                w.FieldI32(2, enc);
                w.FieldI32(3, count);
                w.StructEnd();
            };
            if (m.dictionary_page_offset >= 0) page_stat(kDictionaryPage, kPlain, 1);
            if (m.dict_data_pages > 0) page_stat(kDataPage, kRleDictionary, m.dict_data_pages);
            if (m.plain_data_pages > 0) page_stat(kDataPage, kPlain, m.plain_data_pages);
            w.StructEnd();  // ColumnMetaData
            w.StructEnd();  // ColumnChunk
        }
        w.FieldI64(2, total_uncompressed);
        w.FieldI64(3, rg.num_rows);
        w.FieldI64(5, rg.file_offset);
        w.FieldI64(6, total_compressed);
        w.StructEnd();
    }
    if (!options.key_value_metadata.empty()) {
        w.FieldListBegin(5, CType::kStruct,
                         static_cast<uint32_t>(options.key_value_metadata.size()));
        for (const auto &[k, v] : options.key_value_metadata) {
            w.ElemStructBegin();
            w.FieldBinary(1, k);
            w.FieldBinary(2, v);
            w.StructEnd();
        }
    }
    if (!options.created_by.empty()) w.FieldBinary(6, options.created_by);
    w.FieldListBegin(7, CType::kStruct, static_cast<uint32_t>(columns.size()));
    for (size_t i = 0; i < columns.size(); ++i) {
        w.ElemStructBegin();    // ColumnOrder (a union)
        w.FieldStructBegin(1);  // TYPE_ORDER: TypeDefinedOrder {}
        w.StructEnd();
        w.StructEnd();
    }
    w.StructEnd();
    Emit(meta.data(), meta.size());
    uint32_t len = static_cast<uint32_t>(meta.size());
    uint8_t tail[8];
    std::memcpy(tail, &len, 4);
    std::memcpy(tail + 4, kMagic, 4);
    Emit(tail, 8);
}

void FileWriter::Close() {
    Impl &im = *impl_;
    if (im.closed) return;
    FlushRowGroup();
    im.WriteFooter();
    im.closed = true;
}

}  // namespace cdcctl::parquet
