# Shared by bench/pg_snapshot and bench/pg_stream; sourced, not run.
#
# It builds cdcctl (Release, in build-bench/), starts a throwaway PostgreSQL 15 with
# wal_level=logical and fsync=off in a temp dir on a free port (as the postgres user when run as
# root, like scripts/demo), creates the benchmark table (14 columns), and measures commands: wall
# time from the shell's monotonic clock, peak RSS from /usr/bin/time (or from wait4 through
# Python, or /proc, when /usr/bin/time is missing). Everything it starts is stopped by the EXIT
# trap.
#
# Environment: ROWS (default 1000000), RUNS (default 5), CDCCTL (a cdcctl binary to use instead
# of building one), PGBIN (default /usr/lib/postgresql/15/bin), BENCH_KEEP=1 (keep the temp dir).

set -euo pipefail

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-5}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer, not '$ROWS'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
[ -x "$PGBIN/initdb" ] || die "no PostgreSQL server in $PGBIN; install postgresql-15 or set PGBIN"

# --- cdcctl --------------------------------------------------------------------------------------

bench_build() {
    if [ -n "${CDCCTL:-}" ]; then
        [ -x "$CDCCTL" ] || die "CDCCTL='$CDCCTL' is not an executable"
        return
    fi
    log "== building cdcctl (Release) in build-bench/"
    cmake -S "$bench_root" -B "$bench_root/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$bench_root/build-bench" -j"$(nproc)" --target cdcctl >/dev/null
    CDCCTL=$bench_root/build-bench/cdcctl
}

# --- measuring -----------------------------------------------------------------------------------

# /usr/bin/time reports peak RSS; install it once if apt can, else fall back to wait4 via Python.
time_mode=
bench_pick_timer() {
    if [ -x /usr/bin/time ]; then
        time_mode=gnu
    elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 &&
        [ -x /usr/bin/time ]; then
        time_mode=gnu
    elif command -v python3 >/dev/null; then
        time_mode=python
    else
        time_mode=none
        log "note: neither /usr/bin/time nor python3: peak RSS is not measured"
    fi
}

# measure OUT -- CMD...: runs CMD with stdout to OUT; sets m_wall (seconds), m_rss_kb, m_status.
# The command's stderr goes to $tmp/last.err so a failure can be shown.
measure() {
    local out=$1
    shift 2
    local t0 t1 rss_file=$tmp/rss
    : >"$rss_file"
    t0=$(date +%s%N)
    set +e
    case $time_mode in
    gnu) /usr/bin/time -f '%M' -o "$rss_file" "$@" >"$out" 2>"$tmp/last.err" ;;
    python)
        python3 -c '
import os, resource, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
open(sys.argv[1], "w").write("%d\n" % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status) & 255)' "$rss_file" "$@" >"$out" 2>"$tmp/last.err"
        ;;
    *) "$@" >"$out" 2>"$tmp/last.err" ;;
    esac
    m_status=$?
    set -e
    t1=$(date +%s%N)
    m_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    m_rss_kb=$(tail -n 1 "$rss_file" 2>/dev/null | tr -dc 0-9)
    m_rss_kb=${m_rss_kb:-0}
    if [ "$m_status" != 0 ]; then
        log "command failed (exit $m_status): $*"
        tail -n 20 "$tmp/last.err" >&2
        exit 1
    fi
}

median() { # numbers as arguments
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "nan" }'; }
mb_per_s() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", n / s / 1e6; else print "nan" }'; }
mb() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'; }
kb_to_mb() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1024 }'; }

# --- the server ----------------------------------------------------------------------------------

tmp=
as_pg=()
bench_cleanup() {
    local rc=$?
    if [ -n "$tmp" ] && [ -d "$tmp" ]; then
        if [ -f "$tmp/data/postmaster.pid" ]; then
            "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
        fi
        if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
    fi
    exit "$rc"
}

bench_start_pg() {
    tmp=$(mktemp -d /tmp/cdcctl-bench.XXXXXX)
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    if [ "$(id -u)" = 0 ]; then
        as_pg=(runuser -u postgres --)
        chown postgres "$tmp"
    fi
    local port=55432
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    echo bench >"$tmp/pw"
    chmod 644 "$tmp/pw"
    "${as_pg[@]}" "$PGBIN/initdb" -D "$tmp/data" -U postgres --pwfile="$tmp/pw" -A scram-sha-256 \
        >/dev/null
    # max_wal_size: no checkpoint in the middle of a measured run.
    "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -o \
        "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$tmp \
         -c wal_level=logical -c fsync=off -c max_wal_size=8GB -c shared_buffers=256MB" \
        start >/dev/null
    export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGPASSWORD=bench PGDATABASE=postgres
    psql_ -c "CREATE DATABASE bench" >/dev/null
    export PGDATABASE=bench
    log "== PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on port $port, data in $tmp/data"
}

psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# The shape of the PeerDB and Airbyte PostgreSQL benchmarks: 14 columns (the types the issue lists), ~200 bytes of text a row.
bench_create_table() { # NAME
    psql_ -c "CREATE TABLE $1 (
        id bigint PRIMARY KEY, n integer,
        d1 double precision, d2 double precision, d3 double precision, d4 double precision,
        s1 varchar(32), s2 varchar(32), s3 varchar(32), s4 varchar(32), s5 varchar(32),
        t1 date, t2 date, t3 date)" >/dev/null
}

# The rows FROM..TO as one INSERT ... SELECT (one transaction). Deterministic but not constant.
bench_insert_sql() { # NAME FROM TO
    cat <<SQL
INSERT INTO $1
SELECT g, (g % 1000000)::int,
       g * 0.5, g / 3.0, sqrt(g), -g * 1.25,
       md5(g::text), md5((g + 1)::text), md5((g + 2)::text), md5((g + 3)::text), md5((g + 4)::text),
       date '2000-01-01' + (g % 9000)::int, date '2020-06-15' - (g % 5000)::int, date '1999-12-31'
FROM generate_series($2::bigint, $3::bigint) AS g;
SQL
}

# A pipeline file for TABLE into the stdout sink, state under $tmp/state.
bench_pipeline() { # FILE TABLE SNAPSHOT_MODE
    cat >"$1" <<YAML
pipeline: bench
mode: cdc
state: $tmp/state/bench.state
source:
  type: postgres
  host: \${PGHOST}
  port: \${PGPORT}
  user: \${PGUSER}
  password: \${PGPASSWORD}
  database: bench
  tables: [public.$2]
  topic_prefix: bench
  slot: bench_cdcctl
  publication: bench_pub
  snapshot: $3
sink:
  type: stdout
  format: envelope
  schemas: false
YAML
}

bench_header() {
    log "== cdcctl $("$CDCCTL" --version 2>/dev/null | head -n 1), $(nproc) cores, ROWS=$ROWS RUNS=$RUNS, $(date -u +%FT%TZ)"
}

# paired_ratio "A1 A2 ..." "B1 B2 ...": the median of Ai/Bi. Each pair ran back to back, so this
# is less disturbed by a noisy neighbour than the ratio of the two medians.
paired_ratio() {
    local -a a=($1) b=($2) r=()
    local i
    for i in "${!a[@]}"; do r+=("$(ratio "${a[$i]}" "${b[$i]}")"); done
    printf '%.2f' "$(median "${r[@]}")"
}
