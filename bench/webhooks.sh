#!/usr/bin/env bash
# bench/webhooks.sh - measures payment notification fulfilment over HTTP against nginx on the
# same machine, and writes its section of docs/PERFORMANCE.md.
#
# For each provider (BENCH_PROVIDERS, default "stripe wechatpay") and each of two runs:
#   unique  every notification a new event for its own pending order;
#   dup     50% duplicates: every notification sent twice, each run of BENCH_DUP_GAP (16)
#           followed by the same ones again, so a duplicate often arrives while its first
#           delivery is still in flight;
# the script inserts BENCH_EVENTS pending orders straight into the database (as
# POST /api/v1/orders leaves them once the checkout exists), signs one notification per order
# with the provider's real scheme (bench/webhooks-gen.mjs: Stripe-Signature with the stripe
# npm package, WeChat Pay's RSA-signed headers and AES-256-GCM resource with
# wechatpay-axios-plugin), and wrk POSTs them to /api/v1/webhooks/<provider>
# (bench/webhooks.lua), each record once. Tollgate verifies every signature, decrypts, and
# fulfils in one durable transaction before answering. nginx gets the same requests and answers
# the provider's acknowledgement from a fixed `return 200` (bench/nginx.conf).
#
# After each Tollgate run, exactly once is checked, not assumed: the notifications wrk had sent
# whose order is still pending (in flight when wrk stopped, never read by the server) are
# delivered again and must be answered 200; then every delivered order must be paid with
# exactly one purchase entry of 115 credits and one fulfilled inbox row, the server's own
# count of fulfilments must equal the number of orders, and `tollgate audit` must pass.
# A run with any non-2xx/3xx answer, socket error, failed check, or fewer notifications than
# the run could send even after one retry with twice as many (EXHAUSTED) is INVALID: nothing is written and the
# script exits non-zero. Everything it starts is stopped on exit. Takes about 5-10 minutes,
# most of it signing (RSA for WeChat Pay).
#
# Environment (optional): BENCH_PROVIDERS ("stripe wechatpay"; "sandbox" also works),
# BENCH_EVENTS (notifications prepared per run: 100000, WeChat Pay 60000; a run that sends
# them all before its end is done again once with twice as many), BENCH_DURATION (10s), BENCH_CONNS (50),
# BENCH_DUP_GAP (16), BENCH_KEEP=1 keeps the temp folder, BENCH_DOC (docs/PERFORMANCE.md),
# BENCH_TG_PORT (18080) and BENCH_NGINX_PORT (18081) on 127.0.0.1.
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
EVENTS="${BENCH_EVENTS:-}"
CONNS="${BENCH_CONNS:-50}"
GAP="${BENCH_DUP_GAP:-16}"
read -r -a PROVIDERS <<<"${BENCH_PROVIDERS:-stripe wechatpay}"
THREADS=2
WARMUP=3s
WARMUP_EVENTS=3000
GOAL_RPS=5000
CREDITS=115
OUT_DOC="$(realpath -m "${BENCH_DOC:-$ROOT/docs/PERFORMANCE.md}")"
GEN=(node "$ROOT/bench/webhooks-gen.mjs")

# The providers' settings: made up for the benchmark, shared with the generator. Their API
# bases point at a closed port: nothing here calls a provider (no checkout, and the
# pending-order job is kept away from the benchmark's orders).
rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
BENCH_STRIPE_WEBHOOK_SECRET="whsec_bench_$(rand_hex 12)"
BENCH_SANDBOX_WEBHOOK_SECRET="bench-sandbox-$(rand_hex 12)"
BENCH_WECHATPAY_MCHID=1900009191
BENCH_WECHATPAY_APPID=wxd678efh567hg6787
BENCH_WECHATPAY_APIV3_KEY="$(rand_hex 16)"                         # 32 characters
BENCH_WECHATPAY_PLATFORM_KEY_ID="PUB_KEY_ID_0119$(rand_hex 12 | tr 'a-f' '0-5')" # digits
export BENCH_STRIPE_WEBHOOK_SECRET BENCH_SANDBOX_WEBHOOK_SECRET BENCH_WECHATPAY_MCHID BENCH_WECHATPAY_APPID \
    BENCH_WECHATPAY_APIV3_KEY BENCH_WECHATPAY_PLATFORM_KEY_ID

say() { printf '\n==> %s\n' "$*"; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

for p in "${PROVIDERS[@]}"; do
    case "$p" in
    stripe | wechatpay | sandbox) ;;
    *) die "BENCH_PROVIDERS: unknown provider $p (stripe, wechatpay, sandbox)" ;;
    esac
done
[[ -z "$EVENTS" || ("$EVENTS" =~ ^[0-9]+$ && "$EVENTS" -gt 0) ]] || die "BENCH_EVENTS must be a positive number"
# Notifications prepared for a run: enough for the run's duration at the rate this machine
# reaches (a run that sends them all is done again once with twice as many). WeChat Pay's are
# fewer: each costs an RSA signature, and all must be signed within the 300 s tolerance.
events_for() {
    if [[ -n "$EVENTS" ]]; then
        echo "$EVENTS"
    elif [[ "$1" == wechatpay ]]; then
        echo 60000
    else
        echo 100000
    fi
}

# Other work on the machine lowers every figure; it is recorded with the results.
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- build ---------------------------------------------------------------------------------
say "dependencies (scripts/deps.sh bench-webhooks)"
bash scripts/deps.sh bench-webhooks

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
cleanup() {
    local rc=$?
    local pid
    for pid in "$TG_PID" "$NGINX_PID"; do
        if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for pid in "$TG_PID" "$NGINX_PID"; do
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

say "keys: a WeChat Pay merchant key and platform key pair (RSA 2048)"
"${GEN[@]}" keys "$TMP/keys"
export BENCH_WECHATPAY_PLATFORM_PRIVATE_KEY_FILE="$TMP/keys/platform_key.pem"

say "start nginx on $NGINX_ADDR"
mkdir -p "$TMP/nginx/logs" "$TMP/nginx/temp"
NGINX_CONF="$ROOT/bench/nginx.conf"
if [[ "$NGINX_ADDR" != 127.0.0.1:18081 ]]; then
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
DB="$TMP/data/tollgate.db"
TG_ENV=(TG_LISTEN="$TG_ADDR" TG_PUBLIC_URL="http://$TG_ADDR" TG_WORKERS=2
    TG_DATA_DIR="$TMP/data" TG_ACCESS_LOG=on
    TG_ORDER_QUERY_AFTER=86400 TG_ORDER_QUERY_MAX=0 TG_ORDER_TTL=86400
    TG_SANDBOX=on TG_SANDBOX_WEBHOOK_SECRET="$BENCH_SANDBOX_WEBHOOK_SECRET"
    TG_STRIPE_SECRET_KEY=sk_test_bench_not_a_real_key TG_STRIPE_WEBHOOK_SECRET="$BENCH_STRIPE_WEBHOOK_SECRET"
    TG_STRIPE_API_BASE=http://127.0.0.1:9
    TG_WECHATPAY_MCHID="$BENCH_WECHATPAY_MCHID" TG_WECHATPAY_APPID="$BENCH_WECHATPAY_APPID"
    TG_WECHATPAY_SERIAL_NO=5157F09EFDC096DE15EBE81A47057A7232F1B8E1
    TG_WECHATPAY_PRIVATE_KEY_FILE="$TMP/keys/apiclient_key.pem"
    TG_WECHATPAY_APIV3_KEY="$BENCH_WECHATPAY_APIV3_KEY"
    TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE="$TMP/keys/platform_pub.pem"
    TG_WECHATPAY_PLATFORM_KEY_ID="$BENCH_WECHATPAY_PLATFORM_KEY_ID"
    TG_WECHATPAY_API_BASE=http://127.0.0.1:9)
# Unknown TG_ variables are a start-up error, so start from an environment without any.
(
    while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^TG_' || true)
    exec env "${TG_ENV[@]}" "$BIN" serve
) </dev/null >"$TMP/tollgate.stdout" 2>"$TMP/tollgate.log" &
TG_PID=$!
wait_http "http://$TG_ADDR/health" tollgate "$TG_PID"

# Runs the tollgate CLI with the server's TG_ variables and no others.
tg_cli() {
    (
        while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^TG_' || true)
        exec env "${TG_ENV[@]}" "$BIN" "$@"
    ) </dev/null
}
json_field() {
    python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[k]
print(v)' "$@"
}

# ---- the buyer, and the providers ----------------------------------------------------------
say "register the buyer every order belongs to"
BENCH_EMAIL="bench-buyer.$$.$RANDOM@example.com"
BENCH_PASSWORD="Bench-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')!"
code="$(curl -s -o "$TMP/register.json" -w '%{http_code}' --max-time 30 -X POST \
    -H 'Content-Type: application/json' \
    --data-binary "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" \
    "http://$TG_ADDR/api/v1/auth/register")"
[[ "$code" == 201 ]] || die "register answered $code: $(head -c 300 "$TMP/register.json")"
USER_ID="$(json_field "$TMP/register.json" user id)" || die "no user id in the register answer"
[[ -f "$DB" ]] || die "no database at $DB"

# A provider this build does not have answers 404 (its placeholder has no verification); one
# that has it refuses an unsigned notification with 400.
for p in "${PROVIDERS[@]}"; do
    code="$(curl -s -o "$TMP/probe-$p.txt" -w '%{http_code}' --max-time 10 -X POST \
        -H 'Content-Type: application/json' --data-binary '{}' "http://$TG_ADDR/api/v1/webhooks/$p")"
    [[ "$code" == 400 ]] ||
        die "POST /api/v1/webhooks/$p without a signature answered $code, not 400: is the $p provider in this build? ($(head -c 200 "$TMP/probe-$p.txt"))"
done

# outcome_counts PROVIDER -> "fulfilled duplicate rejected mismatch unverifiable not_committed"
# from /metrics (tollgate_payment_notifications_total).
outcome_counts() {
    curl -s --max-time 10 "http://$TG_ADDR/metrics" | python3 -c '
import re, sys
p = sys.argv[1]
c = {}
for line in sys.stdin:
    m = re.match(r"tollgate_payment_notifications_total\{provider=\"([^\"]+)\",outcome=\"([^\"]+)\"\} (\d+)", line)
    if m and m.group(1) == p:
        c[m.group(2)] = int(m.group(3))
print(" ".join(str(c.get(k, -1)) for k in ("fulfilled", "duplicate", "rejected", "mismatch", "unverifiable", "not_committed")))
' "$1"
}

# ---- wrk -----------------------------------------------------------------------------------
INVALID=0
declare -A RPS P99 P50 COUNT CMD CHECK PREPARED
invalid() {
    echo "INVALID: $*"
    INVALID=1
}
# check_wrk NAME OUTFILE
check_wrk() {
    local name="$1" out="$2"
    local r p n s p50 total
    read -r r p n s _ p50 total <<<"$(parse_wrk "$out")"
    if [[ "$r" == -1* || "$p" == -1* ]]; then
        invalid "$name: could not read requests/sec or p99 from wrk's output"
    elif ((n > 0 || s > 0)); then
        invalid "$name: $n non-2xx/3xx responses, $s socket errors"
    fi
    RPS[$name]="$r"
    P99[$name]="$p"
    P50[$name]="$p50"
    COUNT[$name]="$total"
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
WRK_ARGS=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s --latency -s bench/webhooks.lua)

# prepare PROVIDER MODE COUNT DIR: pending orders and their signed notifications.
prepare() {
    local info
    say "$1 $2: $3 pending orders and their signed notifications"
    info="$("${GEN[@]}" prepare --provider "$1" --db "$DB" --user "$USER_ID" --count "$3" \
        --threads "$THREADS" --mode "$2" --gap "$GAP" --out "$4")" || die "preparing the $1 notifications failed"
    echo "$info"
    echo "$info" >"$4/prepare.json"
    # The providers accept a signature for 300 s: the last run's notifications must still
    # be fresh when it ends.
    python3 -c '
import json, sys, time
i = json.load(open(sys.argv[1]))
age = time.time() - i["first_signed_ms"] / 1000
sys.exit(0 if age + float(sys.argv[2]) + 30 < 300 else 1)' "$4/prepare.json" "${DURATION%s}" ||
        die "signing $3 notifications took too long for the providers' 300 s tolerance: lower BENCH_EVENTS"
}

# verdict SETTLE_JSON FULFILLED DUPLICATE "REJECTED MISMATCH UNVERIFIABLE NOT_COMMITTED" AUDIT_RC:
# every exactly-once check of a run, as one JSON line ({"ok", "fails", ...}).
verdict() {
    python3 - "$@" "$CREDITS" "$CONNS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
fulfilled, duplicate = int(sys.argv[2]), int(sys.argv[3])
bad_outcomes = [int(x) for x in sys.argv[4].split()]
audit_rc, credits, conns = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
n = s["delivered_events"]
fails = []
def want(what, got, exp):
    if got != exp:
        fails.append(f"{what} {got} != {exp}")
want("orders paid", s["paid_delivered"], n)
want("delivered orders not paid", s["unpaid_delivered"], 0)
want("purchase entries", s["purchases_delivered"], n)
want("orders without exactly one purchase entry", s["orders_without_one_purchase"], 0)
want("purchase references with two entries", s["double_purchases"], 0)
want("credits granted", s["credits_granted"], n * credits)
want("fulfilled inbox rows", s["inbox_fulfilled"], n)
want("fulfilments counted by the server", fulfilled, n)
want("all paid orders vs all purchase entries of the provider", s["paid_all"], s["purchases_all"])
# All time: the one rejection is the unsigned probe sent before the runs.
want("notifications rejected, mismatched, unverifiable, not committed since start-up", bad_outcomes, [1, 0, 0, 0])
if s["lost_in_flight"] > conns:
    fails.append(f"{s['lost_in_flight']} delivered orders still pending (more than the {conns} connections could have had in flight)")
if s["redeliver_failures"]:
    fails.append("delivering again failed: " + "; ".join(s["redeliver_failures"][:3]))
if audit_rc != 0:
    fails.append(f"tollgate audit exited {audit_rc}")
print(json.dumps({"ok": not fails, "fails": fails, "events": n, "sent": s["sent_requests"],
                  "redelivered": s["redelivered"], "fulfilled": fulfilled, "duplicate": duplicate,
                  "audit_rc": audit_rc}))
PY
}

# shellcheck disable=SC2034 # read through ${!label_var} in the report
LABEL_stripe="Stripe"
# shellcheck disable=SC2034
LABEL_wechatpay="WeChat Pay"
# shellcheck disable=SC2034
LABEL_sandbox="sandbox"
SCENARIOS=()

say "warm-up ($WARMUP per provider, $WARMUP_EVENTS notifications each, not reported)"
for p in "${PROVIDERS[@]}"; do
    prepare "$p" unique "$WARMUP_EVENTS" "$TMP/req/warmup-$p"
    BENCH_WEBHOOKS_DIR="$TMP/req/warmup-$p" BENCH_SENT_FILE="$TMP/req/warmup-$p/sent" \
        wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s bench/webhooks.lua "http://$TG_ADDR/api/v1/webhooks/$p" >/dev/null
    BENCH_WEBHOOKS_DIR="$TMP/req/warmup-$p" BENCH_SENT_FILE="$TMP/req/warmup-$p/sent-nginx" BENCH_WEBHOOKS_CYCLE=1 \
        wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s bench/webhooks.lua "http://$NGINX_ADDR/api/v1/webhooks/$p" >/dev/null
done

for p in "${PROVIDERS[@]}"; do
    for mode in unique dup; do
        name="${p}_$mode"
        SCENARIOS+=("$name")
        n="$(events_for "$p")"
        for attempt in 1 2; do
            dir="$TMP/req/$name-$attempt"
            PREPARED[$name]="$n"
            prepare "$p" "$mode" "$n" "$dir"
            read -r f0 d0 _ <<<"$(outcome_counts "$p")"

            BENCH_WEBHOOKS_DIR="$dir" BENCH_SENT_FILE="$dir/sent" run_wrk "tollgate_$name" "$TMP/wrk-tollgate-$name.txt" \
                "${WRK_ARGS[@]}" "http://$TG_ADDR/api/v1/webhooks/$p"
            exhausted=0
            grep -q '^EXHAUSTED' "$TMP/wrk-tollgate-$name.txt" && exhausted=1

            say "$name: exactly once - deliver again what was in flight, then count"
            "${GEN[@]}" settle --provider "$p" --db "$DB" --dir "$dir" --sent "$dir/sent" \
                --url "http://$TG_ADDR/api/v1/webhooks/$p" --max "$CONNS" >"$dir/settle.json" ||
                die "the checks after $name failed to run"
            read -r f1 d1 rej mis unv nc <<<"$(outcome_counts "$p")"
            tg_cli audit >"$TMP/audit-$name.txt" 2>&1 && audit_rc=0 || audit_rc=$?
            tail -n 3 "$TMP/audit-$name.txt"
            CHECK[$name]="$(verdict "$dir/settle.json" "$((f1 - f0))" "$((d1 - d0))" "$rej $mis $unv $nc" "$audit_rc")"
            echo "checks: ${CHECK[$name]}"
            python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["ok"] else 1)' "${CHECK[$name]}" ||
                invalid "$name: exactly-once checks failed (see the checks line above)"
            if ((exhausted == 0)); then
                break
            elif ((attempt == 1)); then
                say "$name: all $n notifications were sent before the end of the run: again with $((n * 2))"
                n=$((n * 2))
            else
                invalid "tollgate_$name: all $n notifications were sent before the end of the run: raise BENCH_EVENTS"
            fi
        done

        # The peer: the same requests; nginx reads and discards them, so when it has sent them
        # all it starts again from the first (BENCH_WEBHOOKS_CYCLE).
        BENCH_WEBHOOKS_DIR="$dir" BENCH_SENT_FILE="$dir/sent-nginx" BENCH_WEBHOOKS_CYCLE=1 \
            run_wrk "nginx_$name" "$TMP/wrk-nginx-$name.txt" "${WRK_ARGS[@]}" "http://$NGINX_ADDR/api/v1/webhooks/$p"
    done
done

LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
kill -0 "$TG_PID" 2>/dev/null || die "tollgate died during the benchmark (log: $TMP/tollgate.log)"

if ((INVALID)); then
    echo
    echo "INVALID: at least one run had errors or failed its checks; ${OUT_DOC#"$ROOT"/} not written (logs in $TMP)"
    BENCH_KEEP=1
    exit 1
fi

# ---- report --------------------------------------------------------------------------------
BUSY=0
awk -v l="${LOAD_BEFORE%% *}" 'BEGIN { exit !(l >= 1.0) }' && BUSY=1
BUSY_NOTE=""
if ((BUSY)); then
    BUSY_NOTE="
**Warning:** the machine was busy before this run (load average $LOAD_BEFORE; after: $LOAD_AFTER):
other work shared the 2 cores, so these figures are lower and noisier than the machine can do.
"
fi
DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
DATA_FS="$(df -PT "$TMP" | awk 'NR == 2 {print $2}')"
NGINX_V="$( (nginx -v 2>&1 || true) | sed -n 1p)"
WRK_V="$( (wrk -v 2>&1 || true) | sed -n '1s/ Copyright.*//p')"
TG_V="$( ("$BIN" version 2>&1 || true) | sed -n 1p)"
NODE_V="$(node -v)"
SCHEMES=""
for p in "${PROVIDERS[@]}"; do
    case "$p" in
    stripe) SCHEMES+="
- Stripe: \`checkout.session.completed\` events as Stripe sends them (pretty-printed, about
  3 KiB), \`Stripe-Signature\` made by the \`stripe\` npm package
  (\`webhooks.generateTestHeaderString\`); Tollgate checks the HMAC-SHA256 over the timestamp
  and raw body with \`TG_STRIPE_WEBHOOK_SECRET\` and the 300 s tolerance, then reads the event." ;;
    wechatpay) SCHEMES+="
- WeChat Pay: \`TRANSACTION.SUCCESS\` notifications whose resource is AES-256-GCM encrypted
  with the APIv3 key and whose \`Wechatpay-Timestamp/-Nonce/-Signature/-Serial\` headers are an
  RSA-2048 SHA-256 signature by the platform key (public-key mode), made with
  \`wechatpay-axios-plugin\`; Tollgate verifies the signature with
  \`TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE\` and the 300 s tolerance, then decrypts the resource
  with \`TG_WECHATPAY_APIV3_KEY\` and checks the merchant id." ;;
    sandbox) SCHEMES+="
- sandbox: \`payment.succeeded\` notifications with \`Tollgate-Sandbox-Signature\` (HMAC-SHA256
  over the timestamp and raw body, node:crypto), verified with the 300 s tolerance." ;;
    esac
done
SDKS=()
for p in "${PROVIDERS[@]}"; do
    case "$p" in
    stripe) SDKS+=(stripe) ;;
    wechatpay) SDKS+=(wechatpay-axios-plugin) ;;
    esac
done
SDK_V="$(python3 -c 'import json, sys
print("".join("%s %s, " % (n, json.load(open("tests/e2e/node_modules/%s/package.json" % n))["version"]) for n in sys.argv[1:]))' "${SDKS[@]}")"

# One python3 for all the rows (each start of it is slow on a loaded machine).
# tables FIGURES_FILE: prints the results table's rows, then a line "--", the goal rows, "--",
# the check rows, "--", and one console line per run.
tables() {
    python3 - "$1" "$GOAL_RPS" <<'PY'
import json, sys
goal = float(sys.argv[2])
res, goals, checks, console = [], [], [], []
ms = lambda v: f"{float(v):.2f} ms"
n = lambda v: f"{int(v):,}"
rps = lambda v: f"{float(v):,.0f}"
for line in open(sys.argv[1]):
    name, what, tr, t50, t99, nr, n99, prepared, answered, check = line.rstrip("\n").split("\t")
    c = json.loads(check)
    ratio = float(tr) / float(nr)
    res.append(f"| {what} | {rps(tr)} | {ms(t50)} | {ms(t99)} | {rps(nr)} | {ms(n99)} | {ratio:.2f}x |")
    goals.append(f"| {what} | >= {n(goal)}/s | {rps(tr)}/s, goal {'met' if float(tr) >= goal else 'missed'} |")
    checks.append(f"| {what} | {n(prepared)} | {n(answered)} | {n(c['sent'])} | {n(c['events'])} | {c['redelivered']} "
                  f"| {n(c['fulfilled'])} | {n(c['duplicate'])} | {n(c['events'])} | 0 |")
    console.append(f"{name:<18} tollgate {rps(tr):>9} req/s  p50 {ms(t50):<10} p99 {ms(t99):<10} "
                   f"nginx {rps(nr):>9} req/s  ratio {ratio:.2f}x")
print("\n".join(res + ["--"] + goals + ["--"] + checks + ["--"] + console))
PY
}
FIGURES="$TMP/figures.tsv"
: >"$FIGURES"
for name in "${SCENARIOS[@]}"; do
    p="${name%_*}"
    mode="${name##*_}"
    label_var="LABEL_$p"
    label="${!label_var}"
    if [[ $mode == unique ]]; then what="$label, unique events"; else what="$label, 50% duplicates"; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$what" \
        "${RPS[tollgate_$name]}" "${P50[tollgate_$name]}" "${P99[tollgate_$name]}" \
        "${RPS[nginx_$name]}" "${P99[nginx_$name]}" "${PREPARED[$name]}" "${COUNT[tollgate_$name]}" \
        "${CHECK[$name]}" >>"$FIGURES"
done
tables "$FIGURES" >"$TMP/tables.txt"
part() { awk -v k="$1" '$0 == "--" { i++; next } i == k' "$TMP/tables.txt"; }
RESULT_ROWS="$(part 0)"
GOAL_ROWS="$(part 1)"
CHECK_ROWS="$(part 2)"

# The command as run: the settings given that change what is measured.
REPRO=""
for v in BENCH_PROVIDERS BENCH_EVENTS BENCH_DURATION BENCH_CONNS BENCH_DUP_GAP; do
    if [[ -n "${!v:-}" ]]; then REPRO+="$v='${!v}' "; fi
done

BEGIN_MARK='<!-- bench/webhooks.sh: begin (this section is rewritten by bench/webhooks.sh) -->'
END_MARK='<!-- bench/webhooks.sh: end -->'
SECTION="$TMP/section.md"
cat >"$SECTION" <<EOF
$BEGIN_MARK

## Payment notifications

Measured by \`bench/webhooks.sh\` on $DATE (about 5-10 minutes; it rewrites only this section).
$BUSY_NOTE
Each notification is for its own pending order and signed with the provider's real scheme
(${SDK_V}Node $NODE_V):
$SCHEMES

Tollgate then applies it in one transaction committed with \`synchronous=FULL\` before the
answer: the inbox row under (provider, event id), the order moved to paid after its provider,
amount and currency were compared, the purchase entry and the wallet. The nginx peer gets the
same requests and answers the provider's acknowledgement from a fixed \`return 200\`
(bench/nginx.conf), reading and discarding the body: the ceiling for this machine.

| notifications, $CONNS connections | tollgate req/s | tollgate p50 | tollgate p99 | nginx req/s | nginx p99 | ratio tollgate/nginx |
|---|---:|---:|---:|---:|---:|---:|
$RESULT_ROWS

| goal | target | this run |
|---|---:|---|
$GOAL_ROWS

Exactly once, checked after every run (not assumed): notifications wrk had sent whose order
was still pending - in flight when wrk stopped - were delivered again and answered 200; then
every delivered order was paid with exactly one purchase entry of $CREDITS credits and one
fulfilled inbox row, the server's own count of fulfilments (\`/metrics\`) equalled the number
of orders, and \`tollgate audit\` passed:

| run | orders prepared | answered to wrk | sent by wrk | distinct events (orders) | delivered again | fulfilled (server) | duplicates (server) | orders paid, one purchase entry each | double fulfilments |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$CHECK_ROWS

In the 50% duplicate runs every notification is sent twice: each run of $GAP notifications
(per wrk thread) is followed by the same $GAP again, so the second delivery often arrives
while the first is still being committed; it is answered 200 from the inbox and changes
nothing.
A run whose prepared notifications had all gone out before its end is done again with twice
as many (the "orders prepared" column), so that every figure is a full run.

Machine: $(nproc) cores, load average before $LOAD_BEFORE, after $LOAD_AFTER; data folder on
$DATA_FS. $TG_V (release build); $NGINX_V; $WRK_V.
Both servers have their access logs on, Tollgate with \`TG_WORKERS=2\`, nginx with
\`worker_processes 2\`.

Reproduce (about 5-10 minutes; BENCH_PROVIDERS, BENCH_EVENTS, BENCH_DURATION, BENCH_CONNS
change what it runs):

    ${REPRO}bench/webhooks.sh

It inserts each run's pending orders with \`sqlite3\` into a fresh data folder (one buyer,
registered over HTTP), signs their notifications just before the run (each provider accepts a
signature for 300 s), and runs, per provider and kind (two wrk threads, each sending its own
half of the notifications in order):

    BENCH_WEBHOOKS_DIR=<run's notifications> ${CMD[tollgate_${SCENARIOS[0]}]}
    BENCH_WEBHOOKS_DIR=<run's notifications> BENCH_WEBHOOKS_CYCLE=1 ${CMD[nginx_${SCENARIOS[0]}]}

$END_MARK
EOF
# The section replaces its previous version, or goes right after run.sh's history marker (so
# that bench/run.sh keeps it), or at the end.
python3 - "$OUT_DOC" "$SECTION" "$BEGIN_MARK" "$END_MARK" <<'PY'
import os, sys
doc, sec, begin, end = sys.argv[1:5]
section = open(sec).read().rstrip("\n") + "\n"
text = open(doc).read() if os.path.exists(doc) else "# Performance\n"
i = text.find(begin)
if i >= 0:
    j = text.index(end, i) + len(end)
    text = text[:i] + section.rstrip("\n") + text[j:]
else:
    mark = "<!-- history: kept by bench/run.sh"
    k = text.find(mark)
    if k >= 0:
        k = text.index("\n", k) + 1
        text = text[:k] + "\n" + section + text[k:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
open(doc, "w").write(text)
PY

say "results"
part 3
echo "load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
if ((BUSY)); then
    echo "WARNING: the machine was busy before the run (load $LOAD_BEFORE); figures are low"
fi
echo "wrote the payment notifications section of ${OUT_DOC#"$ROOT"/}"
