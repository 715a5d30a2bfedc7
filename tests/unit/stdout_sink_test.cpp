#include "sinks/stdout/stdout_sink.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "core/error.h"

using namespace cdcctl;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Stands in for the envelope encoder: {"i":N} with N taken from the event's ts_ms.
void EncodeIndex(const ChangeEvent &event, std::string *out) {
    out->append("{\"i\":");
    out->append(std::to_string(event.ts_ms));
    out->push_back('}');
}

// Batch `seq` holds events first, first+1, ... first+count-1.
Batch MakeBatch(uint64_t seq, int first, int count) {
    Batch batch;
    batch.seq = seq;
    for (int i = 0; i < count; ++i) batch.Add().ts_ms = first + i;
    return batch;
}

// The NDJSON the sink writes for MakeBatch(seq, first, count).
std::string Lines(int first, int count) {
    std::string out;
    for (int i = 0; i < count; ++i) out += "{\"i\":" + std::to_string(first + i) + "}\n";
    return out;
}

struct Pipe {
    Pipe() { REQUIRE(pipe(fds) == 0); }
    ~Pipe() {
        CloseReader();
        if (fds[1] >= 0) close(fds[1]);
    }
    int reader() const { return fds[0]; }
    int writer() const { return fds[1]; }
    std::string Read(size_t n) {
        std::string out(n, '\0');
        size_t got = 0;
        while (got < n) {
            ssize_t r = read(fds[0], out.data() + got, n - got);
            REQUIRE(r > 0);
            got += static_cast<size_t>(r);
        }
        return out;
    }
    void CloseReader() {
        if (fds[0] >= 0) close(fds[0]);
        fds[0] = -1;
    }
    int fds[2] = {-1, -1};
};

struct TempFile {
    TempFile() {
        std::string pattern = (fs::temp_directory_path() / "cdcctl_stdout_XXXXXX").string();
        fd = mkstemp(pattern.data());
        REQUIRE(fd >= 0);
        path = pattern;
    }
    ~TempFile() {
        close(fd);
        unlink(path.c_str());
    }
    std::string Content() const {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    int fd;
    std::string path;
};

// Three batches of 2, 3 and 4 events, written to `sink`.
void WriteThreeBatches(StdoutSink &sink) {
    REQUIRE(sink.Write(MakeBatch(1, 0, 2)) == Sink::WriteResult::kOk);
    REQUIRE(sink.Write(MakeBatch(2, 2, 3)) == Sink::WriteResult::kOk);
    REQUIRE(sink.Write(MakeBatch(3, 5, 4)) == Sink::WriteResult::kOk);
}

}  // namespace

TEST_CASE("pipe: batches the reader has not read are not durable") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    WriteThreeBatches(sink);
    sink.Flush(20ms);
    CHECK(sink.DurableSeq() == 0);
}

TEST_CASE("pipe: batches become durable once the reader has read them") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    WriteThreeBatches(sink);
    CHECK(pipe.Read(Lines(0, 9).size()) == Lines(0, 9));
    sink.Flush(1s);
    CHECK(sink.DurableSeq() == 3);
}

TEST_CASE("pipe: a batch the reader has read only part of is not durable") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    WriteThreeBatches(sink);
    pipe.Read(Lines(0, 2).size() + 3);  // all of batch 1, a few bytes of batch 2
    CHECK(sink.DurableSeq() == 1);
}

TEST_CASE("pipe: when the reader leaves mid-batch, Write reports kClosed and nothing is durable") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    WriteThreeBatches(sink);
    pipe.Read(Lines(0, 2).size() / 2);
    pipe.CloseReader();  // `| head -c N` exiting; without SIGPIPE ignored this test would die

    CHECK(sink.Write(MakeBatch(4, 9, 1)) == Sink::WriteResult::kClosed);
    CHECK(sink.Write(MakeBatch(5, 10, 1)) == Sink::WriteResult::kClosed);
    sink.Flush(100ms);
    CHECK(sink.DurableSeq() == 0);
}

TEST_CASE("pipe: what the reader consumed before leaving stays durable") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    WriteThreeBatches(sink);
    pipe.Read(Lines(0, 5).size());  // batches 1 and 2
    pipe.CloseReader();
    CHECK(sink.Write(MakeBatch(4, 9, 1)) == Sink::WriteResult::kClosed);
    CHECK(sink.DurableSeq() == 2);
}

TEST_CASE("pipe: Flush returns as soon as the reader has gone") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    WriteThreeBatches(sink);
    pipe.CloseReader();
    auto start = std::chrono::steady_clock::now();
    sink.Flush(10s);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK(sink.DurableSeq() == 0);
    CHECK(sink.Write(MakeBatch(4, 9, 1)) == Sink::WriteResult::kClosed);
}

TEST_CASE("pipe: Flush waits for a reader that drains the pipe meanwhile") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    WriteThreeBatches(sink);
    std::thread reader([&] {
        std::this_thread::sleep_for(30ms);
        pipe.Read(Lines(0, 9).size());
    });
    sink.Flush(10s);
    CHECK(sink.DurableSeq() == 3);
    reader.join();
}

TEST_CASE("pipe: Flush gives up after max_wait when the reader does not read") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    WriteThreeBatches(sink);
    auto start = std::chrono::steady_clock::now();
    sink.Flush(50ms);
    auto waited = std::chrono::steady_clock::now() - start;
    CHECK(waited >= 50ms);
    CHECK(waited < 2s);
    CHECK(sink.DurableSeq() == 0);
}

TEST_CASE("pipe: a batch larger than the pipe buffer arrives whole") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    const std::string expected = Lines(0, 20000);  // about 220 KiB, the pipe holds 64 KiB
    std::string received;
    std::thread reader([&] { received = pipe.Read(expected.size()); });
    CHECK(sink.Write(MakeBatch(1, 0, 20000)) == Sink::WriteResult::kOk);
    reader.join();
    CHECK(received == expected);
    sink.Flush(1s);
    CHECK(sink.DurableSeq() == 1);
}

TEST_CASE("pipe: a non-blocking descriptor still gets every byte") {
    Pipe pipe;
    REQUIRE(fcntl(pipe.writer(), F_SETFL, fcntl(pipe.writer(), F_GETFL) | O_NONBLOCK) == 0);
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    const std::string expected = Lines(0, 20000);
    std::string received;
    std::thread reader([&] {
        std::this_thread::sleep_for(20ms);
        received = pipe.Read(expected.size());
    });
    CHECK(sink.Write(MakeBatch(1, 0, 20000)) == Sink::WriteResult::kOk);
    reader.join();
    CHECK(received == expected);
}

TEST_CASE("pipe: an empty batch is durable once the batches before it are") {
    Pipe pipe;
    StdoutSink sink({}, EncodeIndex, pipe.writer());
    sink.Open();
    REQUIRE(sink.Write(MakeBatch(1, 0, 2)) == Sink::WriteResult::kOk);
    REQUIRE(sink.Write(MakeBatch(2, 0, 0)) == Sink::WriteResult::kOk);
    CHECK(sink.DurableSeq() == 0);
    pipe.Read(Lines(0, 2).size());
    CHECK(sink.DurableSeq() == 2);
}

TEST_CASE("file: batches are durable after Flush, and the file holds exactly the lines") {
    TempFile file;
    StdoutSink sink({}, EncodeIndex, file.fd);
    sink.Open();
    WriteThreeBatches(sink);
    CHECK(sink.DurableSeq() == 0);
    sink.Flush(0ms);
    CHECK(sink.DurableSeq() == 3);
    CHECK(file.Content() == Lines(0, 9));
}

TEST_CASE("/dev/null: a written batch is durable at once") {
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    StdoutSink sink({}, EncodeIndex, fd);
    sink.Open();
    WriteThreeBatches(sink);
    CHECK(sink.DurableSeq() == 3);
    close(fd);
}

TEST_CASE("socket: a written batch is durable at once") {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    StdoutSink sink({}, EncodeIndex, fds[0]);
    sink.Open();
    REQUIRE(sink.Write(MakeBatch(1, 0, 2)) == Sink::WriteResult::kOk);
    CHECK(sink.DurableSeq() == 1);
    close(fds[1]);
    CHECK(sink.Write(MakeBatch(2, 2, 1)) == Sink::WriteResult::kClosed);
    close(fds[0]);
}

TEST_CASE("a full disk is a SinkError naming the error, not a closed reader") {
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    StdoutSink sink({}, EncodeIndex, fd);
    sink.Open();
    CHECK_THROWS_WITH_AS(sink.Write(MakeBatch(1, 0, 1)),
                         doctest::Contains("No space left on device"), SinkError);
    CHECK(sink.DurableSeq() == 0);
    close(fd);
}

TEST_CASE("a closed descriptor is reported when the sink opens") {
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    close(fd);
    StdoutSink sink({}, EncodeIndex, fd);
    CHECK_THROWS_WITH_AS(sink.Open(), doctest::Contains("is not open"), SinkError);
}

TEST_CASE("Close leaves the descriptor open") {
    Pipe pipe;
    {
        StdoutSink sink({}, EncodeIndex, pipe.writer());
        sink.Open();
        sink.Close();
    }
    CHECK(fcntl(pipe.writer(), F_GETFD) != -1);
}

TEST_CASE("file: a torn last line from a killed run is ended before the first event") {
    TempFile file;
    const std::string torn = "{\"id\":1}\n{\"id\":2,\"na";
    REQUIRE(write(file.fd, torn.data(), torn.size()) == static_cast<ssize_t>(torn.size()));
    REQUIRE(lseek(file.fd, 0, SEEK_END) == static_cast<off_t>(torn.size()));
    StdoutSink sink({}, EncodeIndex, file.fd);
    sink.Open();
    REQUIRE(sink.Write(MakeBatch(1, 0, 1)) == Sink::WriteResult::kOk);
    std::string content = file.Content();
    CHECK(content.rfind(torn + "\n", 0) == 0);
    // The event is a line of its own after the fragment.
    CHECK(content.size() > torn.size() + 1);
    CHECK(content.back() == '\n');
    CHECK(content.find('\n', torn.size() + 1) == content.size() - 1);
}

TEST_CASE("file: output that ends with a whole line is left as it is") {
    TempFile file;
    const std::string whole = "{\"id\":1}\n";
    REQUIRE(write(file.fd, whole.data(), whole.size()) == static_cast<ssize_t>(whole.size()));
    StdoutSink sink({}, EncodeIndex, file.fd);
    sink.Open();
    REQUIRE(sink.Write(MakeBatch(1, 0, 1)) == Sink::WriteResult::kOk);
    std::string content = file.Content();
    CHECK(content.rfind(whole, 0) == 0);
    CHECK(content.substr(whole.size(), 1) != "\n");
}

TEST_CASE("file: a descriptor positioned before the end is not written to on open") {
    TempFile file;
    const std::string torn = "{\"id\":1}\n{\"id\":2,\"na";
    REQUIRE(write(file.fd, torn.data(), torn.size()) == static_cast<ssize_t>(torn.size()));
    REQUIRE(lseek(file.fd, 0, SEEK_SET) == 0);  // as `1<>file` opens it
    StdoutSink sink({}, EncodeIndex, file.fd);
    sink.Open();
    CHECK(file.Content() == torn);
}

TEST_CASE("file: a write-only appending descriptor with a torn last line gets its newline too") {
    TempFile file;
    const std::string torn = "{\"id\":2,\"na";
    REQUIRE(write(file.fd, torn.data(), torn.size()) == static_cast<ssize_t>(torn.size()));
    int fd = open(file.path.c_str(), O_WRONLY | O_APPEND);  // as `>> file` opens it
    REQUIRE(fd >= 0);
    {
        StdoutSink sink({}, EncodeIndex, fd);
        sink.Open();
        REQUIRE(sink.Write(MakeBatch(1, 0, 1)) == Sink::WriteResult::kOk);
    }
    close(fd);
    CHECK(file.Content().rfind(torn + "\n", 0) == 0);
}
