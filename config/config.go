// Package config reads the console's YAML file, laid out as Kiali's
// ConfigMap reads (external_services.prometheus and .grafana,
// health_config, kubernetes_config, istio_namespace, server), so that a
// Kiali user's file loads as it is. Secrets come from the file, from
// *_file keys, or from the environment (${NAME} in a secret's value); none
// is ever written to a log or an error.
package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/sigv4"
	"gopkg.in/yaml.v3"

	"github.com/meshlens/meshlens/health"
	"github.com/meshlens/meshlens/metrics"
)

// Config is the console's configuration.
type Config struct {
	ExternalServices ExternalServices `yaml:"external_services"`
	HealthConfig     HealthConfig     `yaml:"health_config"`
	KubernetesConfig struct {
		ClusterName string `yaml:"cluster_name"`
	} `yaml:"kubernetes_config"`
	// IstioNamespace is Istio's root namespace (mesh-wide objects).
	IstioNamespace string `yaml:"istio_namespace"`
	Server         Server `yaml:"server"`
}

// ExternalServices are the services the console reads from and links to.
type ExternalServices struct {
	Prometheus Prometheus `yaml:"prometheus"`
	Grafana    Grafana    `yaml:"grafana"`
	// CustomDashboards chart applications' own metrics, as Kiali's.
	CustomDashboards []metrics.CustomDashboard `yaml:"custom_dashboards"`
	Istio            struct {
		// IstioIdentityDomain completes service names into FQDNs
		// (reviews.bookinfo.<domain>), svc.cluster.local when empty.
		IstioIdentityDomain string `yaml:"istio_identity_domain"`
	} `yaml:"istio"`
}

// Prometheus is where the telemetry is: any Prometheus HTTP API.
type Prometheus struct {
	URL           string            `yaml:"url"`
	Auth          Auth              `yaml:"auth"`
	CustomHeaders map[string]string `yaml:"custom_headers"`
	ThanosProxy   struct {
		Enabled bool `yaml:"enabled"`
		// ScrapeInterval is the data's, for stores that do not say it.
		ScrapeInterval string `yaml:"scrape_interval"`
	} `yaml:"thanos_proxy"`
	// QueryTimeout bounds each query (meshlens's; Kiali has none).
	QueryTimeout string `yaml:"query_timeout"`
}

// Grafana is where dashboards are linked to.
type Grafana struct {
	Enabled bool `yaml:"enabled"`
	// URL is Grafana as a browser reaches it; InClusterURL as the console
	// does (default URL).
	URL          string `yaml:"url"`
	InClusterURL string `yaml:"in_cluster_url"`
	// ExternalURL and InternalURL are the same two as newer Kiali
	// releases name them; either pair is read.
	ExternalURL string      `yaml:"external_url"`
	InternalURL string      `yaml:"internal_url"`
	Auth        Auth        `yaml:"auth"`
	Dashboards  []Dashboard `yaml:"dashboards"`
	// DatasourceUID is the datasource links select, in a Grafana with
	// several.
	DatasourceUID string `yaml:"datasource_uid"`
}

// Address is Grafana as browsers reach it.
func (g Grafana) Address() string {
	if g.URL != "" {
		return g.URL
	}
	return g.ExternalURL
}

// InClusterAddress is Grafana as the console reaches it: the in-cluster
// URL, or the browsers' when none is given.
func (g Grafana) InClusterAddress() string {
	for _, u := range []string{g.InClusterURL, g.InternalURL} {
		if u != "" {
			return u
		}
	}
	return g.Address()
}

// Dashboard is a Grafana dashboard linked by its title, with the variables
// a link fills in.
type Dashboard struct {
	Name      string            `yaml:"name"`
	Variables map[string]string `yaml:"variables"`
}

// Auth is how a service is called, as Kiali's auth blocks say it, and
// AWS Signature Version 4 for a Prometheus on AMP.
type Auth struct {
	// Type is none, bearer, basic or (the Prometheus only) sigv4.
	Type               string `yaml:"type"`
	Token              string `yaml:"token"`
	TokenFile          string `yaml:"token_file"`
	Username           string `yaml:"username"`
	Password           string `yaml:"password"`
	PasswordFile       string `yaml:"password_file"`
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	UseKialiToken      bool   `yaml:"use_kiali_token"`
	// SigV4: the region (default: the AWS configuration's), a role to
	// assume, and credentials; without keys the AWS default chain applies
	// (environment, shared profile, web identity, container and instance
	// roles). ServiceName is aps (AMP) unless set.
	Region      string `yaml:"region"`
	RoleARN     string `yaml:"role_arn"`
	Profile     string `yaml:"profile"`
	AccessKey   string `yaml:"access_key"`
	SecretKey   string `yaml:"secret_key"`
	ServiceName string `yaml:"service_name"`
}

// HealthConfig tunes health, as Kiali's health_config.
type HealthConfig struct {
	Rate []health.Rate `yaml:"rate"`
}

// Server is where the console listens.
type Server struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
	WebRoot string `yaml:"web_root"`
}

// Load reads a config file. Unknown keys are warnings naming the key and
// its line (a Kiali file holds many meshlens does not read); a value of the
// wrong type is an error naming its line.
func Load(path string) (*Config, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	c, warnings, err := Parse(b)
	if err != nil {
		return nil, warnings, fmt.Errorf("%s: %w", path, err)
	}
	c.resolve(filepath.Dir(path))
	return c, warnings, nil
}

// Parse reads a config from YAML.
func Parse(b []byte) (*Config, []string, error) {
	c := &Config{}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, nil, err
	}
	if len(root.Content) == 0 {
		return c, nil, nil
	}
	var warnings []string
	unknownKeys(root.Content[0], reflect.TypeOf(*c), "", &warnings)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(c); err != nil {
		return nil, warnings, err
	}
	return c, warnings, c.validate()
}

// unknownKeys lists the keys of n that t has no field for.
func unknownKeys(n *yaml.Node, t reflect.Type, at string, warnings *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode {
			for _, item := range n.Content {
				unknownKeys(item, t.Elem(), at+"[]", warnings)
			}
			return
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		path := strings.TrimPrefix(at+"."+key.Value, ".")
		ft, ok := fields[key.Value]
		if !ok {
			*warnings = append(*warnings, fmt.Sprintf("line %d: %s is not a key meshlens reads; ignored", key.Line, path))
			continue
		}
		unknownKeys(n.Content[i+1], ft, path, warnings)
	}
}

func (c *Config) validate() error {
	for i, d := range c.ExternalServices.CustomDashboards {
		if err := d.Check(); err != nil {
			return fmt.Errorf("external_services.custom_dashboards[%d]: %w", i, err)
		}
	}
	for _, a := range []struct {
		where string
		auth  Auth
	}{{"external_services.prometheus.auth", c.ExternalServices.Prometheus.Auth}, {"external_services.grafana.auth", c.ExternalServices.Grafana.Auth}} {
		switch a.auth.Type {
		case "", "none", "bearer", "basic":
		case "sigv4":
			if a.where != "external_services.prometheus.auth" {
				return fmt.Errorf("%s.type sigv4 signs requests to AWS (AMP); use none, bearer or basic here", a.where)
			}
			if (a.auth.AccessKey == "") != (a.auth.SecretKey == "") {
				return fmt.Errorf("%s: give access_key and secret_key together, or neither for the AWS default credentials chain", a.where)
			}
		default:
			return fmt.Errorf("%s.type %q: use none, bearer, basic or sigv4", a.where, a.auth.Type)
		}
	}
	for _, d := range []struct{ name, v string }{
		{"external_services.prometheus.thanos_proxy.scrape_interval", c.ExternalServices.Prometheus.ThanosProxy.ScrapeInterval},
		{"external_services.prometheus.query_timeout", c.ExternalServices.Prometheus.QueryTimeout},
	} {
		if d.v == "" {
			continue
		}
		if _, err := model.ParseDuration(d.v); err != nil {
			return fmt.Errorf("%s %q is not a duration like 30s", d.name, d.v)
		}
	}
	// The browsers' Grafana URL goes into every link the console serves;
	// the console's own (in_cluster_url) may carry credentials.
	g := c.ExternalServices.Grafana
	for _, u := range []struct{ key, v string }{{"external_services.grafana.url", g.URL}, {"external_services.grafana.external_url", g.ExternalURL}} {
		if parsed, err := url.Parse(u.v); err == nil && parsed.User != nil {
			return fmt.Errorf("%s %q has a user or password in it, which every browser would get in its links: give it without them, and the console's credentials in external_services.grafana.auth", u.key, parsed.Redacted())
		}
	}
	if _, err := health.NewConfig(c.HealthConfig.Rate); err != nil {
		return err
	}
	return nil
}

// resolve makes files relative to the config file's directory and
// expands ${NAME} in secrets from the environment.
func (c *Config) resolve(dir string) {
	for _, a := range []*Auth{&c.ExternalServices.Prometheus.Auth, &c.ExternalServices.Grafana.Auth} {
		for _, f := range []*string{&a.TokenFile, &a.PasswordFile, &a.CAFile} {
			if *f != "" && !filepath.IsAbs(*f) {
				*f = filepath.Join(dir, *f)
			}
		}
		a.Token, a.Password, a.SecretKey = os.ExpandEnv(a.Token), os.ExpandEnv(a.Password), os.ExpandEnv(a.SecretKey)
	}
}

// ScrapeInterval is the configured scrape interval, or 0.
func (p Prometheus) ScrapeInterval() time.Duration {
	d, _ := model.ParseDuration(p.ThanosProxy.ScrapeInterval)
	return time.Duration(d)
}

// Timeout is the configured query timeout, or 0.
func (p Prometheus) Timeout() time.Duration {
	d, _ := model.ParseDuration(p.QueryTimeout)
	return time.Duration(d)
}

// ErrSecret wraps errors reading a secret; it never holds the secret.
var ErrSecret = errors.New("secret")

// RoundTripper sends requests with a's auth and the custom headers: the
// bearer token or basic auth, TLS, and for sigv4 each request signed
// (after the headers are set, over the body) with credentials that are
// resolved now, so that missing ones are a start-up error.
func (a Auth) RoundTripper(ctx context.Context, headers map[string]string, name string) (http.RoundTripper, error) {
	rt, err := commoncfg.NewRoundTripperFromConfig(a.HTTPClientConfig(headers), name)
	if err != nil || a.Type != "sigv4" {
		return rt, err
	}
	return SigV4RoundTripper(ctx, &sigv4.SigV4Config{
		Region: a.Region, AccessKey: a.AccessKey, SecretKey: commoncfg.Secret(a.SecretKey),
		Profile: a.Profile, RoleARN: a.RoleARN, ServiceName: a.ServiceName,
	}, rt)
}

// SigV4RoundTripper signs every request with c before next sends it. The
// credentials are resolved now, so that missing ones are a start-up error
// that says what to set.
func SigV4RoundTripper(ctx context.Context, c *sigv4.SigV4Config, next http.RoundTripper) (http.RoundTripper, error) {
	signed, err := sigv4.NewSigV4RoundTripper(c, next, sigv4.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("sigv4: %w; give region, access_key and secret_key, or set AWS_REGION and AWS credentials (environment, profile, web identity token, or a role of the machine)", err)
	}
	return signed, nil
}

// HTTPClientConfig is an Auth and custom headers as Prometheus's HTTP
// client configuration, whose round tripper sends them (and reads the
// *_file secrets at each request, so that a rotated token is used).
func (a Auth) HTTPClientConfig(headers map[string]string) commoncfg.HTTPClientConfig {
	h := commoncfg.DefaultHTTPClientConfig
	switch a.Type {
	case "bearer":
		h.Authorization = &commoncfg.Authorization{Type: "Bearer", Credentials: commoncfg.Secret(a.Token), CredentialsFile: a.TokenFile}
	case "basic":
		h.BasicAuth = &commoncfg.BasicAuth{Username: a.Username, Password: commoncfg.Secret(a.Password), PasswordFile: a.PasswordFile}
	}
	h.TLSConfig = commoncfg.TLSConfig{CAFile: a.CAFile, InsecureSkipVerify: a.InsecureSkipVerify}
	if len(headers) > 0 {
		h.HTTPHeaders = &commoncfg.Headers{Headers: map[string]commoncfg.Header{}}
		for k, v := range headers {
			h.HTTPHeaders.Headers[k] = commoncfg.Header{Values: []string{v}}
		}
	}
	return h
}
