# Sourced by the bench scripts: one `skyload gateway` on 127.0.0.1, on a port the kernel picks,
# stopped by its pid. The caller's EXIT trap calls `stop_gateway` (a script may have more to stop).
#
#   start_gateway BIN CONFIG WORKDIR [PREFIX]   # PREFIX: a command put before it, e.g. "taskset -c 0"
# sets: gw_pid, url (http://127.0.0.1:PORT); its output goes to WORKDIR/gateway.out.
# Exits 3 (printing the gateway's output) when it stops or names no URL within 10 s.

gw_pid=""
url=""

start_gateway() {
    local bin=$1 config=$2 dir=$3 prefix=${4:-}
    # shellcheck disable=SC2086 # prefix is a command and its arguments
    $prefix "$bin" gateway --config "$config" --listen 127.0.0.1:0 > "$dir/gateway.out" 2>&1 &
    gw_pid=$!
    url=""
    for _ in $(seq 1 100); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$dir/gateway.out" | head -n1 || true)
        [ -n "$url" ] && return 0
        kill -0 "$gw_pid" 2>/dev/null || { cat "$dir/gateway.out" >&2; exit 3; }
        sleep 0.1
    done
    echo "gateway did not start" >&2
    cat "$dir/gateway.out" >&2
    exit 3
}

stop_gateway() {
    if [ -n "$gw_pid" ] && kill -0 "$gw_pid" 2>/dev/null; then
        kill "$gw_pid"
        wait "$gw_pid" 2>/dev/null || true
    fi
}
