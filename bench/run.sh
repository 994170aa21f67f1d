#!/usr/bin/env bash
# bench/run.sh - measures Tollgate's hot read against nginx on the same machine and writes
# docs/PERFORMANCE.md.
#
#   1. GET /api/v1/credits with a bearer token (HS256 verify + SQLite point read + JSON reply),
#      against nginx returning the same body from a fixed `return 200` (bench/nginx.conf);
#   2. POST /api/v1/auth/login (argon2id on the blocking pool bounds it);
#   3. durable writes: POST /api/v1/admin/users/{id}/credits (+1/-1, a new Idempotency-Key
#      each, synchronous=FULL as shipped) from 50 connections, with a light GET /health probe
#      (2 connections, bench/health.lua) running alongside to measure what the write load
#      does to a cheap request's latency; `tollgate audit` must pass afterwards.
#
# Both servers keep their access logs on; Tollgate's rate limits stay on, only raised.
# A wrk run with non-2xx/3xx responses or socket errors is INVALID: nothing is written and
# the script exits non-zero. Takes about 3.5 minutes. Everything it starts is stopped on exit.
#
# The credits comparison alternates the two servers for BENCH_ROUNDS rounds (order swapped
# every round) and reports each side's median: on a shared 2-core machine a single pair of
# runs swings by 20% or more, mostly on the nginx side.
#
# Environment (optional): BENCH_DURATION (10s), BENCH_ROUNDS (5), BENCH_KEEP=1 keeps the
# temp folder (logs), BENCH_DOC (docs/PERFORMANCE.md) the report to write, BENCH_TG_PORT
# (18080) and BENCH_NGINX_PORT (18081) on 127.0.0.1 when those are taken.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

BUILD_DIR=build-release
BIN="$ROOT/$BUILD_DIR/tollgate"
TG_ADDR="127.0.0.1:${BENCH_TG_PORT:-18080}"
NGINX_ADDR="127.0.0.1:${BENCH_NGINX_PORT:-18081}"
DURATION="${BENCH_DURATION:-10s}"
ROUNDS="${BENCH_ROUNDS:-5}"
WARMUP=3s
OUT_DOC="$(realpath -m "${BENCH_DOC:-$ROOT/docs/PERFORMANCE.md}")"
WRITE_CONNS=50
# The write target's starting balance: alternating +1/-1 from 50 connections never gets
# anywhere near 0 from here.
WRITE_START=1000000
RATE_LIMITS="api_query=1000000/1s,auth_ip=1000000/1s,auth_account=1000000/1s,register_ip=1000000/1s,register_global=1000000/1s,auth_fail=1000000/1s"

say() { printf '\n==> %s\n' "$*"; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

# Other work on the machine lowers every figure; it is recorded with the results.
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- build ---------------------------------------------------------------------------------
say "dependencies (scripts/deps.sh bench)"
bash scripts/deps.sh bench

say "build $BUILD_DIR (release)"
setup_log="$(mktemp "${TMPDIR:-/tmp}/tollgate-setup.XXXXXX")"
if [[ -f "$BUILD_DIR/build.ninja" ]]; then
    setup=(meson setup --reconfigure "$BUILD_DIR" --buildtype=release)
else
    setup=(meson setup "$BUILD_DIR" --buildtype=release)
fi
if ! "${setup[@]}" >"$setup_log" 2>&1; then
    cat "$setup_log" >&2
    rm -f "$setup_log"
    die "meson setup failed"
fi
rm -f "$setup_log"
ninja -C "$BUILD_DIR" tollgate

# ---- processes -----------------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")"
NGINX_PID=""
TG_PID=""
PROBE_PID=""
cleanup() {
    local rc=$?
    local pid
    for pid in "$PROBE_PID" "$TG_PID" "$NGINX_PID"; do
        if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for pid in "$PROBE_PID" "$TG_PID" "$NGINX_PID"; do
        [[ -n "$pid" ]] || continue
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${BENCH_KEEP:-0}" == 1 || $rc -ne 0 ]]; then
        echo "bench: logs kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { curl -s -o /dev/null --max-time 1 "http://$1/" 2>/dev/null; }
port_busy "$TG_ADDR" && die "something already listens on $TG_ADDR"
port_busy "$NGINX_ADDR" && die "something already listens on $NGINX_ADDR"

wait_http() { # URL NAME PID
    local i
    for i in $(seq 100); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        kill -0 "$3" 2>/dev/null || die "$2 exited during start-up (logs in $TMP)"
        sleep 0.1
        : "$i"
    done
    die "$2 did not answer $1 within 10 s (logs in $TMP)"
}

say "start nginx on $NGINX_ADDR"
mkdir -p "$TMP/nginx/logs" "$TMP/nginx/temp"
NGINX_CONF="$ROOT/bench/nginx.conf"
if [[ "$NGINX_ADDR" != 127.0.0.1:18081 ]]; then
    # bench/nginx.conf listens on the default port; a copy listens on the one asked for.
    NGINX_CONF="$TMP/nginx/nginx.conf"
    sed "s/listen 127\.0\.0\.1:18081 /listen $NGINX_ADDR /" "$ROOT/bench/nginx.conf" >"$NGINX_CONF"
    grep -q "listen $NGINX_ADDR " "$NGINX_CONF" || die "could not set nginx's port in $NGINX_CONF"
fi
NGINX_CMD=(nginx -p "$TMP/nginx/" -c "$NGINX_CONF" -e "$TMP/nginx/logs/error.log")
"${NGINX_CMD[@]}" </dev/null >"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
wait_http "http://$NGINX_ADDR/api/v1/credits" nginx "$NGINX_PID"

say "start tollgate on $TG_ADDR"
mkdir -p "$TMP/data"
TG_ENV=(TG_LISTEN="$TG_ADDR" TG_PUBLIC_URL="http://$TG_ADDR" TG_WORKERS=2
    TG_DATA_DIR="$TMP/data" TG_ACCESS_LOG=on TG_RATE_LIMITS="$RATE_LIMITS")
# Unknown TG_ variables are a start-up error, so start from an environment without any.
(
    while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^TG_' || true)
    exec env "${TG_ENV[@]}" "$BIN" serve
) </dev/null >"$TMP/tollgate.stdout" 2>"$TMP/tollgate.log" &
TG_PID=$!
wait_http "http://$TG_ADDR/health" tollgate "$TG_PID"

# ---- account -------------------------------------------------------------------------------
say "register and sign in a benchmark user"
BENCH_EMAIL="bench.$$.$RANDOM@example.com"
BENCH_PASSWORD="Bench-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')!"
export BENCH_EMAIL BENCH_PASSWORD
body="{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}"
post_json() { # PATH BODY OUTFILE -> prints the status code
    curl -s -o "$3" -w '%{http_code}' --max-time 30 -X POST -H 'Content-Type: application/json' \
        --data-binary "$2" "http://$TG_ADDR$1"
}
code="$(post_json /api/v1/auth/register "$body" "$TMP/register.json")"
[[ "$code" == 201 ]] || die "register answered $code: $(head -c 300 "$TMP/register.json")"
code="$(post_json /api/v1/auth/login "$body" "$TMP/login.json")"
[[ "$code" == 200 ]] || die "login answered $code: $(head -c 300 "$TMP/login.json")"
BENCH_TOKEN="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' \
    "$TMP/login.json")" || die "no access_token in the login answer"
export BENCH_TOKEN
code="$(curl -s -o "$TMP/credits.json" -w '%{http_code}' -H "Authorization: Bearer $BENCH_TOKEN" \
    "http://$TG_ADDR/api/v1/credits")"
[[ "$code" == 200 ]] || die "GET /api/v1/credits answered $code: $(head -c 300 "$TMP/credits.json")"
echo "tollgate: $(cat "$TMP/credits.json")"
echo "nginx:    $(curl -s "http://$NGINX_ADDR/api/v1/credits")"

# ---- wrk -----------------------------------------------------------------------------------
# parse_wrk, fmt_rps, fmt_ms, goal: bench/lib.sh.
INVALID=0
declare -A RPS P99 P50 NON2XX COUNT CMD SIZE
# check_wrk NAME OUTFILE: reads a finished wrk run's figures; marks the benchmark INVALID
# when they cannot be read or the run had non-2xx/3xx answers or socket errors.
check_wrk() {
    local name="$1" out="$2"
    local r p n s z p50 total
    read -r r p n s z p50 total <<<"$(parse_wrk "$out")"
    if [[ "$r" == -1* || "$p" == -1* ]]; then
        echo "INVALID: $name: could not read requests/sec or p99 from wrk's output"
        INVALID=1
    elif ((n > 0 || s > 0)); then
        echo "INVALID: $name: $n non-2xx/3xx responses, $s socket errors"
        INVALID=1
    fi
    RPS[$name]="$r"
    P99[$name]="$p"
    P50[$name]="$p50"
    NON2XX[$name]="$n"
    COUNT[$name]="$total"
    SIZE[$name]="$z"
}
# run_wrk NAME OUTFILE wrk-args...
run_wrk() {
    local name="$1" out="$2"
    shift 2
    CMD[$name]="wrk $*"
    say "$name: wrk $*"
    wrk "$@" | tee "$out"
    check_wrk "$name" "$out"
}

say "warm-up ($WARMUP each, not reported)"
wrk -t2 -c64 -d"$WARMUP" -s bench/credits.lua "http://$TG_ADDR/api/v1/credits" >/dev/null
wrk -t2 -c64 -d"$WARMUP" -s bench/credits.lua "http://$NGINX_ADDR/api/v1/credits" >/dev/null

T_RPS=()
N_RPS=()
T_P99=()
N_P99=()
for ((round = 1; round <= ROUNDS; round++)); do
    # Swap the order every round so that drift in the machine's speed favours neither.
    if ((round % 2)); then order=(tollgate nginx); else order=(nginx tollgate); fi
    for who in "${order[@]}"; do
        if [[ $who == tollgate ]]; then
            run_wrk tollgate_credits "$TMP/wrk-tollgate-$round.txt" \
                -t2 -c64 -d"$DURATION" --latency -s bench/credits.lua "http://$TG_ADDR/api/v1/credits"
            T_RPS+=("${RPS[tollgate_credits]}")
            T_P99+=("${P99[tollgate_credits]}")
        else
            run_wrk nginx_credits "$TMP/wrk-nginx-$round.txt" \
                -t2 -c64 -d"$DURATION" --latency -s bench/credits.lua "http://$NGINX_ADDR/api/v1/credits"
            N_RPS+=("${RPS[nginx_credits]}")
            N_P99+=("${P99[nginx_credits]}")
        fi
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
RPS[tollgate_credits]="$(median "${T_RPS[@]}")"
RPS[nginx_credits]="$(median "${N_RPS[@]}")"
P99[tollgate_credits]="$(median "${T_P99[@]}")"
P99[nginx_credits]="$(median "${N_P99[@]}")"
ROUND_ROWS=""
for ((i = 0; i < ROUNDS; i++)); do
    ROUND_ROWS+="| $((i + 1)) | $(python3 -c 'import sys; print(f"{float(sys.argv[1]):,.0f}")' "${T_RPS[$i]}") | $(python3 -c 'import sys; print(f"{float(sys.argv[1]):,.0f}")' "${N_RPS[$i]}") | $(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "${T_RPS[$i]}" "${N_RPS[$i]}")x |
"
done
run_wrk tollgate_login "$TMP/wrk-login.txt" \
    -t2 -c8 -d"$DURATION" --timeout 10s --latency -s bench/login.lua "http://$TG_ADDR/api/v1/auth/login"

# ---- durable writes ------------------------------------------------------------------------
# After the reads, so that the rows they add do not touch the read figures; the target is a
# user of its own, so the read user's answer stays the 72 bytes nginx returns.
say "durable writes: an administrator (tollgate admin create) and a target user"
# Runs the tollgate CLI with the server's TG_ variables and no others.
tg_cli() {
    (
        while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^TG_' || true)
        exec env "${TG_ENV[@]}" "$BIN" "$@"
    ) </dev/null
}
# json_field FILE KEY...: prints obj[KEY][KEY]... of the JSON in FILE.
json_field() {
    python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[k]
print(v)' "$@"
}
ADMIN_EMAIL="bench-admin.$$.$RANDOM@example.com"
ADMIN_PASSWORD="Bench-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')!"
(umask 077 && printf '%s' "$ADMIN_PASSWORD" >"$TMP/admin.pw")
tg_cli admin create --email "$ADMIN_EMAIL" --password-file "$TMP/admin.pw" --role admin \
    >"$TMP/admin-create.txt" 2>&1 || die "tollgate admin create failed: $(head -c 300 "$TMP/admin-create.txt")"
rm -f "$TMP/admin.pw"
code="$(post_json /api/v1/auth/login "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" \
    "$TMP/admin-login.json")"
[[ "$code" == 200 ]] || die "admin login answered $code: $(head -c 300 "$TMP/admin-login.json")"
BENCH_ADMIN_TOKEN="$(json_field "$TMP/admin-login.json" access_token)" || die "no access_token for the admin"
export BENCH_ADMIN_TOKEN
WRITE_EMAIL="bench-writes.$$.$RANDOM@example.com"
code="$(post_json /api/v1/auth/register "{\"email\":\"$WRITE_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" \
    "$TMP/write-user.json")"
[[ "$code" == 201 ]] || die "register (write target) answered $code: $(head -c 300 "$TMP/write-user.json")"
WRITE_USER_ID="$(json_field "$TMP/write-user.json" user id)" || die "no user id in the register answer"
WRITE_URL="http://$TG_ADDR/api/v1/admin/users/$WRITE_USER_ID/credits"
code="$(curl -s -o "$TMP/write-topup.json" -w '%{http_code}' --max-time 30 -X POST \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $BENCH_ADMIN_TOKEN" \
    --data-binary "{\"delta\":$WRITE_START,\"bucket\":\"paid\",\"reason\":\"bench start\"}" "$WRITE_URL")"
[[ "$code" == 200 ]] || die "starting balance: adjustment answered $code: $(head -c 300 "$TMP/write-topup.json")"
echo "write target $WRITE_USER_ID: $(json_field "$TMP/write-topup.json" credits)"

say "warm-up ($WARMUP of writes, not reported)"
BENCH_KEY_PREFIX="warm-$$-$RANDOM" wrk -t2 -c"$WRITE_CONNS" -d"$WARMUP" -s bench/adjust.lua "$WRITE_URL" >/dev/null

# The probe starts with the write load and runs as long; both finish before the report.
say "tollgate_health_probe (in the background): wrk -t1 -c2 -d$DURATION --timeout 10s --latency -s bench/health.lua http://$TG_ADDR/health"
CMD[tollgate_health_probe]="wrk -t1 -c2 -d$DURATION --timeout 10s --latency -s bench/health.lua http://$TG_ADDR/health"
wrk -t1 -c2 -d"$DURATION" --timeout 10s --latency -s bench/health.lua "http://$TG_ADDR/health" >"$TMP/wrk-health-probe.txt" &
PROBE_PID=$!
BENCH_KEY_PREFIX="run-$$-$RANDOM" run_wrk tollgate_adjust "$TMP/wrk-adjust.txt" \
    -t2 -c"$WRITE_CONNS" -d"$DURATION" --timeout 10s --latency -s bench/adjust.lua "$WRITE_URL"
wait "$PROBE_PID" || die "the /health probe failed (output in $TMP/wrk-health-probe.txt)"
PROBE_PID=""
say "tollgate_health_probe (ran during the writes)"
cat "$TMP/wrk-health-probe.txt"
check_wrk tollgate_health_probe "$TMP/wrk-health-probe.txt"
say "tollgate audit (the ledger invariants after the write load)"
if ! tg_cli audit >"$TMP/audit.txt" 2>&1; then
    cat "$TMP/audit.txt"
    echo "INVALID: tollgate audit failed after the write load"
    INVALID=1
fi
tail -n 3 "$TMP/audit.txt"

LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
kill -0 "$TG_PID" 2>/dev/null || die "tollgate died during the benchmark (log: $TMP/tollgate.log)"
TG_LOG_LINES="$(wc -l <"$TMP/tollgate.log")"
NGINX_LOG_LINES="$(wc -l <"$TMP/nginx/logs/access.log")"

if ((INVALID)); then
    echo
    echo "INVALID: at least one run had errors; docs/PERFORMANCE.md not written (logs in $TMP)"
    BENCH_KEEP=1
    exit 1
fi

# ---- report --------------------------------------------------------------------------------
RATIO="$(ratio "${RPS[tollgate_credits]}" "${RPS[nginx_credits]}")"

BUSY=0
awk -v l="${LOAD_BEFORE%% *}" 'BEGIN { exit !(l >= 1.0) }' && BUSY=1
BUSY_NOTE=""
if ((BUSY)); then
    BUSY_NOTE="
**Warning:** the machine was busy before this run (load average $LOAD_BEFORE): other work
shared the 2 cores, so these figures are lower and noisier than the machine can do.
"
fi
DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
DATA_FS="$(df -PT "$TMP" | awk 'NR == 2 {print $2}')"
DATA_FS_NOTE="$DATA_FS"
if [[ "$DATA_FS" == tmpfs ]]; then
    DATA_FS_NOTE="tmpfs (memory: fsync costs nothing there, so the write figures are not those of durable storage; set TMPDIR to a folder on disk)"
    echo "WARNING: the data folder is on tmpfs: the durable-write figures do not include a disk flush" >&2
fi
NPROC="$(nproc)"
CPU="$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
MEM="$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
KERNEL="$(uname -sr)"
OS="$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release 2>/dev/null || true)"
# `wrk -v` exits 1; keep pipefail from stopping the script over a version string.
NGINX_V="$( (nginx -v 2>&1 || true) | sed -n 1p)"
WRK_V="$( (wrk -v 2>&1 || true) | sed -n '1s/ Copyright.*//p')"
TG_V="$( ("$BIN" version 2>&1 || true) | sed -n 1p)"

# Everything after the history marker is kept across runs (earlier runs, before/after
# measurements of changes); only the part above it is regenerated.
HISTORY_MARK='<!-- history: kept by bench/run.sh; add a dated entry below for each run worth keeping -->'
HISTORY="$HISTORY_MARK"
if [[ -f "$OUT_DOC" ]] && grep -qF "$HISTORY_MARK" "$OUT_DOC"; then
    HISTORY="$(sed -n "\|$HISTORY_MARK|,\$p" "$OUT_DOC")"
fi

cat >"$OUT_DOC" <<EOF
# Performance

Measured by \`bench/run.sh\` on $DATE. Re-run it to refresh this file (about 3.5 minutes).
$BUSY_NOTE
## Machine and versions

- Machine: $NPROC cores ($CPU), $MEM, $OS, $KERNEL
- Tollgate: $TG_V (release build, \`meson setup $BUILD_DIR --buildtype=release\`)
- Peer: $NGINX_V
- Load generator: $WRK_V

## Results

| endpoint | tollgate req/s | nginx req/s | ratio tollgate/nginx | tollgate p99 | nginx p99 |
|---|---:|---:|---:|---:|---:|
| GET /api/v1/credits (bearer token) | $(fmt_rps "${RPS[tollgate_credits]}") | $(fmt_rps "${RPS[nginx_credits]}") | ${RATIO}x | $(fmt_ms "${P99[tollgate_credits]}") | $(fmt_ms "${P99[nginx_credits]}") |

Figures for the credits read are the medians of $ROUNDS alternating rounds of $DURATION each
(the ratio is the ratio of the two medians). Every round:

| round | tollgate req/s | nginx req/s | ratio |
|---:|---:|---:|---:|
$ROUND_ROWS
Bytes per response (headers and body, from wrk's totals): tollgate ${SIZE[tollgate_credits]},
nginx ${SIZE[nginx_credits]}.

| endpoint | tollgate req/s | tollgate p99 |
|---|---:|---:|
| POST /api/v1/auth/login (argon2id, 8 connections) | $(fmt_rps "${RPS[tollgate_login]}") | $(fmt_ms "${P99[tollgate_login]}") |

DESIGN section 1 sets the goal for the credits read at 0.70x nginx's fixed-body rate with
logging, metrics and rate limits on; this run measured ${RATIO}x.

### Durable writes

Admin credit adjustments, each a new Idempotency-Key (+1 and -1 alternating), answered only
once committed with \`synchronous=FULL\`; GET /health measured at the same time by a light
second client (2 connections, one request each per 10 ms):

| load | req/s | p50 | p99 | non-2xx |
|---|---:|---:|---:|---:|
| POST /api/v1/admin/users/{id}/credits ($WRITE_CONNS connections) | $(fmt_rps "${RPS[tollgate_adjust]}") | $(fmt_ms "${P50[tollgate_adjust]}") | $(fmt_ms "${P99[tollgate_adjust]}") | ${NON2XX[tollgate_adjust]} |
| GET /health during the writes (2 connections) | $(fmt_rps "${RPS[tollgate_health_probe]}") | $(fmt_ms "${P50[tollgate_health_probe]}") | $(fmt_ms "${P99[tollgate_health_probe]}") | ${NON2XX[tollgate_health_probe]} |

\`tollgate audit\` passed after the load (${COUNT[tollgate_adjust]} adjustments answered to wrk).

| goal | target | this run |
|---|---:|---|
| durable adjustments | >= 10,000/s | $(goal "${RPS[tollgate_adjust]}" ge 10000 "$(fmt_rps "${RPS[tollgate_adjust]}")/s") |
| adjustment p99 | < 20 ms | $(goal "${P99[tollgate_adjust]}" lt 20 "$(fmt_ms "${P99[tollgate_adjust]}")") |
| GET /health p99 during the writes | < 5 ms | $(goal "${P99[tollgate_health_probe]}" lt 5 "$(fmt_ms "${P99[tollgate_health_probe]}")") |
| credits read vs nginx (see above) | >= 0.70x | $(goal "$RATIO" ge 0.70 "${RATIO}x") |

## Commands

Tollgate (access log on, its JSON lines on stderr redirected to a file):

    $(printf '%s ' "${TG_ENV[@]}" | sed "s#$TMP#\$TMP#g")$BUILD_DIR/tollgate serve 2>\$TMP/tollgate.log

nginx (\`worker_processes 2\`, buffered access log, fixed JSON body, see bench/nginx.conf):

    $(printf '%s ' "${NGINX_CMD[@]}" | sed -e "s#$TMP#\$TMP#g" -e "s#$ROOT/##g" -e 's/ $//')

Load (after a ${WARMUP} warm-up of each server; the user was registered and signed in with curl):

    ${CMD[tollgate_credits]}
    ${CMD[nginx_credits]}
    ${CMD[tollgate_login]}

Durable writes (the administrator made with \`tollgate admin create\` and signed in with curl,
the target user given a starting balance of $WRITE_START credits, a ${WARMUP} warm-up of writes;
the two wrk runs start together):

    BENCH_KEY_PREFIX=<new per run> $(printf '%s' "${CMD[tollgate_adjust]}" | sed "s#$WRITE_USER_ID#{id}#")
    ${CMD[tollgate_health_probe]}

## Method

- Everything runs on the same $NPROC-core machine: wrk (2 threads) shares the cores with the
  server under test, so both servers get the same, imperfect, conditions. Load average
  (1, 5, 15 min) before the run: $LOAD_BEFORE; after: $LOAD_AFTER. Anything well above
  the load wrk and the server add themselves means other work shared the machine and every
  figure here is lower than the machine can do.
- Tollgate runs with \`TG_WORKERS=2\`, nginx with \`worker_processes 2\`; both over HTTP/1.1
  keep-alive on loopback, each benchmarked alone while the other idles.
- Access logs are on for both (Tollgate wrote $TG_LOG_LINES log lines, nginx $NGINX_LOG_LINES
  access-log lines during the run). Tollgate's rate limits stay on, raised so that one user
  at full speed is not throttled: \`TG_RATE_LIMITS=$RATE_LIMITS\`.
- The nginx peer returns the same 72-byte JSON body as Tollgate's answer for a new account,
  without reading any token or database: it is the ceiling for this machine.
- Tollgate's credits read authenticates the HS256 access token (a token already verified by
  this worker is recognised by its exact bytes, with its expiry still checked), checks the
  rate limit, reads the wallet from SQLite (a new read transaction per request: no cached
  balances), formats the JSON reply and writes an access-log line, all on the loop thread.
- nginx listens with \`reuseport\` like Tollgate's SO_REUSEPORT workers, so the kernel
  spreads connections over both workers of each server the same way; without it nginx was
  both slower and far less steady here. Login hashes the password with argon2id on
  the blocking pool and writes a refresh token, so its rate is bounded by CPU-hard hashing,
  by design.
- Durable writes: every adjustment is one ledger row, one wallet update and one audit-log
  row in a transaction committed with \`synchronous=FULL\` (the shipped setting) before the
  answer; the data folder is on $DATA_FS_NOTE. After the load \`tollgate audit\` checks the
  ledger invariants.
- A run with any non-2xx/3xx response or socket error is rejected as INVALID by the script.
EOF
printf '\n%s\n' "$HISTORY" >>"$OUT_DOC"

say "results"
printf '%-22s %12s req/s  p99 %s\n' \
    "tollgate credits" "$(fmt_rps "${RPS[tollgate_credits]}")" "$(fmt_ms "${P99[tollgate_credits]}")" \
    "nginx credits" "$(fmt_rps "${RPS[nginx_credits]}")" "$(fmt_ms "${P99[nginx_credits]}")" \
    "tollgate login" "$(fmt_rps "${RPS[tollgate_login]}")" "$(fmt_ms "${P99[tollgate_login]}")"
printf '%-22s %12s req/s  p50 %s  p99 %s  non-2xx %s\n' \
    "tollgate adjust" "$(fmt_rps "${RPS[tollgate_adjust]}")" "$(fmt_ms "${P50[tollgate_adjust]}")" \
    "$(fmt_ms "${P99[tollgate_adjust]}")" "${NON2XX[tollgate_adjust]}" \
    "/health during writes" "$(fmt_rps "${RPS[tollgate_health_probe]}")" "$(fmt_ms "${P50[tollgate_health_probe]}")" \
    "$(fmt_ms "${P99[tollgate_health_probe]}")" "${NON2XX[tollgate_health_probe]}"
echo "ratio tollgate/nginx (credits): $(goal "$RATIO" ge 0.70 "${RATIO}x") (0.70x)"
echo "durable writes: $(goal "${RPS[tollgate_adjust]}" ge 10000 "$(fmt_rps "${RPS[tollgate_adjust]}")/s") (10,000/s)," \
    "p99 $(goal "${P99[tollgate_adjust]}" lt 20 "$(fmt_ms "${P99[tollgate_adjust]}")") (20 ms)," \
    "/health p99 $(goal "${P99[tollgate_health_probe]}" lt 5 "$(fmt_ms "${P99[tollgate_health_probe]}")") (5 ms)"
echo "load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
if ((BUSY)); then
    echo "WARNING: the machine was busy before the run (load $LOAD_BEFORE); figures are low"
fi
echo "wrote ${OUT_DOC#"$ROOT"/}"
