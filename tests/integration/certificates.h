// A throwaway certificate authority and a server certificate for 127.0.0.1 (and localhost)
// signed by it, made with openssl in a test's directory: for the TLS tests of the Elasticsearch
// sink and of the PostgreSQL source.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/servers/process.h"

namespace cdcctl::testing {

struct Certificates {
    explicit Certificates(const TempDir &dir) : ca(dir.File("ca.pem")) {
        const std::string d = dir.path();
        Run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=cdcctl test CA", "-keyout", d + "/ca.key", "-out", ca},
            d);
        Run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
             d + "/server.key", "-out", d + "/server.csr"},
            d);
        WriteFile(d + "/san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
        Run({"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", ca, "-CAkey",
             d + "/ca.key", "-CAcreateserial", "-days", "2", "-extfile", d + "/san.ext", "-out",
             d + "/server.pem"},
            d);
        server_cert = d + "/server.pem";
        server_key = d + "/server.key";
    }

    static void Run(const std::vector<std::string> &argv, const std::string &cwd) {
        ProcessResult r = RunProcess(argv, {}, std::chrono::seconds(60), cwd);
        REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    }

    std::string ca, server_cert, server_key;
};

}  // namespace cdcctl::testing
