#!/usr/bin/env bash
# Kiali beside meshlens on the graph's semantics cases (graph/graphtest:
# series written by hand with the right edges beside them): both read the
# same Debian Prometheus holding a case's series and are asked the same
# graph; bench/kialicompare prints a Markdown table of where each answer
# differs from the right one.
#
# Kiali needs a Kubernetes API server: this script builds one from the Go
# module proxy (k8s.io/kubernetes's kube-apiserver, its staging modules
# taken at their published versions), etcd (a small program on etcd's
# embed package) and Kiali itself, once, into $CACHE (default
# ~/.cache/meshlens-kiali; about ten minutes on two cores), runs them on
# 127.0.0.1 and creates Istio's custom resource definitions and the cases'
# namespaces. Kiali answers only for times after a namespace was created,
# so the comparison waits until ten minutes after that (the cases' span).
# With SIZE (services:namespaces, such as 800:20) it measures speed
# instead: a synthetic mesh (`meshlens simulate --metrics-only`) scraped by
# Debian's prometheus every INTERVAL (default 15s), with the graph's
# recording rules when RULES=1 (default 0: raw series, as Kiali reads),
# and REQUESTS (default 10) graphs of all its namespaces (versionedApp,
# service nodes, a minute) asked of each console in turn, each about a
# second of its own; it prints p50 and p95 per console.
# Environment: KIALI_VERSION (v1.82.0), KUBE_VERSION (v1.31.4),
# ETCD_VERSION (v3.5.15), ISTIO_API_VERSION (v1.22.3), CACHE.
# Needs prometheus, promtool (apt-get install prometheus) and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
KIALI_VERSION=${KIALI_VERSION:-v1.82.0}
KUBE_VERSION=${KUBE_VERSION:-v1.31.4}
ETCD_VERSION=${ETCD_VERSION:-v3.5.15}
ISTIO_API_VERSION=${ISTIO_API_VERSION:-v1.22.3}
CACHE=${CACHE:-$HOME/.cache/meshlens-kiali}
ETCD_PORT=${ETCD_PORT:-23790}
KUBE_PORT=${KUBE_PORT:-16443}
KIALI_PORT=${KIALI_PORT:-20001}
PROMETHEUS=127.0.0.1:${PROMETHEUS_PORT:-19090}
for tool in prometheus promtool openssl; do
  command -v "$tool" >/dev/null || { echo "bench/kiali.sh needs $tool (apt-get install prometheus openssl)" >&2; exit 1; }
done
. bench/lib.sh
make -s build
mkdir -p "$CACHE"
module_dir() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }

# copy_module MODULE@VERSION DIR: a writable copy of a module's source.
copy_module() { rm -rf "$2"; cp -r "$(module_dir "$1")" "$2"; chmod -R u+w "$2"; }

kube=$CACHE/kube-apiserver-$KUBE_VERSION
if [ ! -x "$kube" ]; then
  echo "building kube-apiserver $KUBE_VERSION (once)" >&2
  src=$CACHE/kubernetes-src
  copy_module "k8s.io/kubernetes@$KUBE_VERSION" "$src"
  # The module's go.mod points its k8s.io/* modules at ./staging, which the
  # module's zip leaves out; they are published as v0.<minor>.<patch>.
  staging=v0.${KUBE_VERSION#v1.}
  sed -i -E "s#^\t(k8s.io/[a-z0-9-]+) => ./staging/src/k8s.io/[a-z0-9-]+#\t\1 => \1 $staging#" "$src/go.mod"
  rm -rf "$src/vendor" "$src/go.work" "$src/go.work.sum"
  (cd "$src" && GOFLAGS=-mod=mod go build -o "$kube" ./cmd/kube-apiserver)
  rm -rf "$src"
fi
etcd=$CACHE/etcd-$ETCD_VERSION
if [ ! -x "$etcd" ]; then
  echo "building etcd $ETCD_VERSION (once)" >&2
  src=$CACHE/etcd-src
  rm -rf "$src" && mkdir -p "$src"
  cat >"$src/main.go" <<'GO'
// etcd on 127.0.0.1: data directory, client port, peer port.
package main

import (
	"log"
	"net/url"
	"os"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	cfg := embed.NewConfig()
	cfg.Dir = os.Args[1]
	client, _ := url.Parse("http://127.0.0.1:" + os.Args[2])
	peer, _ := url.Parse("http://127.0.0.1:" + os.Args[3])
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.LogLevel = "error"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatal(err)
	}
	<-e.Server.ReadyNotify()
	log.Fatal(<-e.Err())
}
GO
  printf 'module etcdlocal\n\ngo 1.22\n' >"$src/go.mod"
  (cd "$src" && GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go build -o "$etcd" .)
  rm -rf "$src"
fi
kiali=$CACHE/kiali-$KIALI_VERSION
if [ ! -x "$kiali" ]; then
  echo "building Kiali $KIALI_VERSION (once)" >&2
  src=$CACHE/kiali-src
  copy_module "github.com/kiali/kiali@$KIALI_VERSION" "$src"
  (cd "$src" && GOFLAGS=-mod=mod go build -o "$kiali" .)
  rm -rf "$src"
fi
crds=$(module_dir "istio.io/api@$ISTIO_API_VERSION")/kubernetes/customresourcedefinitions.gen.yaml

work=$(mktemp -d)
pids=()
trap cleanup EXIT
"$etcd" "$work/etcd" "$ETCD_PORT" $((ETCD_PORT + 10)) >"$work/etcd.log" 2>&1 &
pids+=($!)
openssl genrsa -out "$work/sa.key" 2048 2>/dev/null
openssl rsa -in "$work/sa.key" -pubout -out "$work/sa.pub" 2>/dev/null
token=meshlens-bench-$RANDOM$RANDOM
echo "$token,kiali,1,\"system:masters\"" >"$work/tokens.csv"
"$kube" --etcd-servers="http://127.0.0.1:$ETCD_PORT" --cert-dir="$work/certs" --secure-port="$KUBE_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
  --token-auth-file="$work/tokens.csv" --authorization-mode=AlwaysAllow \
  --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$work/sa.pub" \
  --service-account-signing-key-file="$work/sa.key" --service-cluster-ip-range=10.96.0.0/16 >"$work/apiserver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  [ "$(curl -sk -H "Authorization: Bearer $token" "https://127.0.0.1:$KUBE_PORT/readyz" 2>/dev/null)" = ok ] && break
  sleep 0.2
done
cat >"$work/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:$KUBE_PORT", certificate-authority-data: "$(base64 -w0 "$work/certs/apiserver.crt")"}}]
users: [{name: kiali, user: {token: "$token"}}]
contexts: [{name: local, context: {cluster: local, user: kiali}}]
current-context: local
YAML
mesh_ns=
if [ -n "${SIZE:-}" ]; then
  mesh_ns=$(seq -f "mesh-%02g" 0 $(( ${SIZE#*:} - 1 )) | paste -sd, -)
fi
go run ./bench/kialicompare setup -kubeconfig "$work/kubeconfig" -crds "$crds" -namespaces "$mesh_ns"

# Kiali reads the cluster through the kubeconfig (its remote_secret_path)
# and its own token from the service account's path, as in a pod.
sa=/var/run/secrets/kubernetes.io/serviceaccount
if [ -e "$sa/token" ] && ! grep -q '^meshlens-bench-' "$sa/token"; then
  echo "$sa/token holds a token this script did not write (a pod's?): not overwriting it" >&2
  exit 1
fi
mkdir -p "$sa" && printf %s "$token" >"$sa/token"
mkdir -p "$work/console"
echo '<!doctype html>' >"$work/console/index.html"
cat >"$work/kiali.yaml" <<YAML
auth: {strategy: anonymous}
deployment:
  namespace: istio-system
  remote_secret_path: $work/kubeconfig
  accessible_namespaces: ["**"]
  cluster_wide_access: true
external_services:
  prometheus: {url: "http://$PROMETHEUS", cache_enabled: false}
  grafana: {enabled: false}
  tracing: {enabled: false}
  istio: {istio_api_enabled: false, component_status: {enabled: false}}
server:
  address: 127.0.0.1
  port: $KIALI_PORT
  web_root: /kiali
  static_content_root_directory: $work/console
  observability: {metrics: {enabled: false}}
login_token: {signing_key: meshlens-bench-kiali-key}
kubernetes_config: {cluster_name: Kubernetes}
YAML
"$kiali" -config "$work/kiali.yaml" >"$work/kiali.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$KIALI_PORT/kiali/api/namespaces"
if [ -n "${SIZE:-}" ]; then
  BIN=./bin/meshlens STORE=$PROMETHEUS STORE_KIND=prometheus RULES=${RULES:-0} INTERVAL=${INTERVAL:-15s}
  SIM=127.0.0.1:${SIM_PORT:-17000} WEB=127.0.0.1:${WEB_PORT:-17001}
  start_mesh_and_console "${SIZE%:*}" "${SIZE#*:}"
  [ "$RULES" = 1 ] && wait_recorded
  params="namespaces=$ns&graphType=versionedApp&duration=60s&injectServiceNodes=true"
  : >"$work/kiali.times"; : >"$work/meshlens.times"
  last=0
  for _ in $(seq 1 "${REQUESTS:-10}"); do
    at=$(( $(date +%s) - 31 )); [ "$at" -gt "$last" ] || at=$(( last + 1 )); last=$at
    curl -fsS -o "$work/kiali.json" -w '%{time_total}\n' "http://127.0.0.1:$KIALI_PORT/kiali/api/namespaces/graph?$params&queryTime=$at" >>"$work/kiali.times"
    curl -fsS -o "$work/meshlens.json" -w '%{time_total}\n' "http://$WEB/api/namespaces/graph?$params&queryTime=$at" >>"$work/meshlens.times"
  done
  echo "| console | workloads | namespaces | store | rules | requests | nodes | edges | p50 s | p95 s |"
  echo "|---|---:|---:|---|---|---:|---:|---:|---:|---:|"
  for c in kiali meshlens; do
    echo "| $c | $(( ${SIZE%:*} + ${SIZE%:*} / 4 )) | ${SIZE#*:} | Debian prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') | $([ "$RULES" = 1 ] && echo yes || echo no) | ${REQUESTS:-10} | $(grep -o '"nodeType"' "$work/$c.json" | wc -l) | $(grep -o '"source"' "$work/$c.json" | wc -l) | $(percentile 50 <"$work/$c.times") | $(percentile 95 <"$work/$c.times") |"
  done
  exit 0
fi
echo "Kiali $KIALI_VERSION and meshlens $(./bin/meshlens --version 2>&1 | head -1) on the graph's semantics cases, Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}'):"
echo
go run ./bench/kialicompare compare -kubeconfig "$work/kubeconfig" -kiali "http://127.0.0.1:$KIALI_PORT/kiali" -prometheus "$PROMETHEUS" -meshlens ./bin/meshlens
