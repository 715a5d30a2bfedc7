#include "core/runtime/signals.h"

#include <csignal>

#include <atomic>

namespace cdcctl::signals {
namespace {

std::atomic<int> g_signals{0};

void Handler(int) { g_signals.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

void Install() {
    struct sigaction sa {};
    sa.sa_handler = Handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: blocking waits return EINTR and see the flag
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

bool StopRequested() { return g_signals.load(std::memory_order_relaxed) > 0; }
bool AbortRequested() { return g_signals.load(std::memory_order_relaxed) > 1; }
void RequestStop() { g_signals.fetch_add(1, std::memory_order_relaxed); }
void Reset() { g_signals.store(0, std::memory_order_relaxed); }

}  // namespace cdcctl::signals
