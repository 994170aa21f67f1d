# shellcheck shell=bash
# bench/lib.sh - helpers shared by bench/run.sh and bench/webhooks.sh (sourced, not run).

# parse_wrk FILE -> "REQ_PER_S P99_MS NON2XX SOCKET_ERRORS BYTES_PER_RESPONSE P50_MS REQUESTS"
parse_wrk() {
    python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r'Requests/sec:\s+([\d.]+)', t)
rps = float(m.group(1)) if m else -1
scale = {'us': 0.001, 'ms': 1, 's': 1000, 'm': 60000, 'h': 3600000}
def pct(p):
    m = re.search(r'^\s+%s%%\s+([\d.]+)(us|ms|s|m|h)\s*$' % p, t, re.M)
    return float(m.group(1)) * scale[m.group(2)] if m else -1
p99 = pct(99)
p50 = pct(50)
m = re.search(r'Non-2xx or 3xx responses:\s+(\d+)', t)
non2xx = int(m.group(1)) if m else 0
m = re.search(r'Socket errors:\s+connect (\d+), read (\d+), write (\d+), timeout (\d+)', t)
sock = sum(int(x) for x in m.groups()) if m else 0
m = re.search(r'(\d+) requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB|TB) read', t)
unit = {'B': 1, 'KB': 1024, 'MB': 1024**2, 'GB': 1024**3, 'TB': 1024**4}
size = float(m.group(2)) * unit[m.group(3)] / int(m.group(1)) if m and int(m.group(1)) else 0
n = int(m.group(1)) if m else 0
print('%.2f %.3f %d %d %.0f %.3f %d' % (rps, p99, non2xx, sock, size, p50, n))
PY
}

fmt_rps() { python3 -c 'import sys; print(f"{float(sys.argv[1]):,.0f}")' "$1"; }
fmt_ms() { python3 -c 'import sys; print(f"{float(sys.argv[1]):.2f} ms")' "$1"; }
# ratio A B: A/B with two decimals.
ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }

# goal VALUE ge|lt LIMIT TEXT: prints "TEXT, goal met" or "TEXT, goal missed".
goal() {
    if python3 -c 'import sys; v, op, l = float(sys.argv[1]), sys.argv[2], float(sys.argv[3]); sys.exit(0 if (v >= l if op == "ge" else v < l) else 1)' "$1" "$2" "$3"; then
        printf '%s, goal met' "$4"
    else
        printf '%s, goal missed' "$4"
    fi
}
