// cdcctl_es_double: the Elasticsearch double as a program of its own, for bench/es_sink and for
// trying the sink by hand. It prints "listening on http://127.0.0.1:PORT" once it accepts
// connections and serves until SIGTERM or SIGINT. Faults are injected over HTTP with
// POST /_double/fault (see tests/servers/es_double.h).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "tests/servers/es_double.h"

int main(int argc, char **argv) {
    CLI::App app{"A strict Elasticsearch double for cdcctl's tests and benchmarks."};
    cdcctl::testing::EsDouble::Options options;
    bool no_store = false;
    std::string version;
    app.add_option("--port", options.port, "port on 127.0.0.1; 0 picks a free one")->default_val(0);
    app.add_flag("--no-store", no_store, "accept and count documents but keep nothing (bench)");
    app.add_option("--version", version,
                   "the version GET / reports (default 8.13.4, or 2.11.1 for opensearch)");
    app.add_option("--distribution", options.distribution, "\"opensearch\" to act as OpenSearch")
        ->check(CLI::IsMember({"", "elasticsearch", "opensearch"}));
    app.add_option("--user", options.user, "require basic auth with this user");
    app.add_option("--password", options.password, "the password for --user");
    app.add_option("--api-key", options.api_key, "also accept \"Authorization: ApiKey <this>\"");
    CLI11_PARSE(app, argc, argv);
    if (options.distribution == "elasticsearch") options.distribution.clear();
    options.store = !no_store;
    if (!version.empty()) {
        options.version = version;
    } else if (options.distribution == "opensearch") {
        options.version = "2.11.1";
    }

    // Block the signals before any thread starts, so that only sigwait() receives them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    try {
        cdcctl::testing::EsDouble server(options);
        std::printf("listening on %s\n", server.url().c_str());
        std::fflush(stdout);
        int sig = 0;
        sigwait(&set, &sig);
        std::fprintf(stderr, "es double: signal %d, %llu bulk items accepted, stopping.\n", sig,
                     static_cast<unsigned long long>(server.bulk_items()));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cdcctl_es_double: %s\n", e.what());
        return 1;
    }
    return 0;
}
