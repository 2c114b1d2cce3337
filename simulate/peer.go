package simulate

import (
	"net/url"

	"github.com/meshlens/meshlens/telemetry"
)

// peer is what one sidecar learns about the other side of a connection.
// Istio's proxies exchange it in-band (metadata exchange); ours send it in
// the peerHeader, or in a preamble line on TCP connections.
type peer struct {
	Workload, Namespace, Principal, App, Version, CanonicalService, CanonicalRevision, Cluster string
}

// peerHeader carries the sender's identity between simulated sidecars.
const peerHeader = "X-Meshlens-Peer"

var unknownPeer = peer{
	Workload: telemetry.Unknown, Namespace: telemetry.Unknown, Principal: telemetry.Unknown,
	App: telemetry.Unknown, Version: telemetry.Unknown, CanonicalService: telemetry.Unknown,
	CanonicalRevision: telemetry.Unknown, Cluster: telemetry.Unknown,
}

func (p peer) encode() string {
	return url.Values{
		"w": {p.Workload}, "ns": {p.Namespace}, "p": {p.Principal}, "a": {p.App},
		"v": {p.Version}, "cs": {p.CanonicalService}, "cr": {p.CanonicalRevision}, "c": {p.Cluster},
	}.Encode()
}

// decodePeer reads an encoded peer; anything missing or unreadable is the
// unknown peer, as for a client outside the mesh.
func decodePeer(s string) peer {
	v, err := url.ParseQuery(s)
	if s == "" || err != nil || v.Get("w") == "" {
		return unknownPeer
	}
	return peer{
		Workload: v.Get("w"), Namespace: v.Get("ns"), Principal: v.Get("p"), App: v.Get("a"),
		Version: v.Get("v"), CanonicalService: v.Get("cs"), CanonicalRevision: v.Get("cr"), Cluster: v.Get("c"),
	}
}

func (p peer) values() []string {
	return []string{p.Workload, p.Namespace, p.Principal, p.App, p.Version, p.CanonicalService, p.CanonicalRevision, p.Cluster}
}

// withoutPrincipal is the peer as seen without mutual TLS: no identity.
func (p peer) withoutPrincipal() peer {
	p.Principal = telemetry.Unknown
	return p
}
