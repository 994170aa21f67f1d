#!/usr/bin/env bash
# test.sh - installs what is missing, builds, and runs every test suite; also what CI runs.
#
# Stages:
#   deps                  scripts/deps.sh test (Debian packages, Node.js, chromium, npm ci in
#                         tests/e2e and tests/browser)
#   build, build-asan     meson + ninja: the default (debugoptimized) build and an
#                         AddressSanitizer + UndefinedBehaviorSanitizer build
#   meson <dir>           meson test --suite unit --suite store in each build (TAP subtests counted)
#   e2e <dir>             the Node end-to-end suite in tests/e2e against <dir>/tollgate
#   browser <dir>         the web UI in Debian's chromium (tests/browser) against <dir>/tollgate,
#                         the plain build; screenshots in <dir>/browser-artifacts
#   fuzz <target>         every tests/fuzz/fuzz_*.c built with clang -fsanitize=fuzzer,address,
#                         undefined in build-fuzz and run by libFuzzer over its seed corpus
#                         tests/fuzz/corpus/<target> for a bounded time (one result per target)
#
# Ends with one line "N passed, N failed" (", N skipped" when some were skipped) and exits
# non-zero when anything failed or a stage could not run (such a stage counts as failed).
#
# Environment (optional): TEST_BUILD_DIR (build), TEST_ASAN_DIR (build-asan), TEST_FUZZ_DIR
# (build-fuzz) choose the build folders; TEST_SKIP_DEPS=1 skips the deps stage;
# TEST_FUZZ_SECONDS (96) is the wall-clock budget of the fuzz runs, shared by the targets.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${TEST_BUILD_DIR:-build}"
ASAN_DIR="${TEST_ASAN_DIR:-build-asan}"
FUZZ_DIR="${TEST_FUZZ_DIR:-build-fuzz}"
E2E_DIR="tests/e2e"
BROWSER_DIR="tests/browser"

# The fuzz stage's compiler (tests/fuzz/libfuzzer.ini names the same) and its time budget:
# ~96 s of fuzzing plus ~20 s of building keeps the stage under 2.5 minutes on 2 cores.
FUZZ_CC="clang-14"
FUZZ_SECONDS="${TEST_FUZZ_SECONDS:-96}"

# Sanitizer run-time options, used by meson test and by the binaries the e2e suite starts.
ASAN_OPTIONS_RUN="detect_leaks=1:abort_on_error=1"
UBSAN_OPTIONS_RUN="halt_on_error=1:print_stacktrace=1"
LSAN_SUPP="$ROOT/scripts/lsan.supp"

LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-test.XXXXXX")"
trap 'rm -rf "$LOG_DIR"' EXIT

TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
SUMMARY=()

say() { printf '\n==> %s\n' "$*"; }
note() { printf 'test.sh: %s\n' "$*" >&2; }

# record STAGE PASS FAIL SKIP SECONDS [NOTE]
record() {
    local stage="$1" p="$2" f="$3" s="$4" secs="$5" msg="${6:-}"
    TOTAL_PASS=$((TOTAL_PASS + p))
    TOTAL_FAIL=$((TOTAL_FAIL + f))
    TOTAL_SKIP=$((TOTAL_SKIP + s))
    SUMMARY+=("$(printf '  %-26s pass %-5s fail %-4s skip %-4s %4ss  %s' "$stage" "$p" "$f" "$s" "$secs" "$msg")")
}

# LeakSanitizer's suppressions for leaks inside system libraries live in the binary
# (__lsan_default_suppressions in src/http/server.c: libh2o's per-thread recycle caches);
# scripts/lsan.supp, when present, adds more. print_suppressions=0 keeps LSan from printing
# its "Suppressions used" table, which would break the one-JSON-object-per-line log.
sanitizer_env() {
    local lsan="print_suppressions=0"
    if [[ -f "$LSAN_SUPP" ]]; then
        lsan="suppressions=$LSAN_SUPP:$lsan"
    fi
    printf 'ASAN_OPTIONS=%s\nUBSAN_OPTIONS=%s\nLSAN_OPTIONS=%s\n' \
        "$ASAN_OPTIONS_RUN" "$UBSAN_OPTIONS_RUN" "$lsan"
}

# Runs "$@" with the sanitizer options in the environment.
with_sanitizers() {
    local vars=()
    mapfile -t vars < <(sanitizer_env)
    env "${vars[@]}" "$@"
}

# ---- deps ----------------------------------------------------------------------------------
stage_deps() {
    say "deps: scripts/deps.sh test"
    local t0=$SECONDS
    if [[ "${TEST_SKIP_DEPS:-0}" == 1 ]]; then
        note "TEST_SKIP_DEPS=1: not checking packages"
        return 0
    fi
    if bash "$ROOT/scripts/deps.sh" test; then
        return 0
    fi
    record deps 0 1 0 $((SECONDS - t0)) "could not install dependencies (see above)"
    return 1
}

# ---- build ---------------------------------------------------------------------------------
# build_dir DIR [meson options...]: sets up (or reconfigures) DIR and builds it.
BUILT=()
build_dir() {
    local dir="$1"
    shift
    say "build $dir"
    local t0=$SECONDS log="$LOG_DIR/setup-${dir//\//_}.log" rc=0
    if [[ -f "$dir/build.ninja" ]]; then
        meson setup --reconfigure "$dir" "$@" >"$log" 2>&1 || rc=$?
    else
        meson setup "$dir" "$@" >"$log" 2>&1 || rc=$?
    fi
    if ((rc != 0)); then
        cat "$log"
        record "build $dir" 0 1 0 $((SECONDS - t0)) "meson setup failed"
        return 1
    fi
    if ! ninja -C "$dir"; then
        record "build $dir" 0 1 0 $((SECONDS - t0)) "compilation failed"
        return 1
    fi
    BUILT+=("$dir")
    record "build $dir" 0 0 0 $((SECONDS - t0)) "built"
    return 0
}

is_built() {
    local d
    for d in "${BUILT[@]}"; do [[ "$d" == "$1" ]] && return 0; done
    return 1
}

# ---- meson test ----------------------------------------------------------------------------
# Prints "PASS FAIL SKIP" counted from a meson testlog.json: TAP subtests when a test printed
# TAP, else one per test executable. A test that failed without a failing subtest (crash,
# sanitizer report, timeout, wrong plan) adds one failure.
count_testlog() {
    python3 - "$1" <<'PY'
import json, re, sys

point = re.compile(r'^(not ok|ok)\b[^#]*(#\s*(\S+))?', re.IGNORECASE)
plan_skip = re.compile(r'^1\.\.0\s*#\s*skip', re.IGNORECASE)
bad = {'FAIL', 'TIMEOUT', 'ERROR', 'UNEXPECTEDPASS'}
P = F = S = 0
with open(sys.argv[1]) as fh:
    for line in fh:
        line = line.strip()
        if not line:
            continue
        t = json.loads(line)
        res = t.get('result', 'ERROR')
        p = f = s = 0
        whole_skip = False
        for l in (t.get('stdout') or '').splitlines():
            if plan_skip.match(l):
                whole_skip = True
            if l.lower().startswith('bail out!'):
                f += 1
            m = point.match(l)
            if not m:
                continue
            ok = m.group(1).lower() == 'ok'
            directive = (m.group(3) or '').upper()
            if directive.startswith('SKIP'):
                s += 1
            elif directive.startswith('TODO'):
                if ok:
                    p += 1
                else:
                    s += 1  # known, expected failure: not a pass
            elif ok:
                p += 1
            else:
                f += 1
        if p + f + s == 0:
            if res == 'OK':
                p = 1
            elif res in ('SKIP', 'EXPECTEDFAIL') or whole_skip:
                s = 1
            else:
                f = 1
        elif res in bad and f == 0:
            f = 1
        if f:
            print('  failed: %s (%s)' % (t.get('name'), res), file=sys.stderr)
        P += p; F += f; S += s
print(P, F, S)
PY
}

stage_meson() {
    local dir="$1" stage="meson $1"
    say "$stage: meson test --suite unit --suite store"
    local t0=$SECONDS
    if ! is_built "$dir"; then
        record "$stage" 0 1 0 0 "not run: $dir did not build"
        return
    fi
    local json="$dir/meson-logs/testlog.json" rc=0 mult=1 out="$LOG_DIR/meson-${dir//\//_}.log"
    [[ "$dir" == "$ASAN_DIR" ]] && mult=3
    rm -f "$json"
    # With pipefail the pipeline's status is meson's (tee does not fail).
    with_sanitizers meson test -C "$dir" --no-rebuild --print-errorlogs -t "$mult" \
        --suite unit --suite store 2>&1 | tee "$out" || rc=$?
    if [[ ! -f "$json" ]]; then
        if ((rc == 0)) && grep -q 'No suitable tests defined' "$out"; then
            record "$stage" 0 0 0 $((SECONDS - t0)) "no tests defined"
        else
            record "$stage" 0 1 0 $((SECONDS - t0)) "meson test did not run (exit $rc)"
        fi
        return
    fi
    local counts p f s
    if ! counts="$(count_testlog "$json")"; then
        record "$stage" 0 1 0 $((SECONDS - t0)) "could not read $json"
        return
    fi
    read -r p f s <<<"$counts"
    local msg=""
    if ((rc != 0 && f == 0)); then
        f=1
        msg="meson test exited $rc"
    fi
    record "$stage" "$p" "$f" "$s" $((SECONDS - t0)) "$msg"
}

# ---- e2e (node) ----------------------------------------------------------------------------
# How to run tests/e2e: "npm" (package.json with a test script), "node" (test files for
# node --test), or "none".
e2e_kind() {
    if [[ -f "$E2E_DIR/package.json" ]] &&
        node -e 'process.exit(((require(process.argv[1]).scripts||{}).test) ? 0 : 1)' \
            "$ROOT/$E2E_DIR/package.json" 2>/dev/null; then
        echo npm
    elif [[ -d "$E2E_DIR" ]] && [[ -n "$(find "$E2E_DIR" -path "$E2E_DIR/node_modules" -prune -o \
        -type f \( -name '*.test.js' -o -name '*.test.mjs' -o -name '*.test.cjs' \
        -o -name 'test-*.js' -o -name 'test-*.mjs' -o -name '*_test.js' -o -name '*_test.mjs' \
        -o -path '*/test/*.js' -o -path '*/test/*.mjs' \) -print -quit)" ]]; then
        echo node
    else
        echo none
    fi
}

# Prints "PASS FAIL SKIP FOUND" from node's test runner summary (tap "# pass N" or spec
# "ℹ pass N"); the last summary in the output wins.
count_node() {
    python3 - "$1" <<'PY'
import re, sys
rx = re.compile(r'^\s*(?:#|\u2139)\s+(pass|fail|skipped|todo|cancelled)\s+(\d+)\s*$')
c = {}
text = open(sys.argv[1], encoding='utf-8', errors='replace').read()
for line in text.splitlines():
    m = rx.match(line)
    if m:
        c[m.group(1)] = int(m.group(2))
found = 1 if 'pass' in c or 'fail' in c else 0
print(c.get('pass', 0), c.get('fail', 0) + c.get('cancelled', 0),
      c.get('skipped', 0) + c.get('todo', 0), found)
PY
}

# run_node_suite STAGE SUITE_DIR BUILD_DIR T0 CMD...: runs CMD in SUITE_DIR against
# BUILD_DIR/tollgate (TOLLGATE_BIN; the sanitizer options when BUILD_DIR is the ASan build),
# counts node's test-runner summary and records STAGE. No summary, or a failing exit with no
# failed test, counts as a failure.
run_node_suite() {
    local stage="$1" suite="$2" dir="$3" t0="$4"
    shift 4
    local out="$LOG_DIR/${stage//[^A-Za-z0-9]/_}.log" rc=0
    (
        cd "$suite"
        export TOLLGATE_BIN="$ROOT/$dir/tollgate"
        export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false npm_config_fund=false
        if [[ "$dir" == "$ASAN_DIR" ]]; then
            export TOLLGATE_SANITIZED=1
            with_sanitizers "$@"
        else
            "$@"
        fi
    ) </dev/null 2>&1 | tee "$out" || rc=$?
    local p f s found msg=""
    read -r p f s found <<<"$(count_node "$out")"
    if ((found == 0)); then
        f=$((f + 1))
        msg="no test runner summary found (exit $rc)"
    elif ((rc != 0 && f == 0)); then
        f=1
        msg="runner exited $rc"
    fi
    record "$stage" "$p" "$f" "$s" $((SECONDS - t0)) "$msg"
}

stage_e2e() {
    local dir="$1" stage="e2e $1" kind
    kind="$(e2e_kind)"
    say "$stage: tests/e2e with TOLLGATE_BIN=$dir/tollgate"
    local t0=$SECONDS
    if [[ "$kind" == none ]]; then
        echo "no e2e suite in $E2E_DIR yet: 0 tests"
        record "$stage" 0 0 0 0 "no e2e suite yet"
        return
    fi
    if ! is_built "$dir" || [[ ! -x "$dir/tollgate" ]]; then
        record "$stage" 0 1 0 0 "not run: $dir/tollgate was not built"
        return
    fi
    if ! command -v node >/dev/null 2>&1; then
        record "$stage" 0 1 0 0 "not run: node is missing"
        return
    fi
    local cmd=(node --test)
    [[ "$kind" == npm ]] && cmd=(npm test --silent)
    run_node_suite "$stage" "$E2E_DIR" "$dir" "$t0" "${cmd[@]}"
}

# ---- browser (node + chromium) -------------------------------------------------------------
# tests/browser: the web UI served by <dir>/tollgate, in Debian's chromium (playwright-core).
# Everything it needs is installed by scripts/deps.sh test: a missing suite, chromium or
# npm package is a failure, never a skip. Screenshots go to <dir>/browser-artifacts.
stage_browser() {
    local dir="$1" stage="browser $1"
    say "$stage: tests/browser with TOLLGATE_BIN=$dir/tollgate, chromium ${CHROMIUM_BIN:-/usr/bin/chromium}"
    local t0=$SECONDS
    if [[ ! -f "$BROWSER_DIR/package.json" ]] || ! compgen -G "$BROWSER_DIR/*.test.mjs" >/dev/null; then
        record "$stage" 0 1 0 0 "no browser suite in $BROWSER_DIR"
        return
    fi
    if ! is_built "$dir" || [[ ! -x "$dir/tollgate" ]]; then
        record "$stage" 0 1 0 0 "not run: $dir/tollgate was not built"
        return
    fi
    if ! command -v node >/dev/null 2>&1; then
        record "$stage" 0 1 0 0 "not run: node is missing"
        return
    fi
    if [[ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]]; then
        record "$stage" 0 1 0 0 "not run: ${CHROMIUM_BIN:-/usr/bin/chromium} is missing (scripts/deps.sh test)"
        return
    fi
    if [[ ! -d "$BROWSER_DIR/node_modules/playwright-core" ]]; then
        record "$stage" 0 1 0 0 "not run: $BROWSER_DIR/node_modules is missing (scripts/deps.sh test)"
        return
    fi
    rm -rf "$dir/browser-artifacts"
    run_node_suite "$stage" "$BROWSER_DIR" "$dir" "$t0" npm test --silent
    echo "browser: screenshots in $dir/browser-artifacts"
}

# ---- fuzz ----------------------------------------------------------------------------------
# The targets: every tests/fuzz/fuzz_*.c, the same list tests/fuzz/meson.build builds.
fuzz_targets() {
    local f
    for f in tests/fuzz/fuzz_*.c; do
        [[ -e "$f" ]] || continue
        f="${f##*/fuzz_}"
        echo "${f%.c}"
    done
}

# run_fuzz_target TARGET SECONDS: one libFuzzer run; leaves its log and exit status in LOG_DIR.
# New inputs go to a working corpus in the build folder (kept between runs, so coverage
# grows); the committed seeds are only read. Crashes are saved in $FUZZ_DIR/fuzz-artifacts.
run_fuzz_target() {
    local t="$1" secs="$2" rc=0
    local work="$FUZZ_DIR/fuzz-corpus/$t" log="$LOG_DIR/fuzz-$t.log"
    mkdir -p "$work" "$FUZZ_DIR/fuzz-artifacts"
    # timeout: a hang libFuzzer itself cannot break out of still ends the stage.
    with_sanitizers timeout -k 10 $((secs + 60)) "$FUZZ_DIR/tests/fuzz/fuzz_$t" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$FUZZ_DIR/fuzz-artifacts/$t-" "$work" "tests/fuzz/corpus/$t" \
        </dev/null >"$log" 2>&1 || rc=$?
    echo "$rc" >"$LOG_DIR/fuzz-$t.rc"
}

stage_fuzz() {
    say "fuzz: libFuzzer ($FUZZ_CC -fsanitize=fuzzer,address,undefined) in $FUZZ_DIR"
    local t0=$SECONDS targets=() t
    mapfile -t targets < <(fuzz_targets)
    if ((${#targets[@]} == 0)); then
        record "fuzz" 0 1 0 0 "no tests/fuzz/fuzz_*.c found"
        return
    fi
    # A missing compiler or libFuzzer runtime fails every target: fuzzing that did not run
    # must not look like fuzzing that found nothing.
    local why=""
    if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
        why="$FUZZ_CC is missing (scripts/deps.sh test installs clang-14)"
    elif ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' |
        "$FUZZ_CC" -x c - -fsanitize=fuzzer -o "$LOG_DIR/fuzz-probe" >"$LOG_DIR/fuzz-probe.log" 2>&1; then
        cat "$LOG_DIR/fuzz-probe.log"
        why="$FUZZ_CC cannot link -fsanitize=fuzzer (libFuzzer runtime: libclang-rt-14-dev)"
    fi
    if [[ -z "$why" ]]; then
        local log="$LOG_DIR/setup-fuzz.log" rc=0
        if [[ -f "$FUZZ_DIR/build.ninja" ]]; then
            meson setup --reconfigure "$FUZZ_DIR" --native-file tests/fuzz/libfuzzer.ini >"$log" 2>&1 || rc=$?
        else
            meson setup "$FUZZ_DIR" --native-file tests/fuzz/libfuzzer.ini >"$log" 2>&1 || rc=$?
        fi
        if ((rc != 0)); then
            cat "$log"
            why="meson setup of $FUZZ_DIR failed"
        else
            # -k 0: one target that does not compile does not hide the others' results.
            ninja -C "$FUZZ_DIR" -k 0 "${targets[@]/#/tests/fuzz/fuzz_}" || true
        fi
    fi
    # Built means up to date now: a binary left from an earlier build must not stand in for
    # a target that no longer compiles.
    local built=()
    if [[ -z "$why" ]]; then
        for t in "${targets[@]}"; do
            local dry
            dry="$(ninja -C "$FUZZ_DIR" -n "tests/fuzz/fuzz_$t" 2>&1 || true)"
            [[ "$dry" == *"no work to do"* ]] && built+=("$t")
        done
    fi
    if [[ -n "$why" ]]; then
        for t in "${targets[@]}"; do
            record "fuzz $t" 0 1 0 0 "not run: $why"
        done
        return
    fi
    local build_secs=$((SECONDS - t0))

    # The budget is wall-clock time: one target per core at a time.
    local jobs n=${#targets[@]} secs
    jobs="$(nproc 2>/dev/null || echo 1)"
    ((jobs > n)) && jobs=$n
    secs=$(((FUZZ_SECONDS * jobs + n - 1) / n))
    ((secs < 5)) && secs=5
    echo "fuzz: ${#targets[@]} targets, ${secs}s each, $jobs at a time (built in ${build_secs}s)"
    local running=0
    for t in "${built[@]}"; do
        [[ -d "tests/fuzz/corpus/$t" ]] || continue
        if ((running == jobs)); then
            wait -n || true
            running=$((running - 1))
        fi
        run_fuzz_target "$t" "$secs" &
        running=$((running + 1))
    done
    wait || true

    local log rc runs
    for t in "${targets[@]}"; do
        log="$LOG_DIR/fuzz-$t.log"
        if [[ " ${built[*]} " != *" $t "* ]]; then
            record "fuzz $t" 0 1 0 0 "not built (see the compiler output above)"
            continue
        fi
        if [[ ! -d "tests/fuzz/corpus/$t" ]]; then
            record "fuzz $t" 0 1 0 0 "no seed corpus tests/fuzz/corpus/$t (build/tests/fuzz/fuzz_$t --write-seeds DIR)"
            continue
        fi
        rc="$(cat "$LOG_DIR/fuzz-$t.rc" 2>/dev/null || echo missing)"
        runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)"
        # libFuzzer exits non-zero on a crash, leak, timeout or out-of-memory; a sanitizer
        # report or a missing "Done" line fails the target even if the exit status did not.
        if [[ "$rc" == 0 && -n "$runs" ]] && ! grep -qE '^(==[0-9]+== ?)?ERROR|runtime error:|^SUMMARY: ' "$log"; then
            record "fuzz $t" 1 0 0 "$secs" "$runs runs"
        else
            echo "--- fuzz $t failed (exit $rc); the end of its log:"
            tail -n 60 "$log"
            echo "--- crash inputs are in $FUZZ_DIR/fuzz-artifacts/; replay one with"
            echo "    $FUZZ_DIR/tests/fuzz/fuzz_$t FILE   (or build-asan/tests/fuzz/fuzz_$t --replay FILE)"
            record "fuzz $t" 0 1 0 "$secs" "failed (exit $rc), see the log above"
        fi
    done
    note "fuzz stage took $((SECONDS - t0))s"
}

# ---- main ----------------------------------------------------------------------------------
T_START=$SECONDS
stage_deps || true

build_dir "$BUILD_DIR" || true
# GCC 12 with -fsanitize=undefined reports "null format string" (-Wformat-truncation) on
# vsnprintf(NULL, 0, ...), a false positive of its nonnull-attribute instrumentation; the
# plain build still checks format truncation with -Werror.
build_dir "$ASAN_DIR" -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-Wno-format-truncation || true

stage_meson "$BUILD_DIR"
stage_meson "$ASAN_DIR"
stage_e2e "$BUILD_DIR"
stage_e2e "$ASAN_DIR"
stage_browser "$BUILD_DIR"
stage_fuzz

printf '\n==> summary (%ss)\n' $((SECONDS - T_START))
printf '%s\n' "${SUMMARY[@]}"
line="$TOTAL_PASS passed, $TOTAL_FAIL failed"
((TOTAL_SKIP > 0)) && line+=", $TOTAL_SKIP skipped"
echo "$line"
((TOTAL_FAIL == 0))
