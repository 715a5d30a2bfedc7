// The Elasticsearch sink's HTTP helpers: what URLs look like in messages and requests, and
// which transfer failures are worth a retry.
#include <doctest/doctest.h>

#include "sinks/elasticsearch/http_client.h"

using namespace cdcctl::es;

TEST_CASE("URLs in messages never carry user info") {
    CHECK(RedactUrl("https://elastic:s3cret@es.example.com:9200") == "https://es.example.com:9200");
    CHECK(RedactUrl("http://u:p@h:9200/a@b") == "http://h:9200/a@b");
    CHECK(RedactUrl("http://127.0.0.1:9200") == "http://127.0.0.1:9200");
    CHECK(RedactUrl("http://h:9200/path@x") == "http://h:9200/path@x");
}

TEST_CASE("paths join a node URL with exactly one slash") {
    CHECK(JoinUrl("http://h:9200", "/_bulk") == "http://h:9200/_bulk");
    CHECK(JoinUrl("http://h:9200/", "/_bulk") == "http://h:9200/_bulk");
    CHECK(JoinUrl("http://h:9200/prefix/", "foo.public.product") ==
          "http://h:9200/prefix/foo.public.product");
}

TEST_CASE("connection failures and timeouts are retried; TLS and setup errors are not") {
    CHECK(RetriableCurlError(CURLE_COULDNT_CONNECT));
    CHECK(RetriableCurlError(CURLE_OPERATION_TIMEDOUT));
    CHECK(RetriableCurlError(CURLE_RECV_ERROR));
    CHECK(RetriableCurlError(CURLE_GOT_NOTHING));
    CHECK(RetriableCurlError(CURLE_PARTIAL_FILE));
    CHECK_FALSE(RetriableCurlError(CURLE_PEER_FAILED_VERIFICATION));
    CHECK_FALSE(RetriableCurlError(CURLE_SSL_CACERT_BADFILE));
    CHECK_FALSE(RetriableCurlError(CURLE_URL_MALFORMAT));
}
