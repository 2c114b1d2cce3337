// Package endpoint reads the URLs of the HTTP APIs meshlens calls (a
// Prometheus, a Grafana) and keeps their passwords out of messages: a URL
// may carry a user and password, and every error or line that names the
// server shows it without the password.
package endpoint

import (
	"errors"
	"fmt"
	"net/url"
)

// Parse reads raw as the URL of an HTTP API: http or https, with a host.
// Its error starts with what (say "prometheus url") and shows raw with its
// password replaced by "xxxxx" (url.URL.Redacted); a URL that does not
// parse is not repeated at all, since url.Parse's own error repeats it
// whole.
func Parse(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New(what + ": not a URL; want an http:// or https:// URL such as http://127.0.0.1:9090")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s %q: want an http:// or https:// URL with a host, such as http://127.0.0.1:9090", what, u.Redacted())
	}
	return u, nil
}
