// The Elasticsearch sink over TLS: the certificate is verified against ca_file, an unknown
// certificate authority stops the run before anything is confirmed, and insecure: true is the
// only way around verification. The double speaks plain HTTP; socat terminates TLS in front of
// it with a certificate from a throwaway certificate authority made here with openssl.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "tests/integration/cdc_fixture.h"
#include "tests/integration/certificates.h"
#include "tests/servers/es_double.h"

using namespace cdcctl;
using namespace cdcctl::testing;

namespace {

bool Contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool Accepts(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
}

// socat terminating TLS on a free port and forwarding to the double.
struct TlsFront {
    TlsFront(const Certificates &certs, int backend_port) : port(FreePort()) {
        proc = std::make_unique<BackgroundProcess>(std::vector<std::string>{
            "socat",
            "OPENSSL-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr,fork,verify=0,cert=" +
                certs.server_cert + ",key=" + certs.server_key,
            "TCP:127.0.0.1:" + std::to_string(backend_port)});
        for (int i = 0; i < 100 && !Accepts(port); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        REQUIRE_MESSAGE(Accepts(port), "socat did not start listening on " << port);
    }
    int port;
    std::unique_ptr<BackgroundProcess> proc;
};

std::string Pipeline(CdcFixture &f, const std::string &name, int port, const std::string &tls) {
    return f.WritePipeline(name, "[public.product]", "",
                           "sink:\n  type: elasticsearch\n  url: https://127.0.0.1:" +
                               std::to_string(port) + "\n" + tls);
}

void CreateProduct(CdcFixture &f) {
    f.Sql("CREATE TABLE product (id bigint PRIMARY KEY, name text NOT NULL)");
    f.Sql("INSERT INTO product VALUES (1, 'kettle'), (2, 'teapot')");
}

}  // namespace

TEST_CASE("with ca_file the certificate is verified and the documents arrive over TLS") {
    CdcFixture f;
    CreateProduct(f);
    Certificates certs(f.dir);
    EsDouble es;
    TlsFront front(certs, es.port());
    std::string file = Pipeline(f, "tls", front.port, "  ca_file: " + certs.ca + "\n");

    ProcessResult check = f.Cdcctl({"check", file});
    CHECK_MESSAGE(check.exit_code == 0, check.Describe() << check.out);
    CHECK_MESSAGE(Contains(check.out, "PASS  elasticsearch https://127.0.0.1:"), check.out);

    ProcessResult r = f.Cdcctl({"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    auto docs = es.Documents("foo.public.product");
    REQUIRE(docs.size() == 2);
    CHECK(Contains(docs.at("1").source, "\"name\":\"kettle\""));
    CHECK(Contains(docs.at("2").source, "\"name\":\"teapot\""));
}

TEST_CASE("a certificate from an unknown authority stops the run and confirms nothing") {
    CdcFixture f;
    CreateProduct(f);
    Certificates certs(f.dir);
    EsDouble es;
    TlsFront front(certs, es.port());
    std::string file = Pipeline(f, "untrusted", front.port, "");

    ProcessResult check = f.Cdcctl({"check", file});
    CHECK_MESSAGE(check.exit_code == 69, check.Describe() << check.out);
    CHECK_MESSAGE(Contains(check.out, "FAIL  elasticsearch https://127.0.0.1:"), check.out);

    ProcessResult r = f.Cdcctl({"run", "--once", file});
    CHECK_MESSAGE((r.exit_code == 69 || r.exit_code == 74), r.Describe());
    CHECK_MESSAGE(Contains(r.err, "certificate"), r.err);
    CHECK(es.Documents("foo.public.product").empty());
    // No position was saved.
    CHECK_FALSE(std::filesystem::exists(f.dir.File(".cdcctl/untrusted.state")));

    // The same file with the authority added converges: nothing was lost.
    WriteFile(file, ReadFile(file) + "  ca_file: " + certs.ca + "\n");
    ProcessResult again = f.Cdcctl({"run", "--once", file});
    REQUIRE_MESSAGE(again.exit_code == 0, again.Describe());
    CHECK(es.Documents("foo.public.product").size() == 2);
}

TEST_CASE("insecure: true skips verification and says so") {
    CdcFixture f;
    CreateProduct(f);
    Certificates certs(f.dir);
    EsDouble es;
    TlsFront front(certs, es.port());
    std::string file = Pipeline(f, "insecure", front.port, "  insecure: true\n");

    ProcessResult r = f.Cdcctl({"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "insecure"), r.err);
    CHECK(es.Documents("foo.public.product").size() == 2);
}
