package endpoint

import (
	"strings"
	"testing"
)

func TestParseTakesHTTPURLsWithAHostAndNeverRepeatsAPassword(t *testing.T) {
	for _, raw := range []string{"http://127.0.0.1:9090", "https://u:pw-secret@aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/", "http://[::1]:3000/grafana"} {
		if _, err := Parse("x url", raw); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
	for raw, says := range map[string]string{
		"ftp://u:pw-secret@host":  `x url "ftp://u:xxxxx@host": want an http:// or https:// URL with a host`,
		"localhost:9090":          `x url "localhost:9090": want an http:// or https:// URL`,
		"http://u:pw-secret@":     `x url "http://u:xxxxx@": want`,
		"http://u:pw-secret@[::1": "x url: not a URL",
		"":                        `x url "": want`,
	} {
		_, err := Parse("x url", raw)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: error %v, want one saying %q", raw, err, says)
		}
		if err != nil && strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("%q: the error repeats the password: %v", raw, err)
		}
	}
}
