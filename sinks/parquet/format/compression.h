// Page compression for the Parquet writer: each page's body (levels and values, or the
// dictionary) is compressed on its own with the column chunk's codec.
//
//   SNAPPY  raw snappy (no framing), as parquet.thrift's CompressionCodec says.
//   GZIP    a gzip member (RFC 1952 header and trailer), which is what readers expect; zlib's
//           deflate with windowBits 15 + 16 writes it.
//   ZSTD    one zstd frame (RFC 8878) with the content size in its header.
// The compressor keeps its zstd context and zlib stream between pages, so compressing a page
// allocates nothing once the first pages have been through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "sinks/parquet/format/buffer.h"
#include "sinks/parquet/format/parquet_writer.h"

namespace cdcctl::parquet {

class Compressor {
public:
    // level 0: the codec's default (zstd 3, gzip 6). Throws std::invalid_argument for a codec
    // this writer does not implement.
    Compressor(Codec codec, int level);
    ~Compressor();
    Compressor(const Compressor &) = delete;
    Compressor &operator=(const Compressor &) = delete;

    Codec codec() const { return codec_; }
    // Appends the compressed form of data[0..n) to out (a copy for UNCOMPRESSED). Throws
    // std::runtime_error when the library fails (it only does on allocation failure).
    void Compress(const uint8_t *data, size_t n, Buffer *out);

private:
    struct State;
    Codec codec_;
    int level_;
    std::unique_ptr<State> state_;
};

}  // namespace cdcctl::parquet
