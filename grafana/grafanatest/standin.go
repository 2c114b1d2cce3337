// Package grafanatest is a Grafana for tests (Grafana's licence keeps the
// real one out of meshlens's dependencies and tests).
package grafanatest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// StandIn is a Grafana for the tests: it checks what Grafana's HTTP API checks for the calls meshlens
// makes, the credentials (a bearer token, or a user and password), the
// JSON of a dashboard save (a dashboard with a uid and a title), overwrite,
// a title unique in its folder, the version on a save without overwrite
// (412), and answers search by title as Grafana does.
type StandIn struct {
	token, user, password string

	mu    sync.Mutex
	saved map[string]stored // by uid
	calls []string
}

type stored struct {
	title, folder string
	version       int
	model         map[string]any
}

// New starts a stand-in that accepts the token, or the user and password.
func New(t *testing.T, token, user, password string) (*StandIn, *httptest.Server) {
	g := &StandIn{token: token, user: user, password: password, saved: map[string]stored{}}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *StandIn) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if g.token != "" && h == "Bearer "+g.token {
		return true
	}
	if g.user != "" {
		return h == "Basic "+base64.StdEncoding.EncodeToString([]byte(g.user+":"+g.password))
	}
	return false
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// ServeHTTP answers Grafana's API.
func (g *StandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, r.Method+" "+r.URL.Path)
	if !g.authorized(r) {
		reply(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/dashboards/uid/"):
		d, ok := g.saved[strings.TrimPrefix(r.URL.Path, "/api/dashboards/uid/")]
		if !ok {
			reply(w, http.StatusNotFound, map[string]string{"message": "Dashboard not found"})
			return
		}
		reply(w, http.StatusOK, map[string]any{"dashboard": d.model, "meta": map[string]any{"folderUid": d.folder, "version": d.version}})
	case r.Method == http.MethodPost && r.URL.Path == "/api/dashboards/db":
		var body struct {
			Dashboard map[string]any `json:"dashboard"`
			FolderUID string         `json:"folderUid"`
			Overwrite bool           `json:"overwrite"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Dashboard == nil {
			reply(w, http.StatusBadRequest, map[string]string{"message": "bad request data"})
			return
		}
		uid, _ := body.Dashboard["uid"].(string)
		title, _ := body.Dashboard["title"].(string)
		if uid == "" || title == "" {
			reply(w, http.StatusBadRequest, map[string]string{"message": "Dashboard title and uid cannot be empty"})
			return
		}
		for other, d := range g.saved {
			if other != uid && d.folder == body.FolderUID && strings.EqualFold(d.title, title) {
				reply(w, http.StatusPreconditionFailed, map[string]string{"status": "name-exists", "message": "A dashboard with the same name in the folder already exists"})
				return
			}
		}
		prev, exists := g.saved[uid]
		if exists && !body.Overwrite {
			if v, _ := body.Dashboard["version"].(float64); int(v) != prev.version {
				reply(w, http.StatusPreconditionFailed, map[string]string{"status": "version-mismatch", "message": "The dashboard has been changed by someone else"})
				return
			}
		}
		d := stored{title: title, folder: body.FolderUID, version: prev.version + 1, model: body.Dashboard}
		g.saved[uid] = d
		reply(w, http.StatusOK, map[string]any{"id": len(g.saved), "uid": uid, "url": "/d/" + uid + "/" + slug(title), "status": "success", "version": d.version})
	case r.Method == http.MethodGet && r.URL.Path == "/api/search":
		q := strings.ToLower(r.URL.Query().Get("query"))
		out := []map[string]any{}
		for uid, d := range g.saved {
			if strings.Contains(strings.ToLower(d.title), q) {
				out = append(out, map[string]any{"uid": uid, "title": d.title, "url": "/d/" + uid + "/" + slug(d.title), "type": "dash-db"})
			}
		}
		reply(w, http.StatusOK, out)
	default:
		reply(w, http.StatusNotFound, map[string]string{"message": fmt.Sprintf("Not found: %s %s", r.Method, r.URL.Path)})
	}
}

func slug(title string) string { return strings.ReplaceAll(strings.ToLower(title), " ", "-") }

// Stored is how many dashboards the stand-in holds.
func (g *StandIn) Stored() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.saved)
}
