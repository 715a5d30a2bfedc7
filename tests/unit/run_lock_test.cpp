#include "core/state/run_lock.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "core/error.h"
#include "tests/unit/temp_dir.h"

using namespace cdcctl;
using cdcctl::unit::TempDir;
namespace fs = std::filesystem;

namespace {


// Run `body` in a forked child (flock belongs to an open file description, so a second process
// is the real contender) and return what it reported.
std::string InChild(const std::function<std::string()> &body) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        std::string report;
        try {
            report = body();
        } catch (const LockError &e) {
            report = std::string("LockError: ") + e.what();
        } catch (const std::exception &e) {
            report = std::string("other error: ") + e.what();
        }
        ssize_t ignored = write(fds[1], report.data(), report.size());
        (void)ignored;
        _exit(0);  // skip the parent's doctest teardown and destructors
    }
    close(fds[1]);
    std::string report;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) report.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return report;
}

std::string TryAcquire(const std::string &state_path) {
    RunLock lock = RunLock::Acquire(state_path, "shop");
    return "acquired";
}

std::string ReadFile(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("a second run of the same pipeline is refused with the holder's pid") {
    TempDir tmp;
    std::string state = tmp.Path(".cdcctl/shop.state");
    RunLock lock = RunLock::Acquire(state, "shop");
    std::string report = InChild([&] { return TryAcquire(state); });
    CHECK(report == "LockError: pipeline 'shop' is already running (pid " +
                        std::to_string(getpid()) + " holds '" + state +
                        ".lock'); wait for it to finish or stop it");
}

TEST_CASE("the lock can be taken again once released") {
    TempDir tmp;
    std::string state = tmp.Path("shop.state");
    { RunLock lock = RunLock::Acquire(state, "shop"); }
    CHECK(InChild([&] { return TryAcquire(state); }) == "acquired");

    RunLock lock = RunLock::Acquire(state, "shop");
    lock.Release();
    CHECK_FALSE(lock.held());
    CHECK(InChild([&] { return TryAcquire(state); }) == "acquired");
}

TEST_CASE("a run that dies while holding the lock does not block the next one") {
    TempDir tmp;
    std::string state = tmp.Path("shop.state");
    // The child exits without running destructors, as a crash would.
    InChild([&] {
        static RunLock *leaked = new RunLock(RunLock::Acquire(state, "shop"));
        (void)leaked;
        return std::string("holding");
    });
    CHECK_NOTHROW(RunLock::Acquire(state, "shop"));
}

TEST_CASE("two locks in one process also exclude each other") {
    TempDir tmp;
    std::string state = tmp.Path("shop.state");
    RunLock lock = RunLock::Acquire(state, "shop");
    CHECK_THROWS_AS(RunLock::Acquire(state, "shop"), LockError);
}

TEST_CASE("a refused contender leaves the holder's pid in the lock file") {
    TempDir tmp;
    std::string state = tmp.Path("shop.state");
    RunLock lock = RunLock::Acquire(state, "shop");
    CHECK_THROWS_AS(RunLock::Acquire(state, "shop"), LockError);
    CHECK(ReadFile(state + ".lock") == std::to_string(getpid()) + "\n");
}

TEST_CASE("a moved lock is still held and is released once") {
    TempDir tmp;
    std::string state = tmp.Path("shop.state");
    RunLock first = RunLock::Acquire(state, "shop");
    RunLock second = std::move(first);
    CHECK(second.held());
    CHECK(second.path() == state + ".lock");
    CHECK(InChild([&] { return TryAcquire(state); }).rfind("LockError: ", 0) == 0);
    second = RunLock::Acquire(tmp.Path("other.state"), "other");
    CHECK(InChild([&] { return TryAcquire(state); }) == "acquired");
}

TEST_CASE("the lock file is a sidecar that stays after release") {
    TempDir tmp;
    std::string state = tmp.Path("a/b/shop.state");
    {
        RunLock lock = RunLock::Acquire(state, "shop");
        CHECK(fs::is_regular_file(state + ".lock"));
        CHECK_FALSE(fs::exists(state));
    }
    CHECK(fs::is_regular_file(state + ".lock"));
}

TEST_CASE("a lock file that cannot be created is a state error naming it") {
    TempDir tmp;
    std::string state = tmp.Path("shop.state");
    fs::create_directory(state + ".lock");
    CHECK_THROWS_WITH_AS(RunLock::Acquire(state, "shop"),
                         doctest::Contains(("cannot open lock file '" + state + ".lock'").c_str()),
                         StateError);
}
