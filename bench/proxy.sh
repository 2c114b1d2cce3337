#!/usr/bin/env bash
# Signing proxy benchmark: `meshlens sigv4-proxy` in front of a local
# upstream (`meshlens store`, answering /api/v1/status/buildinfo), driven by
# wrk: requests/s and p99 latency direct and through the proxy, and the
# proxy's peak memory while it signs one large body (hashed as it is
# spooled to disk, so its memory must stay flat). Prints a Markdown table.
# Environment: CONNECTIONS (32), DURATION (15s), BODY_MIB (100), BIN.
# Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench/proxy.sh needs wrk: apt-get install wrk" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then make -s build; BIN=./bin/meshlens; fi
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-15s}
BODY_MIB=${BODY_MIB:-100}
STORE=127.0.0.1:${STORE_PORT:-17090}
PROXY=127.0.0.1:${PROXY_PORT:-17005}
. bench/lib.sh

"$BIN" --log.level=warn store --storage.tsdb.path "$work/data" --web.listen-address "$STORE" >"$work/store.log" 2>&1 &
pids+=($!)
wait_http "http://$STORE/-/ready"
AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench-secret AWS_EC2_METADATA_DISABLED=true \
  "$BIN" --log.level=warn sigv4-proxy --host "$STORE" --name aps --region us-west-2 --upstream-url-scheme http \
  --port "$PROXY" --spool-above 1MiB >"$work/proxy.log" 2>&1 &
proxy=$!; pids+=("$proxy")
wait_http "http://$PROXY/-/ready"

# load URL: "requests/s p99_ms" from wrk.
load() {
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$1" >"$work/wrk.out"
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 } printf "%.2f", v }' "$work/wrk.out")
  echo "$rps $p99"
}
read -r direct_rps direct_p99 < <(load "http://$STORE/api/v1/status/buildinfo")
read -r proxy_rps proxy_p99 < <(load "http://$PROXY/api/v1/status/buildinfo")
idle_rss=$(rss_mib "$proxy" VmRSS)
head -c "$((BODY_MIB << 20))" /dev/urandom >"$work/body"
before_hwm=$(rss_mib "$proxy" VmHWM)
code=$(curl -sS -o /dev/null -w '%{http_code}' --data-binary @"$work/body" -H 'Content-Type: application/octet-stream' "http://$PROXY/api/v1/query")
after_hwm=$(rss_mib "$proxy" VmHWM)
spooled=$(metric "http://$PROXY/-/metrics" meshlens_sigv4_proxy_spooled_bytes_total)

echo "wrk: 2 threads, $CONNECTIONS connections, $DURATION; upstream: meshlens store /api/v1/status/buildinfo"
echo
echo "| path | requests/s | p99 ms |"
echo "|---|---:|---:|"
echo "| direct | $direct_rps | $direct_p99 |"
echo "| through sigv4-proxy | $proxy_rps | $proxy_p99 |"
echo
echo "| proxy RSS after load MiB | peak RSS before the ${BODY_MIB} MiB body MiB | peak RSS after it MiB | body spooled MiB | upstream answer |"
echo "|---:|---:|---:|---:|---:|"
echo "| $idle_rss | $before_hwm | $after_hwm | $(( ${spooled:-0} >> 20 )) | $code |"
