# Sourced by the bench scripts: one nginx on loopback answering 200 "ok", with its own prefix in a
# temporary directory, stopped (by its pid) and cleaned up when the script exits.
#
#   start_nginx PREFIX [EXTRA_HTTP_CONF]   # PREFIX: a command put before nginx, e.g. "taskset -c 0"
# sets: work (temp dir), port (cleartext port), nginx_pid. `free_port` prints an unused port.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_nginx() {
    local prefix=$1 extra=${2:-}
    work=$(mktemp -d)
    port=$(free_port)
    mkdir -p "$work/logs"
    cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$port; location / { return 200 'ok'; } }
  $extra
}
CONF
    # shellcheck disable=SC2086 # prefix is a command and its arguments
    $prefix nginx -p "$work" -c "$work/nginx.conf" &
    nginx_pid=$!
    trap 'kill $nginx_pid 2>/dev/null || true; rm -rf "$work"' EXIT
    for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
    echo "nginx did not start on port $port (see its message above)" >&2
    return 1
}

# The one-thread GET / scenario the generator benches run against this nginx, on stdout:
#   bench_scenario NAME RATE SECONDS CONNS [MAX_LAG]   (MAX_LAG e.g. "1s": drop what is later)
bench_scenario() {
    cat <<TOML
name = "$1"
threads = 1
${5:+max_lag = \"$5\"}
[target]
url = "http://127.0.0.1:$port"
[connections]
max = $4
[[stages]]
rate = $2
duration = "$3s"
[[requests]]
name = "get"
path = "/"
TOML
}
