package grafana

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meshlens/meshlens/endpoint"
)

// Client speaks Grafana's HTTP API: dashboards by uid, search by title.
// Its round tripper carries the credentials; they never reach an error.
type Client struct {
	base *url.URL
	http *http.Client
}

// NewClient calls the Grafana at rawURL through rt (auth, TLS; nil for
// plain HTTP).
func NewClient(rawURL string, rt http.RoundTripper) (*Client, error) {
	u, err := endpoint.Parse("grafana URL", rawURL)
	if err != nil {
		return nil, err
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &Client{base: u, http: &http.Client{Transport: rt, Timeout: 30 * time.Second}}, nil
}

// ErrAuth is Grafana refusing the credentials.
var ErrAuth = errors.New("grafana refused the credentials")

// apiError is what Grafana answers on failure.
type apiError struct {
	Message string `json:"message"`
	Status  string `json:"status"`
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any, into any) (int, error) {
	u := c.base.JoinPath(path)
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("grafana at %s: %w", c.base.Redacted(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return resp.StatusCode, fmt.Errorf("%w (HTTP %d at %s %s): check the token or the user and password", ErrAuth, resp.StatusCode, method, path)
	case resp.StatusCode >= 300:
		var e apiError
		json.Unmarshal(b, &e)
		msg := e.Message
		if e.Status != "" {
			msg = e.Status + ": " + msg
		}
		return resp.StatusCode, fmt.Errorf("grafana answered HTTP %d to %s %s: %s", resp.StatusCode, method, path, msg)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			return resp.StatusCode, fmt.Errorf("grafana's answer to %s %s is not what its API answers: %v", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Pushed says what a push did.
type Pushed struct {
	Title, UID string
	// Action is created or updated.
	Action  string
	URL     string
	Version int
}

// Push saves d in the folder folderUID ("" for General), overwriting an
// earlier version of the same uid: pushing twice leaves one dashboard.
func (c *Client) Push(ctx context.Context, d Dashboard, folderUID string) (Pushed, error) {
	p := Pushed{Title: d.Title, UID: d.UID, Action: "updated"}
	code, err := c.do(ctx, http.MethodGet, "/api/dashboards/uid/"+url.PathEscape(d.UID), nil, nil, nil)
	switch {
	case code == http.StatusNotFound:
		p.Action = "created"
	case err != nil:
		return p, err
	}
	var model map[string]any
	if err := json.Unmarshal(d.JSON, &model); err != nil {
		return p, err
	}
	model["id"] = nil // Grafana finds the dashboard by uid
	body := map[string]any{"dashboard": model, "overwrite": true, "message": "meshlens dashboards"}
	if folderUID != "" {
		body["folderUid"] = folderUID
	}
	var saved struct {
		UID     string `json:"uid"`
		URL     string `json:"url"`
		Version int    `json:"version"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/api/dashboards/db", nil, body, &saved); err != nil {
		return p, fmt.Errorf("%s: %w", d.Title, err)
	}
	p.URL, p.Version = saved.URL, saved.Version
	return p, nil
}

// Found is a dashboard Grafana's search found.
type Found struct {
	UID   string `json:"uid"`
	Title string `json:"title"`
	URL   string `json:"url"`
	Type  string `json:"type"`
}

// Find returns the dashboard titled exactly title, if Grafana has one.
func (c *Client) Find(ctx context.Context, title string) (Found, bool, error) {
	var found []Found
	if _, err := c.do(ctx, http.MethodGet, "/api/search", url.Values{"query": {title}, "type": {"dash-db"}}, nil, &found); err != nil {
		return Found{}, false, err
	}
	for _, f := range found {
		if strings.EqualFold(f.Title, title) {
			return f, true, nil
		}
	}
	return Found{}, false, nil
}
