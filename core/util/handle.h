// RAII ownership of C library handles: a std::unique_ptr whose deleter calls the library's own
// release function, so a handle is freed on every path, exceptions included.
//
//   using PgConn = Handle<PGconn, PQfinish>;            // std::unique_ptr<PGconn, Free<PQfinish>>
//   using CurlSlist = Handle<curl_slist, curl_slist_free_all>;
//
// A raw handle never crosses a folder; wrap it where it is created.
#pragma once

#include <memory>

namespace cdcctl {

// A deleter calling Fn(p); Fn's return value (curl_multi_cleanup's status, say) is ignored.
template <auto Fn>
struct Free {
    template <typename T>
    void operator()(T *p) const {
        Fn(p);
    }
};

template <typename T, auto Fn>
using Handle = std::unique_ptr<T, Free<Fn>>;

}  // namespace cdcctl
