#!/usr/bin/env bash
# Generator cost over TLS: requests per CPU-second of skyload against one nginx on loopback, once
# over https:// (TLS 1.3, keep-alive; and again with a new connection per request, where every
# handshake after the first resumes) and once over http:// at the same rate, with wrk's https
# figure beside it. nginx gets core 0, the generator core 1; CPU time is the generator's user+sys.
#
#   bash benches/tls.sh                 # 10 s each at 5000 rps
#   DURATION=20 RATE=10000 bash benches/tls.sh
#
# Needs nginx, wrk, openssl (Debian packages; installed if missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
RATE=${RATE:-5000}
CONNS=${CONNS:-32}

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need time time
need openssl openssl
need nginx nginx-light || need nginx nginx

cargo build --release --quiet
BIN=$PWD/target/release/skyload
. benches/nginx.sh
tport=$(free_port)
certs=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" -keyout "$certs/key.pem" -out "$certs/cert.pem" 2>/dev/null
start_nginx "taskset -c 0" "ssl_session_cache shared:tls:1m;
  server { listen 127.0.0.1:$tport ssl http2; ssl_certificate $certs/cert.pem; ssl_certificate_key $certs/key.pem;
           ssl_protocols TLSv1.2 TLSv1.3; location / { return 200 'ok'; } }"
trap 'kill $nginx_pid 2>/dev/null || true; rm -rf "$work" "$certs"' EXIT

cpu_of() { awk '{print $1 + $2}' "$1"; }

# skyload NAME URL [flags...]: one open-loop run on core 1; prints requests per CPU-second.
sky() {
    local name=$1 url=$2; shift 2
    local run="$work/${name//[^A-Za-z0-9]/_}"   # a file name: "http/1.1" is not one
    /usr/bin/env time -f "%U %S" -o "$run.time" taskset -c 1 "$BIN" run --url "$url" --rate "$RATE" \
        --duration "${DURATION}s" -c "$CONNS" --quiet --out "$run" "$@" > "$run.out"
    local reqs cpu
    reqs=$(python3 -c "import json; print(json.load(open('$run/summary.json'))['totals']['outcomes'].get('ok', 0))")
    cpu=$(cpu_of "$run.time")
    printf "  %-28s %8d  (%d ok, %.2f CPU-s)\n" "$name" "$(python3 -c "print(round($reqs / $cpu))")" "$reqs" "$cpu"
    grep '^tls:' "$run.out" | sed 's/^/      /' || true
}

echo "requests per CPU-second at $RATE rps for ${DURATION}s, $CONNS connections (higher is better)"
sky "skyload http"               "http://127.0.0.1:$port/"
sky "skyload https http/1.1"     "https://127.0.0.1:$tport/" --cacert "$certs/cert.pem" --http1.1
sky "skyload https h2"           "https://127.0.0.1:$tport/" --cacert "$certs/cert.pem"
cat > "$work/churn.toml" <<TOML
name = "churn"
[target]
url = "https://127.0.0.1:$tport"
tls = { cacert = "$certs/cert.pem" }
[connections]
max = $CONNS
per_request = true
[[stages]]
rate = $((RATE / 5))
duration = "${DURATION}s"
[[requests]]
path = "/"
TOML
/usr/bin/env time -f "%U %S" -o "$work/churn.time" taskset -c 1 "$BIN" run "$work/churn.toml" --http1.1 --quiet --out "$work/churn" > "$work/churn.out"
reqs=$(python3 -c "import json; print(json.load(open('$work/churn/summary.json'))['totals']['outcomes'].get('ok', 0))")
printf "  %-28s %8d  (%d ok at %d rps, a handshake each, %.2f CPU-s)\n" "skyload https per_request" \
    "$(python3 -c "print(round($reqs / $(cpu_of "$work/churn.time")))")" "$reqs" $((RATE / 5)) "$(cpu_of "$work/churn.time")"
grep '^tls:' "$work/churn.out" | sed 's/^/      /' || true
/usr/bin/env time -f "%U %S" -o "$work/wrk.time" taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "https://127.0.0.1:$tport/" > "$work/wrk.out"
wrk_reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
printf "  %-28s %8d  (%d requests, closed loop at max rate)\n" "wrk https http/1.1" \
    "$(python3 -c "print(round($wrk_reqs / $(cpu_of "$work/wrk.time")))")" "$wrk_reqs"
