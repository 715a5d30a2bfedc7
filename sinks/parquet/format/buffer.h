// A growable byte buffer for the Parquet writer's hot path.
//
// std::vector<uint8_t>::resize zero-fills and std::string::append checks more than we need; the
// writer appends millions of small values per row group into buffers that are cleared and reused
// for the next page, so this one only grows (geometrically) and never shrinks until destroyed.
// Multi-byte values are appended in little-endian order, the byte order of every Parquet PLAIN
// value and length prefix; the static_assert below keeps us honest on big-endian hosts.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <type_traits>

namespace cdcctl::parquet {

static_assert(std::endian::native == std::endian::little,
              "the Parquet writer stores PLAIN values with memcpy and needs a little-endian host");

class Buffer {
public:
    Buffer() = default;
    ~Buffer() { std::free(data_); }
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    Buffer(Buffer &&o) noexcept : data_(o.data_), size_(o.size_), cap_(o.cap_) {
        o.data_ = nullptr;
        o.size_ = o.cap_ = 0;
    }
    Buffer &operator=(Buffer &&o) noexcept {
        if (this != &o) {
            std::free(data_);
            data_ = o.data_;
            size_ = o.size_;
            cap_ = o.cap_;
            o.data_ = nullptr;
            o.size_ = o.cap_ = 0;
        }
        return *this;
    }

    uint8_t *data() { return data_; }
    const uint8_t *data() const { return data_; }
    size_t size() const { return size_; }
    size_t capacity() const { return cap_; }
    bool empty() const { return size_ == 0; }
    void clear() { size_ = 0; }
    std::string_view view() const { return {reinterpret_cast<const char *>(data_), size_}; }

    void reserve(size_t n) {
        if (n > cap_) Reallocate(n);
    }
    // Makes room for n more bytes and returns where they go; the caller fills them and calls
    // Commit(n) (or fewer).
    uint8_t *Reserve(size_t n) {
        if (size_ + n > cap_) Reallocate(size_ + n);
        return data_ + size_;
    }
    void Commit(size_t n) { size_ += n; }
    // Grows the size by n and returns the start of the new (uninitialised) bytes.
    uint8_t *Grow(size_t n) {
        uint8_t *p = Reserve(n);
        size_ += n;
        return p;
    }
    void Resize(size_t n) {
        reserve(n);
        size_ = n;
    }

    void Append(const void *p, size_t n) {
        if (n == 0) return;
        std::memcpy(Reserve(n), p, n);
        size_ += n;
    }
    void Append(std::string_view s) { Append(s.data(), s.size()); }
    void PushByte(uint8_t b) {
        if (size_ == cap_) Reallocate(size_ + 1);
        data_[size_++] = b;
    }
    template <typename T>
    void AppendLE(T v) {
        static_assert(std::is_trivially_copyable_v<T>);
        if (size_ + sizeof(T) > cap_) Reallocate(size_ + sizeof(T));
        std::memcpy(data_ + size_, &v, sizeof(T));
        size_ += sizeof(T);
    }
    void AppendUleb128(uint64_t v) {
        uint8_t *p = Reserve(10);
        size_t n = 0;
        while (v >= 0x80) {
            p[n++] = static_cast<uint8_t>(v) | 0x80;
            v >>= 7;
        }
        p[n++] = static_cast<uint8_t>(v);
        size_ += n;
    }

private:
    void Reallocate(size_t need) {
        size_t cap = cap_ ? cap_ : 64;
        while (cap < need) cap += cap / 2 + 64;
        auto *p = static_cast<uint8_t *>(std::realloc(data_, cap));
        if (p == nullptr) throw std::bad_alloc();
        data_ = p;
        cap_ = cap;
    }

    uint8_t *data_ = nullptr;
    size_t size_ = 0;
    size_t cap_ = 0;
};

}  // namespace cdcctl::parquet
