#include "sinks/parquet/format/compression.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <stdexcept>
#include <string>

namespace cdcctl::parquet {

struct Compressor::State {
    ZSTD_CCtx *zstd = nullptr;
    z_stream zs{};
    bool zs_ready = false;

    ~State() {
        if (zstd != nullptr) ZSTD_freeCCtx(zstd);
        if (zs_ready) deflateEnd(&zs);
    }
};

Compressor::Compressor(Codec codec, int level)
    : codec_(codec), level_(level), state_(std::make_unique<State>()) {
    switch (codec) {
        case Codec::kUncompressed:
        case Codec::kSnappy:
            break;
        case Codec::kZstd:
            if (level_ == 0) level_ = 3;
            state_->zstd = ZSTD_createCCtx();
            if (state_->zstd == nullptr) throw std::bad_alloc();
            break;
        case Codec::kGzip:
            if (level_ == 0) level_ = 6;
            if (level_ < 1 || level_ > 9)
                throw std::invalid_argument("gzip compression_level must be 1..9, got " +
                                            std::to_string(level_));
            // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
            if (deflateInit2(&state_->zs, level_, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                throw std::runtime_error("zlib deflateInit2 failed");
            state_->zs_ready = true;
            break;
        default:
            throw std::invalid_argument(
                "Parquet codec " + std::to_string(static_cast<int>(codec)) +
                " is not supported; use UNCOMPRESSED, SNAPPY, GZIP or ZSTD");
    }
}

Compressor::~Compressor() = default;

void Compressor::Compress(const uint8_t *data, size_t n, Buffer *out) {
    switch (codec_) {
        case Codec::kUncompressed:
            out->Append(data, n);
            return;
        case Codec::kSnappy: {
            size_t cap = snappy::MaxCompressedLength(n);
            char *dst = reinterpret_cast<char *>(out->Reserve(cap));
            size_t len = 0;
            snappy::RawCompress(reinterpret_cast<const char *>(data), n, dst, &len);
            out->Commit(len);
            return;
        }
        case Codec::kZstd: {
            size_t cap = ZSTD_compressBound(n);
            void *dst = out->Reserve(cap);
            size_t len = ZSTD_compressCCtx(state_->zstd, dst, cap, data, n, level_);
            if (ZSTD_isError(len))
                throw std::runtime_error(std::string("zstd compression failed: ") +
                                         ZSTD_getErrorName(len));
            out->Commit(len);
            return;
        }
        case Codec::kGzip: {
            z_stream &zs = state_->zs;
            if (deflateReset(&zs) != Z_OK) throw std::runtime_error("zlib deflateReset failed");
            size_t cap = deflateBound(&zs, n);
            uint8_t *dst = out->Reserve(cap);
            zs.next_in = const_cast<Bytef *>(data);
            zs.avail_in = static_cast<uInt>(n);
            zs.next_out = dst;
            zs.avail_out = static_cast<uInt>(cap);
            int rc = deflate(&zs, Z_FINISH);
            if (rc != Z_STREAM_END)
                throw std::runtime_error("zlib deflate failed (" + std::to_string(rc) + ")");
            out->Commit(cap - zs.avail_out);
            return;
        }
        default:
            break;
    }
    throw std::invalid_argument("unsupported Parquet codec");
}

}  // namespace cdcctl::parquet
