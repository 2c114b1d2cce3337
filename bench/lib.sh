# Helpers shared by the bench/ scripts; source it, don't run it.

# metric URL NAME: the sum of a metric's series in a /metrics page.
metric() {
  curl -fsS "$1" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2; found = 1 } END { if (found) printf "%.0f\n", s }'
}

# wait_http URL: wait up to two minutes for URL to answer 2xx.
wait_http() {
  for _ in $(seq 1 600); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "timeout: $1" >&2
  return 1
}

# rss_mib PID FIELD: a process's VmRSS or VmHWM in MiB.
rss_mib() { awk -v k="$2:" '$1 == k { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# start_mesh SERVICES NAMESPACES: a metrics-only synthetic mesh on $SIM and
# a store on $STORE scraping it every $INTERVAL; sets sim, store.
# STORE_KIND=meshlens (default) runs `meshlens store`, STORE_KIND=prometheus
# Debian's prometheus; RULES=1 (default) has the store evaluate the graph's
# recording rules every interval, RULES=0 leaves them out (raw series, as
# AMP or Mimir on day one); RULES_INTERVAL (default INTERVAL) evaluates them
# less often, for a ruler too slow to keep up.
# STORE_FLAGS adds flags to `meshlens store` (say
# --rules.max-concurrent-evals=1). SIM_NICE (default 0) runs the simulated sidecars at a lower priority:
# they stand for proxies that run on other machines, yet share these cores.
start_mesh() {
  nice -n "${SIM_NICE:-0}" "$BIN" --log.level=warn simulate --metrics-only --services "$1" --namespaces "$2" \
    --load.rate 500 --listen-address "$SIM" >"$work/sim.log" 2>&1 &
  sim=$!; pids+=("$sim")
  wait_http "http://$SIM/api/simulate/targets"
  "$BIN" rules --interval "${RULES_INTERVAL:-$INTERVAL}" >"$work/rules.yml"
  { [ "${RULES:-1}" = 1 ] && echo "rule_files: [\"$work/rules.yml\"]"
    "$BIN" demo --print-prometheus-config --web.listen-address "$SIM" --scrape-interval "$INTERVAL"; } >"$work/prometheus.yml"
  case "${STORE_KIND:-meshlens}" in
    meshlens)
      # shellcheck disable=SC2086 # STORE_FLAGS: more flags, split on spaces
      "$BIN" --log.level=warn store --config.file "$work/prometheus.yml" --storage.tsdb.path "$work/data-$1" \
        --web.listen-address "$STORE" ${STORE_FLAGS:-} >"$work/store.log" 2>&1 & ;;
    prometheus)
      prometheus --config.file "$work/prometheus.yml" --storage.tsdb.path "$work/data-$1" \
        --web.listen-address "$STORE" --log.level=warn >"$work/store.log" 2>&1 & ;;
    *) echo "STORE_KIND: meshlens or prometheus" >&2; return 1 ;;
  esac
  store=$!; pids+=("$store")
  wait_http "http://$STORE/-/ready"
}

# wait_scraped: until every target of the simulator at $SIM has been
# scraped at least three times by the store at $STORE: measure only then.
wait_scraped() {
  targets=$(curl -fsS "http://$SIM/api/simulate/targets" | grep -c '"targets"')
  for _ in $(seq 1 600); do
    scraped=$(curl -fsS "http://$STORE/api/v1/query" --data-urlencode 'query=count(count_over_time(up[10m]) >= 3)' \
      | grep -o '"value":\[[^]]*\]' | grep -o '"[0-9]*"' | tr -d '"' || true)
    [ "${scraped:-0}" -ge "$targets" ] && break
    sleep 2
  done
  [ "${scraped:-0}" -ge "$targets" ] || { echo "only ${scraped:-0} of $targets targets scraped three times" >&2; return 1; }
}

# wait_recorded: until the store at $STORE has run the graph's recording
# rules over scraped data (a console reads raw series until then).
wait_recorded() {
  for _ in $(seq 1 120); do
    recorded=$(curl -fsS "http://$STORE/api/v1/query" --data-urlencode 'query=count(meshlens_edge:istio_request_duration_milliseconds:p95) and count(meshlens_edge:istio_request_bytes_sum:rate)' | grep -c '"value"' || true)
    [ "$recorded" -ge 1 ] && return 0
    sleep 2
  done
  echo "the store has recorded no graph series in four minutes" >&2
  return 1
}

# rule_group_stats: the graph's rule group's evaluation time (s) as the
# store at $STORE reports it: the median and the 99th percentile over its
# last ten minutes (prometheus_rule_group_duration_seconds, which both
# `meshlens store` and Prometheus export; the last evaluation's, from
# /api/v1/rules, where that is missing), then the series the rules wrote.
rule_group_stats() {
  local last median p99 series
  last=$(curl -fsS "http://$STORE/api/v1/rules" | grep -o '"evaluationTime":[0-9.e+-]*' | tail -1 | cut -d: -f2 || true)
  read -r median p99 < <(curl -fsS "http://$STORE/metrics" | awk '
    $1 == "prometheus_rule_group_duration_seconds{quantile=\"0.5\"}" { m = $2 }
    $1 == "prometheus_rule_group_duration_seconds{quantile=\"0.99\"}" { p = $2 }
    END { print m, p }' || true)
  series=$(curl -fsS "http://$STORE/api/v1/query" --data-urlencode 'query=count({__name__=~"meshlens_.+"})' \
    | grep -o '"value":\[[^]]*\]' | grep -o '"[0-9]*"' | tr -d '"' || true)
  if [ -z "$last" ]; then
    echo "- - ${series:-0}"   # no rule group: a store without the rules
    return
  fi
  printf "%.2f %.2f %s\n" "${median:-$last}" "${p99:-$last}" "${series:-0}"
}

# Processes started by a script, stopped and reaped on exit with its work dir.
pids=()
work=$(mktemp -d)
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# percentile P: the P-th percentile of the numbers on stdin, one a line.
percentile() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; printf "%.3f", v[i] }'; }

# start_mesh_and_console SERVICES NAMESPACES: the mesh (start_mesh), and
# `meshlens serve` on it (pid in $serve) once every sidecar has been
# scraped; $ns lists the mesh's namespaces.
start_mesh_and_console() {
  start_mesh "$1" "$2"
  "$BIN" --log.level=warn serve --prometheus.url "http://$STORE" --web.listen-address "$WEB" >"$work/serve.log" 2>&1 &
  serve=$!; pids+=("$serve")
  wait_http "http://$WEB/-/healthy"
  wait_scraped
  ns=$(seq -f "mesh-%02g" 0 $(( $2 - 1 )) | paste -sd, -),istio-system
}
