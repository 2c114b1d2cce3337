package grafana

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// LinkConfig is a dashboard to link to, as Kiali's
// external_services.grafana.dashboards names it: its title and the URL
// parameters that take the namespace, service, workload and datasource.
type LinkConfig struct {
	Name      string
	Variables map[string]string
}

// Link is one "View in Grafana" link: the dashboard's URL as a browser
// reaches Grafana, and the parameter names a page fills in. Reason says
// why a dashboard has no link.
type Link struct {
	Name      string            `json:"name"`
	URL       string            `json:"url,omitempty"`
	Variables map[string]string `json:"variables"`
	Reason    string            `json:"reason,omitempty"`
}

// Linker finds the configured dashboards by title through Grafana's
// search (on the URL the console reaches it at) and builds links on the
// URL browsers reach it at; the answer is kept a minute.
type Linker struct {
	client      *Client
	externalURL string
	dashboards  []LinkConfig
	// serviceDomain completes a service's name into the FQDN Istio's
	// dashboards select by: reviews.bookinfo.<serviceDomain>.
	serviceDomain string
	datasource    string

	mu    sync.Mutex
	at    time.Time
	links []Link
}

// DefaultServiceDomain is Kubernetes's default, as Kiali's
// istio_identity_domain.
const DefaultServiceDomain = "svc.cluster.local"

// LinkerOptions say where browsers reach Grafana and what the links show.
type LinkerOptions struct {
	// ExternalURL is Grafana as a browser reaches it.
	ExternalURL string
	Dashboards  []LinkConfig
	// ServiceDomain completes a service's name into its FQDN
	// (DefaultServiceDomain when empty).
	ServiceDomain string
	// DatasourceUID fills a link's datasource variable, for a Grafana
	// with several Prometheus datasources (its default when empty).
	DatasourceUID string
}

// NewLinker links dashboards found through client as o says.
func NewLinker(client *Client, o LinkerOptions) *Linker {
	if o.ServiceDomain == "" {
		o.ServiceDomain = DefaultServiceDomain
	}
	return &Linker{client: client, externalURL: strings.TrimSuffix(o.ExternalURL, "/"), dashboards: o.Dashboards,
		serviceDomain: strings.Trim(o.ServiceDomain, "."), datasource: o.DatasourceUID}
}

// Entity is what a page links from: an app, a workload or a service of a
// namespace.
type Entity struct {
	// Kind is the variable that names it: app, workload or service.
	Kind      string
	Namespace string
	Name      string
}

// For are the links that show e: those of dashboards with a variable for
// e's kind, their URLs filled in with e's namespace and name (a service's
// FQDN) and the configured datasource. A dashboard Grafana lacks keeps
// its reason.
func (l *Linker) For(ctx context.Context, e Entity) []Link {
	name := e.Name
	if e.Kind == "service" {
		name = e.Name + "." + e.Namespace + "." + l.serviceDomain
	}
	values := map[string]string{"namespace": e.Namespace, e.Kind: name, "datasource": l.datasource}
	out := []Link{}
	for _, k := range l.Links(ctx) {
		if _, ok := k.Variables[e.Kind]; !ok {
			continue
		}
		k.URL = k.Fill(values)
		out = append(out, k)
	}
	return out
}

// Links are the links of every configured dashboard; one Grafana does not
// hold, or a Grafana that does not answer, is a link without a URL and
// with the reason.
func (l *Linker) Links(ctx context.Context) []Link {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.links != nil && time.Since(l.at) < time.Minute {
		return l.links
	}
	var out []Link
	failed := false
	for _, d := range l.dashboards {
		link := Link{Name: d.Name, Variables: d.Variables}
		if link.Variables == nil {
			link.Variables = map[string]string{}
		}
		f, ok, err := l.client.Find(ctx, d.Name)
		switch {
		case err != nil:
			link.Reason, failed = err.Error(), true
		case !ok:
			link.Reason = fmt.Sprintf("Grafana has no dashboard titled %q (meshlens dashboards --push makes Istio's)", d.Name)
		default:
			link.URL = l.externalURL + f.URL
		}
		out = append(out, link)
	}
	if !failed {
		l.links, l.at = out, time.Now()
	}
	return out
}

// Fill is a link's URL with its variables given values (those the page
// knows), e.g. var-namespace=bookinfo&var-service=reviews.bookinfo.svc.cluster.local.
func (k Link) Fill(values map[string]string) string {
	if k.URL == "" {
		return ""
	}
	q := url.Values{}
	for name, param := range k.Variables {
		if v, ok := values[name]; ok && v != "" {
			q.Set(param, v)
		}
	}
	if len(q) == 0 {
		return k.URL
	}
	sep := "?"
	if strings.Contains(k.URL, "?") {
		sep = "&"
	}
	return k.URL + sep + q.Encode()
}
