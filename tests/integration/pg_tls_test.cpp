// The PostgreSQL source over TLS: with sslmode verify-full and sslrootcert naming the authority
// that signed the server's certificate, snapshot and stream work; an authority that did not sign
// it stops the run (exit 69) before anything is read, and `cdcctl check` fails the connection.
// The server runs with ssl = on and a certificate from a throwaway authority made with openssl.
#include <doctest/doctest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/integration/cdc_fixture.h"
#include "tests/integration/certificates.h"

using namespace cdcctl;
using namespace cdcctl::testing;

namespace {

bool Contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

// The server reads its key as the postgres user (when the tests run as root) and refuses a key
// others can read.
void HandToServer(const TempDir &dir, const Certificates &certs) {
    REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
    REQUIRE(::chmod(certs.server_cert.c_str(), 0644) == 0);
    REQUIRE(::chmod(certs.server_key.c_str(), 0600) == 0);
    if (::geteuid() == 0) {
        passwd *user = ::getpwnam("postgres");
        REQUIRE(user != nullptr);
        REQUIRE(::chown(certs.server_key.c_str(), user->pw_uid, user->pw_gid) == 0);
    }
}

struct TlsServer {
    TlsServer() : certs(dir) {
        HandToServer(dir, certs);
        PostgresServerOptions options;
        options.extra_conf = {"ssl = on", "ssl_cert_file = '" + certs.server_cert + "'",
                              "ssl_key_file = '" + certs.server_key + "'"};
        fixture = std::make_unique<CdcFixture>(options);
        fixture->Sql("CREATE TABLE product (id bigint PRIMARY KEY, name text)");
        fixture->Sql("INSERT INTO product VALUES (1, 'kettle')");
    }
    TempDir dir;
    Certificates certs;
    std::unique_ptr<CdcFixture> fixture;
};

}  // namespace

TEST_CASE("sslmode verify-full with sslrootcert: snapshot and stream over TLS") {
    TlsServer s;
    CdcFixture &f = *s.fixture;
    std::string file = f.WritePipeline("tls", "[public.product]",
                                       "  sslmode: verify-full\n  sslrootcert: " + s.certs.ca + "\n");
    ProcessResult check = f.Cdcctl({"check", file});
    CHECK_MESSAGE(check.exit_code == 0, check.Describe() << check.out);
    std::vector<Event> first = f.RunOnce(file);
    REQUIRE(first.size() == 1);
    CHECK(first[0].op == "r");
    f.Sql("INSERT INTO product VALUES (2, 'teapot')");
    std::vector<Event> second = f.RunOnce(file);
    REQUIRE(second.size() == 1);
    CHECK(second[0].op == "c");
    CHECK(second[0].Id() == "2");
}

TEST_CASE("an sslrootcert that did not sign the server's certificate: exit 69, nothing read") {
    TlsServer s;
    CdcFixture &f = *s.fixture;
    TempDir other_dir;
    Certificates other(other_dir);
    std::string file = f.WritePipeline("tls_wrong", "[public.product]",
                                       "  sslmode: verify-full\n  sslrootcert: " + other.ca + "\n");
    ProcessResult r = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE(r.exit_code == 69, r.Describe());
    CHECK(r.out.empty());
    CHECK_MESSAGE(Contains(r.err, "certificate verify failed"), r.err);
    ProcessResult check = f.Cdcctl({"check", file});
    CHECK(check.exit_code == 69);
    CHECK_MESSAGE(Contains(check.out, "FAIL"), check.out);
}
