#!/usr/bin/env bash
# tests/bench/serve/run.sh — provgate's cached serving against nginx, same run.
#
# One nginx (Debian package, own config under a temp dir: static files,
# sendfile, keepalive, open_file_cache, gzip_static, PEP 691 negotiation on
# Accept — as ../shared/bench/conf/upstream.conf.in) serves the data made by
# ../shared/bench/gen_data.py.  It is both the upstream provgate fetches from
# and the baseline it is compared with.  provgate runs in front of it with a
# fresh cache, is warmed (every measured URL fetched once and checked), then
# wrk loads both, interleaved (for each repeat, for each row: one, then the
# other; nginx first on odd repeats, provgate first on even ones), so drift
# in machine load and the order hit both alike.  nginx's stub_status
# counter proves that provgate did not go upstream while measured.
#
# Rows: small JSON page (smallpkg, 10 files), the 2,000-file JSON page
# (numpy), the same with Accept-Encoding: gzip (nginx: gzip_static), a
# 10 KiB file, a 1 MiB file.  Then a 50 MiB download through provgate with a
# cold cache (page already cached) next to the same download straight from
# nginx, and warm, with curl, one connection.
# Row auth_file_10k (issue 13): the 10 KiB file with an HTTP Basic check on
# every request, a second provgate with auth = token (a token of `provgate
# tokens add`) against a second nginx server with auth_basic and a {SHA}
# password file (nginx has no bcrypt; {SHA} is one hash, as provgate's
# salted SHA-256), same run, printed as a ratio like the others.
#
# Usage: tests/bench/serve/run.sh          (from anywhere; prints markdown)
# Knobs (environment):
#   PROVGATE       provgate binary (default: build/proxy/provgate of this
#                  checkout; use a build without sanitizers to measure)
#   PG_SHARED_DIR  ../shared (gen_data.py is run from there, never copied)
#   DURATION       wrk duration per row and target (default 5s)
#   REPEATS        wrk repeats (default 1; the median is reported)
#   BIG_REPEATS    50 MiB downloads (default 3; each cold one on a new cache)
#   THREADS CONNS  wrk -t / -c (default 2 / 64)
#   BIG_FILES      files in the big page (default 2000; gen_data.py needs
#                  enough of them to pick its 1 MiB and 50 MiB files)
#   ROWS           subset of: small_json big_json big_json_gzip file_10k file_1m
#                  auth_file_10k
#   PG_SETS        extra "name=value ..." passed to provgate as --set
#                  (default access log: a file in the run directory;
#                  serve_loops: provgate's default, one serving thread
#                  per core; max_client_connections, and max_connections
#                  if needed: CONNS + 64, since every wrk connection comes
#                  from one address)
#   PG_POLICY      policy file for provgate (default: one with "mode = off":
#                  gen_data.py's provenance documents are placeholders that
#                  cannot verify, and this measures the caching data path)
#   WORK           work directory (default: a new mktemp -d, removed at the
#                  end unless KEEP=1)
# Everything binds 127.0.0.1.  Every process started is stopped by its PID
# (TERM, then KILL after 10 s), also on error or Ctrl-C.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SHARED=${PG_SHARED_DIR:-$ROOT/../shared}
PROVGATE=${PROVGATE:-$ROOT/build/proxy/provgate}
DURATION=${DURATION:-5s}
REPEATS=${REPEATS:-1}
BIG_REPEATS=${BIG_REPEATS:-3}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
BIG_FILES=${BIG_FILES:-2000}
ROWS=${ROWS:-"small_json big_json big_json_gzip file_10k file_1m auth_file_10k"}
PG_SETS=${PG_SETS:-}
KEEP=${KEEP:-0}
JSON_ACCEPT='application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

[ -f "$SHARED/bench/gen_data.py" ] || die "no $SHARED/bench/gen_data.py (set PG_SHARED_DIR)"
[ -x "$PROVGATE" ] || die "no provgate binary at $PROVGATE (set PROVGATE)"
command -v nginx >/dev/null || die "nginx missing (apt-get install nginx)"
command -v wrk >/dev/null || die "wrk missing (apt-get install wrk)"
command -v curl >/dev/null || die "curl missing"

if [ -z "${WORK:-}" ]; then
    WORK=$(mktemp -d /tmp/pg-bench-serve.XXXXXX)
    OWN_WORK=1
else
    mkdir -p "$WORK"
    OWN_WORK=0
fi
DATA=$WORK/data
RUN=$WORK/run
RAW=$WORK/raw
mkdir -p "$RUN" "$RAW"

# ------------------------------------------------------------ processes
declare -A PID_OF=()
stop() {                               # stop NAME
    local name=$1 pid=${PID_OF[$1]:-} i
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && { log "$name ($pid) ignored TERM: KILL"; kill -KILL "$pid" 2>/dev/null; }
    fi
    wait "$pid" 2>/dev/null
    PID_OF[$name]=""
}
cleanup() {
    stop provgate
    stop provgate_auth
    stop nginx
    if [ "$OWN_WORK" = 1 ] && [ "$KEEP" != 1 ]; then
        rm -rf "$WORK"
    else
        log "kept $WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_http() {                          # wait_http URL SECONDS
    local i
    for i in $(seq 1 $(($2 * 10))); do
        curl -s -o /dev/null --max-time 2 "$1" && return 0
        sleep 0.1
    done
    return 1
}

UP_PORT=$(free_port)
PG_PORT=$(free_port)
UP=http://127.0.0.1:$UP_PORT
PG=http://127.0.0.1:$PG_PORT
UPA_PORT=$(free_port)
PGA_PORT=$(free_port)
UPA=http://127.0.0.1:$UPA_PORT         # nginx with auth_basic
PGA=http://127.0.0.1:$PGA_PORT         # provgate with auth = token
case " $ROWS " in *" auth_file_10k "*) WANT_AUTH=1 ;; *) WANT_AUTH=0 ;; esac
AUTH_USER=bench
AUTH_PASS=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
# nginx's {SHA}: base64 of the password's SHA-1 (no salt, one hash).
mkdir -p "$RUN"
printf '%s:{SHA}%s\n' "$AUTH_USER" "$(printf '%s' "$AUTH_PASS" | openssl dgst -sha1 -binary | base64)" > "$RUN/htpasswd"

# ------------------------------------------------------------ data
log "generating data in $DATA (gen_data.py from $SHARED/bench)"
python3 "$SHARED/bench/gen_data.py" --out "$DATA" --base-url "$UP" \
    --big-files "$BIG_FILES" > "$RAW/gen_data.json" || die "gen_data.py failed"
mf() { python3 -c "import json,sys; d=json.load(open('$DATA/manifest.json')); print(eval(sys.argv[1]))" "$1"; }

# ------------------------------------------------------------ nginx
user_line=""
[ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
mkdir -p "$RUN/nginx-tmp"
cat > "$RUN/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $RUN/nginx.pid;
error_log $RUN/nginx-error.log warn;
$user_line
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    open_file_cache max=1000 inactive=60s;
    server_tokens off;
    access_log off;
    client_body_temp_path $RUN/nginx-tmp/body;
    proxy_temp_path       $RUN/nginx-tmp/proxy;
    fastcgi_temp_path     $RUN/nginx-tmp/fastcgi;
    uwsgi_temp_path       $RUN/nginx-tmp/uwsgi;
    scgi_temp_path        $RUN/nginx-tmp/scgi;
    map \$http_accept \$pypi_fmt {
        default                                                html;
        "~*application/vnd\.pypi\.simple\.(v1|latest)\+json"   json;
    }
    server {
        listen 127.0.0.1:$UP_PORT;
        root $DATA;
        location = /nginx_status { stub_status; }
        location ~ ^/simple/[^/]+\$ { return 301 \$uri/; }
        location /simple/ {
            types {
                application/vnd.pypi.simple.v1+json  json;
                text/html                            html;
            }
            gzip_static on;
            gzip_vary on;
            add_header Vary Accept;
            try_files \${uri}index.\$pypi_fmt =404;
        }
        location /packages/ { }
        location /integrity/ {
            default_type application/vnd.pypi.integrity.v1+json;
        }
    }
    server {
        listen 127.0.0.1:$UPA_PORT;
        root $DATA;
        location /packages/ {
            auth_basic "provgate";
            auth_basic_user_file $RUN/htpasswd;
        }
    }
}
EOF
nginx -t -q -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log" \
    || die "nginx config does not load (see $RUN/nginx-error.log)"
nginx -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log" > "$RUN/nginx.out" 2>&1 &
PID_OF[nginx]=$!
wait_http "$UP/nginx_status" 20 || die "nginx did not come up"
log "nginx (pid ${PID_OF[nginx]}) on $UP"
upstream_requests() { curl -s --max-time 5 "$UP/nginx_status" | awk 'NR==3 {print $3}'; }

# ------------------------------------------------------------ provgate
start_provgate() {                     # start_provgate CACHE_DIR [NAME PORT SET...]
    local cache=$1 name=${2:-provgate} port=${3:-$PG_PORT} sets=() kv
    shift $(( $# < 3 ? $# : 3 ))
    # provgate always writes its access log; as in production it goes to a
    # file (buffered, like nginx's "access_log … buffer="), not a terminal.
    # nginx runs with access_log off: that is nginx's advantage.
    case " $PG_SETS " in
        *" access_log="*) ;;
        *) sets+=(--set "access_log=$RUN/$name-access.log") ;;
    esac
    # wrk's CONNS connections all come from 127.0.0.1: one client address,
    # which max_client_connections (default 128) would cut to 128 (the rest
    # closed at accept: wrk counts connect/read errors, not throughput).
    # The bench measures serving, so the limits are raised to fit the run.
    case " $PG_SETS " in
        *" max_client_connections="*) ;;
        *) sets+=(--set "max_client_connections=$((CONNS + 64))") ;;
    esac
    case " $PG_SETS " in
        *" max_connections="*) ;;
        *) [ "$CONNS" -le 960 ] || sets+=(--set "max_connections=$((CONNS + 64))") ;;
    esac
    for kv in $PG_SETS; do sets+=(--set "$kv"); done
    for kv in "$@"; do sets+=(--set "$kv"); done
    : > "$RUN/$name.conf"
    "$PROVGATE" serve --config "$RUN/$name.conf" --listen "127.0.0.1:$port" \
        --upstream "$UP/simple/" --cache-dir "$cache" --allow-http \
        --policy "$POLICY" "${sets[@]}" \
        >> "$RUN/$name.log" 2>&1 &
    PID_OF[$name]=$!
    wait_http "http://127.0.0.1:$port/healthz" 60 || { tail -20 "$RUN/$name.log" >&2; die "$name did not come up"; }
    log "$name (pid ${PID_OF[$name]}) on 127.0.0.1:$port, cache $cache"
}
if [ -n "${PG_POLICY:-}" ]; then
    POLICY=$PG_POLICY
else
    POLICY=$RUN/policy.ini
    printf '; tests/bench/serve/run.sh: serve without provenance checks\n[defaults]\nmode = off\n' > "$POLICY"
fi
if nm -D "$PROVGATE" 2>/dev/null | grep -q __asan_init || nm "$PROVGATE" 2>/dev/null | grep -q __asan_init; then
    log "WARNING: $PROVGATE is built with AddressSanitizer; figures are not representative"
    SANITIZED=yes
else
    SANITIZED=no
fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
start_provgate "$WORK/cache1"
if [ "$WANT_AUTH" = 1 ]; then
    # Its own cache and pin store (the token lives there); the token is
    # printed once, on stdout.
    mkdir -p "$WORK/auth"
    AUTH_TOKEN=$("$PROVGATE" tokens --cache-dir "$WORK/auth/cache" add "$AUTH_USER" 2>/dev/null) \
        || die "provgate tokens add failed"
    start_provgate "$WORK/auth/cache" provgate_auth "$PGA_PORT" auth=token
fi

# URL paths per target and row.  provgate's file URLs come from its own page.
pg_file_path() {                       # pg_file_path PROJECT FILENAME
    curl -s --max-time 60 -H 'Accept: application/vnd.pypi.simple.v1+json' "$PG/simple/$1/" \
        | python3 -c "import json,sys,urllib.parse; d=json.load(sys.stdin); print([urllib.parse.urlsplit(f['url']).path for f in d['files'] if f['filename']==sys.argv[1]][0])" "$2"
}
declare -A PATH_NG PATH_PG SHA
PATH_NG[small_json]=/simple/smallpkg/; PATH_PG[small_json]=/simple/smallpkg/
PATH_NG[big_json]=/simple/numpy/;      PATH_PG[big_json]=/simple/numpy/
PATH_NG[big_json_gzip]=/simple/numpy/; PATH_PG[big_json_gzip]=/simple/numpy/
for r in file_10k file_1m file_50m; do
    PATH_NG[$r]=$(mf "d['$r']['path']")
    SHA[$r]=$(mf "d['$r']['sha256']")
    PATH_PG[$r]=$(pg_file_path "$(mf "d['$r']['project']")" "$(mf "d['$r']['filename']")") \
        || die "provgate's page does not list the $r file"
    [ -n "${PATH_PG[$r]}" ] || die "provgate's page does not list the $r file"
done
PATH_NG[auth_file_10k]=${PATH_NG[file_10k]}; PATH_PG[auth_file_10k]=${PATH_PG[file_10k]}
SHA[auth_file_10k]=${SHA[file_10k]}
basic() { printf 'Authorization: Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }
base_of() {                            # base_of TARGET ROW -> URL base
    case $1.$2 in
        nginx.auth_file_10k) echo "$UPA" ;;
        provgate.auth_file_10k) echo "$PGA" ;;
        nginx.*) echo "$UP" ;;
        *) echo "$PG" ;;
    esac
}

headers_for() {                        # headers_for ROW [TARGET]: fills HDR
    HDR=()
    case $1 in
        small_json|big_json) HDR=(-H "Accept: $JSON_ACCEPT") ;;
        big_json_gzip) HDR=(-H "Accept: $JSON_ACCEPT" -H "Accept-Encoding: gzip") ;;
        auth_file_10k)
            if [ "${2:-}" = nginx ]; then HDR=(-H "$(basic "$AUTH_USER" "$AUTH_PASS")")
            else HDR=(-H "$(basic "$AUTH_USER" "$AUTH_TOKEN")"); fi ;;
    esac
}

# Warm and check: every row answers 200 from both; files hash right; pages
# from provgate name no upstream URL; record size and encoding.
declare -A SIZE ENC
check() {                              # check TARGET ROW
    local t=$1 row=$2 base path out code
    base=$(base_of "$t" "$row")
    if [ "$t" = nginx ]; then path=${PATH_NG[$row]}; else path=${PATH_PG[$row]}; fi
    headers_for "$row" "$t"
    if [ "$row" = auth_file_10k ]; then   # without credentials: refused
        code=$(curl -s -o /dev/null --max-time 60 -w '%{http_code}' "$base$path")
        [ "$code" = 401 ] || die "$t $row: $base$path without credentials answers $code, not 401"
    fi
    out=$RAW/$t.$row.body
    code=$(curl -s -o "$out" -D "$out.headers" --max-time 120 "${HDR[@]}" -w '%{http_code}' "$base$path")
    [ "$code" = 200 ] || die "$t $row: $base$path answers $code"
    SIZE[$t.$row]=$(stat -c %s "$out")
    ENC[$t.$row]=$(tr -d '\r' < "$out.headers" | awk -F': ' 'tolower($1)=="content-encoding" {print $2}')
    case $row in
        file_*|auth_file_*) [ "$(sha256sum < "$out" | cut -d' ' -f1)" = "${SHA[$row]}" ] || die "$t $row: wrong bytes" ;;
        big_json|small_json)
            if [ "$t" = provgate ] && grep -q "127.0.0.1:$UP_PORT" "$out"; then
                die "provgate $row still names the upstream"
            fi ;;
    esac
    rm -f "$out"
}
for row in $ROWS; do
    check provgate "$row"; check provgate "$row"   # fill, then warm
    check nginx "$row"
done

# ------------------------------------------------------------ wrk
declare -A RPS P99 ERR
run_wrk() {                            # run_wrk TARGET ROW REP
    local t=$1 row=$2 rep=$3 base path out
    base=$(base_of "$t" "$row")
    if [ "$t" = nginx ]; then path=${PATH_NG[$row]}; else path=${PATH_PG[$row]}; fi
    headers_for "$row" "$t"
    out=$RAW/$t.$row.$rep.wrk
    timeout 120 wrk "-t$THREADS" "-c$CONNS" "-d$DURATION" --latency --timeout 10s \
        "${HDR[@]}" "$base$path" > "$out" 2>&1
    RPS[$t.$row.$rep]=$(awk '/^Requests\/sec/ {print $2}' "$out")
    P99[$t.$row.$rep]=$(awk '$1=="99%" {print $2}' "$out")
    ERR[$t.$row.$rep]=$(awk '/Non-2xx/ {n+=$NF} /Socket errors/ {gsub(/,/,""); n+=$4+$6+$8+$10} END {print n+0}' "$out")
    log "$t $row #$rep: ${RPS[$t.$row.$rep]} req/s, p99 ${P99[$t.$row.$rep]}, errors ${ERR[$t.$row.$rep]}"
}
pg_upstream_during=0
run_pg() {                             # run_pg ROW REP (upstream counted)
    local before after
    before=$(upstream_requests)
    run_wrk provgate "$1" "$2"
    after=$(upstream_requests)
    pg_upstream_during=$((pg_upstream_during + after - before - 1))
}
# Odd repeats measure nginx first, even ones provgate first, so whatever
# favours the first (or the second) of a pair does not favour one server.
for rep in $(seq 1 "$REPEATS"); do
    for row in $ROWS; do
        if [ $((rep % 2)) = 1 ]; then
            run_wrk nginx "$row" "$rep"
            run_pg "$row" "$rep"
        else
            run_pg "$row" "$rep"
            run_wrk nginx "$row" "$rep"
        fi
    done
done

# ------------------------------------------------------------ 50 MiB
curl_ms() {                            # curl_ms URL -> "code ms"
    curl -s -o "$RAW/big.body" --max-time 300 -w '%{http_code} %{time_total}\n' "$1" \
        | awk '{printf "%s %.1f\n", $1, $2 * 1000}'
}
big_ok() { [ "$(sha256sum < "$RAW/big.body" | cut -d' ' -f1)" = "${SHA[file_50m]}" ]; }
NG_BIG=(); PG_COLD=(); PG_WARM=()
for rep in $(seq 1 "$BIG_REPEATS"); do
    read -r code ms <<< "$(curl_ms "$UP${PATH_NG[file_50m]}")"
    [ "$code" = 200 ] && big_ok || die "nginx 50 MiB: $code / wrong bytes"
    NG_BIG+=("$ms")
    # Cold: a provgate with a new, empty cache; its page is fetched first
    # (not timed), so that only the file's first download is measured.
    stop provgate
    start_provgate "$WORK/cache-big$rep"
    path=$(pg_file_path numpy "$(mf "d['file_50m']['filename']")")
    read -r code ms <<< "$(curl_ms "$PG$path")"
    [ "$code" = 200 ] && big_ok || die "provgate cold 50 MiB: $code / wrong bytes"
    PG_COLD+=("$ms")
    read -r code ms <<< "$(curl_ms "$PG$path")"
    [ "$code" = 200 ] && big_ok || die "provgate warm 50 MiB: $code / wrong bytes"
    PG_WARM+=("$ms")
    log "50 MiB #$rep: nginx ${NG_BIG[-1]} ms, provgate cold ${PG_COLD[-1]} ms, warm ${PG_WARM[-1]} ms"
    rm -rf "$WORK/cache-big$rep"
done
rm -f "$RAW/big.body"

# ------------------------------------------------------------ table
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
to_ms() {                              # wrk latency (us/ms/s) -> ms
    awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.2f", v/1000; else if (v ~ /ms$/) printf "%.2f", v+0; else if (v ~ /s$/) printf "%.0f", v*1000; else print "" }'
}
label() {
    case $1 in
        small_json) echo "small JSON page (smallpkg, 10 files, ${SIZE[nginx.small_json]} B)";;
        big_json) echo "2,000-file JSON page (numpy, ${SIZE[nginx.big_json]} B)";;
        big_json_gzip) echo "2,000-file JSON page, Accept-Encoding: gzip (nginx gzip_static ${SIZE[nginx.big_json_gzip]} B, provgate ${SIZE[provgate.big_json_gzip]} B ${ENC[provgate.big_json_gzip]:-identity})";;
        file_10k) echo "10 KiB file";;
        file_1m) echo "1 MiB file";;
        auth_file_10k) echo "10 KiB file, HTTP Basic checked per request (provgate auth = token; nginx auth_basic, {SHA} file)";;
    esac
}
{
echo
echo "provgate vs nginx (static, sendfile, gzip_static), same run, loopback, $(nproc) cores shared with wrk"
LOOPS=$(cat "$RUN"/provgate*.log 2>/dev/null | grep -o '([^)]*serv[^)]*)' | head -1)
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency; median of $REPEATS; provgate $PROVGATE (ASan: $SANITIZED) $LOOPS, policy $(basename "$POLICY"); load average before: $LOAD0; $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| row | nginx req/s | provgate req/s | provgate/nginx | nginx p99 ms | provgate p99 ms | errors (nginx/provgate) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for row in $ROWS; do
    n_r=(); p_r=(); n_l=(); p_l=(); n_e=0; p_e=0
    for rep in $(seq 1 "$REPEATS"); do
        n_r+=("${RPS[nginx.$row.$rep]:-0}"); p_r+=("${RPS[provgate.$row.$rep]:-0}")
        n_l+=("$(to_ms "${P99[nginx.$row.$rep]:-}")"); p_l+=("$(to_ms "${P99[provgate.$row.$rep]:-}")")
        n_e=$((n_e + ${ERR[nginx.$row.$rep]:-0})); p_e=$((p_e + ${ERR[provgate.$row.$rep]:-0}))
    done
    nr=$(median "${n_r[@]}"); pr=$(median "${p_r[@]}")
    ratio=$(awk -v a="$pr" -v b="$nr" 'BEGIN { if (b > 0) printf "%.2f×", a/b; else print "-" }')
    printf '| %s | %.0f | %.0f | %s | %.2f | %.2f | %d/%d |\n' "$(label "$row")" "$nr" "$pr" "$ratio" \
        "$(median "${n_l[@]}")" "$(median "${p_l[@]}")" "$n_e" "$p_e"
done
echo
echo "upstream requests seen by nginx while provgate was measured: $pg_upstream_during (0 = served from provgate's cache)"
echo
echo "| 50 MiB download, one connection (curl) | median ms | runs (ms) |"
echo "|---|---:|---|"
echo "| nginx direct (upstream) | $(median "${NG_BIG[@]}") | ${NG_BIG[*]} |"
echo "| provgate, cold cache (fetch + hash + store while streaming) | $(median "${PG_COLD[@]}") | ${PG_COLD[*]} |"
echo "| provgate, warm cache | $(median "${PG_WARM[@]}") | ${PG_WARM[*]} |"
} | tee "$WORK/summary.md"
