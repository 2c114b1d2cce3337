package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshlens/meshlens/grafana/grafanatest"
)

// TestDashboardsPush runs `meshlens dashboards --push` as a user would,
// the token in GRAFANA_TOKEN: the first push creates the six, the second
// updates them (one copy each), a wrong token is a usage error that does
// not print the token.
func TestDashboardsPush(t *testing.T) {
	g, srv := grafanatest.New(t, "glsa_right", "", "")
	run := func(args ...string) (int, string, string) {
		var out, errOut strings.Builder
		code := meshlens(args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	t.Setenv("GRAFANA_TOKEN", "glsa_right")
	for _, want := range []string{"created", "updated"} {
		code, out, errOut := run("dashboards", "--push", srv.URL, "--folder-uid", "istio")
		if code != 0 || strings.Count(out, want+" ") != 6 {
			t.Fatalf("exit %d, stdout %q, stderr %q; want six %s", code, out, errOut, want)
		}
	}
	if g.Stored() != 6 {
		t.Errorf("%d dashboards in Grafana, want 6", g.Stored())
	}
	t.Setenv("GRAFANA_TOKEN", "")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("glsa_wrong"), 0o600)
	code, out, errOut := run("dashboards", "--push", srv.URL, "--grafana.token-file", filepath.Join(dir, "token"))
	if code != 2 || !strings.Contains(errOut, "refused the credentials") || strings.Contains(out+errOut, "glsa_wrong") {
		t.Errorf("wrong token: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = run("dashboards", "--output", filepath.Join(dir, "out"))
	if code != 0 || strings.Count(out, "wrote ") != 6 {
		t.Errorf("--output: exit %d, %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "meshlens-istio-workload.json")); err != nil {
		t.Error(err)
	}
}
