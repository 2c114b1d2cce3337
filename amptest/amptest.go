// Package amptest is a stand-in for an Amazon Managed Service for
// Prometheus workspace, for tests of what talks to AMP (AWS cannot run
// here): any Prometheus HTTP API (the embedded store) behind AMP's URL
// layout, AMP's refusals of what it does not serve, the control-plane
// calls meshlens makes (workspaces by alias, rule groups namespaces), and
// its check of every request's Signature Version 4 (package awssig, which
// recomputes the signature by itself).
package amptest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlens/meshlens/awssig"
)

// Region, AccessKey and SecretKey are the workspace's region and the one
// key pair it accepts.
const (
	Region    = "us-west-2"
	AccessKey = "AKIDMESHLENSTEST"
	SecretKey = "c2VjcmV0LWtleS1vZi10aGUtc3RhbmQtaW4"
	// Workspace is the workspace's ID; its API is under /workspaces/<ID>.
	Workspace = "ws-00000000-0000-4000-8000-000000000000"
)

// Server is a running stand-in.
type Server struct {
	*httptest.Server
	// Accepted and Refused count requests whose signature held or not.
	Accepted, Refused atomic.Int64
	// Refusals are the error types of the refused, in order.
	refusals chan string
	cp       *controlPlane

	// temp holds the credentials STS stand-ins issued (sts.go).
	tempMu sync.Mutex
	temp   map[string]temporary
}

// URL of the workspace's Prometheus API, as AMP shows it
// (https://aps-workspaces.<region>.amazonaws.com/workspaces/<ID>/).
func (s *Server) WorkspaceURL() string { return s.URL + "/workspaces/" + Workspace + "/" }

// RemoteWriteURL is where the workspace receives remote write, as AMP
// shows it (<workspace URL>api/v1/remote_write).
func (s *Server) RemoteWriteURL() string { return s.WorkspaceURL() + "api/v1/remote_write" }

// NextRefusal is the error type of the oldest refusal not yet read, or ""
// when there is none.
func (s *Server) NextRefusal() string {
	select {
	case t := <-s.refusals:
		return t
	default:
		return ""
	}
}

// unsupported are Prometheus endpoints AMP does not serve.
var unsupported = []string{"/api/v1/status/", "/api/v1/targets", "/api/v1/admin/", "/federate", "/-/"}

// New serves prometheus (a Prometheus HTTP API's handler) as a workspace.
func New(prometheus http.Handler) *Server {
	s := &Server{refusals: make(chan string, 1024), temp: map[string]temporary{}}
	s.cp = &controlPlane{endpoint: s.WorkspaceURL, namespaces: map[string]*ruleNamespace{}, created: time.Now()}
	v := &awssig.Verifier{Service: "aps", Region: Region, Lookup: s.lookup}
	prefix := "/workspaces/" + Workspace
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Accepted.Add(1)
		if s.cp.serve(w, r) {
			return
		}
		path, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			http.Error(w, `{"message":"workspace not found"}`, http.StatusNotFound)
			return
		}
		for _, u := range unsupported {
			if strings.HasPrefix(path, u) {
				http.Error(w, `{"message":"not supported by Amazon Managed Service for Prometheus"}`, http.StatusNotFound)
				return
			}
		}
		if path == "/api/v1/remote_write" { // AMP's remote-write path; Prometheus's is /api/v1/write
			path = "/api/v1/write"
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = path, ""
		prometheus.ServeHTTP(w, r2)
	})
	s.Server = httptest.NewServer(v.Middleware(inner, func(e *awssig.Error) {
		s.Refused.Add(1)
		select {
		case s.refusals <- e.Type:
		default:
		}
	}))
	return s
}
