package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlens/meshlens/sigv4proxy"
)

type sigv4ProxyConfig struct {
	opts          sigv4proxy.Options
	port          string
	customHeaders string
	spoolAbove    units.Base2Bytes
}

func registerSigV4Proxy(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c sigv4ProxyConfig
	cmd := app.Command("sigv4-proxy", "A reverse proxy that signs every request with AWS SigV4, for tools that cannot sign (Grafana, curl, Kiali) in front of Amazon Managed Service for Prometheus. Takes aws-sigv4-proxy's flags; serves /-/healthy, /-/ready (the credentials resolve) and /-/metrics.")
	cmd.Flag("host", "Host to proxy to, host[:port], e.g. aps-workspaces.us-west-2.amazonaws.com.").Required().StringVar(&c.opts.Host)
	cmd.Flag("sign-host", "Host to sign for and send as the Host header, when it differs from --host (a VPC endpoint, a tunnel).").StringVar(&c.opts.SignHost)
	cmd.Flag("name", "AWS service to sign for (the signing name, aps for AMP); read from an AWS --host when not set.").StringVar(&c.opts.Service)
	cmd.Flag("region", "AWS region to sign for; read from an AWS --host when not set.").StringVar(&c.opts.Region)
	cmd.Flag("role-arn", "ARN of a role to assume with the default credentials.").StringVar(&c.opts.RoleARN)
	cmd.Flag("strip", "A request header to remove before signing; repeatable.").Short('s').StringsVar(&c.opts.Strip)
	cmd.Flag("custom-headers", "Headers to add to every request, comma-separated key=value pairs.").StringVar(&c.customHeaders)
	cmd.Flag("upstream-url-scheme", "Scheme of the upstream: https or http.").Default("https").EnumVar(&c.opts.Scheme, "https", "http")
	cmd.Flag("unsigned-payload", "Sign UNSIGNED-PAYLOAD instead of the body's hash: bodies stream through unread, and are not retried.").BoolVar(&c.opts.UnsignedPayload)
	cmd.Flag("port", "Address to serve on, [host]:port.").Default(":8080").StringVar(&c.port)
	cmd.Flag("no-verify-ssl", "Do not verify the upstream's TLS certificate.").BoolVar(&c.opts.InsecureSkipVerify)
	cmd.Flag("upstream-timeout", "Time an upstream attempt may take until its response headers.").Default("60s").DurationVar(&c.opts.Timeout)
	cmd.Flag("retries", "Attempts sent again after a connection error or a 502, 503 or 504 (bodies are kept to be sent again).").Default("2").IntVar(&c.opts.Retries)
	cmd.Flag("spool-above", "Request bodies larger than this are hashed while written to a temporary file, not held in memory.").Default("1MiB").BytesVar(&c.spoolAbove)
	commands["sigv4-proxy"] = func(ctx context.Context, logger *slog.Logger, _ io.Writer) error {
		return runSigV4Proxy(ctx, c, logger, prometheus.NewRegistry())
	}
}

func runSigV4Proxy(ctx context.Context, c sigv4ProxyConfig, logger *slog.Logger, reg *prometheus.Registry) error {
	headers, err := parseCustomHeaders(c.customHeaders)
	if err != nil {
		return usageError{err}
	}
	o := c.opts
	o.CustomHeaders, o.SpoolAbove, o.Logger, o.Registerer = headers, int64(c.spoolAbove), logger, reg
	if o.Retries == 0 {
		o.Retries = -1 // the flag's 0 means none
	}
	p, err := sigv4proxy.New(ctx, o)
	if err != nil {
		return usageError{err}
	}
	if err := p.Ready(ctx); err != nil {
		// Credentials may come later (a token file being mounted); say it
		// now, and /-/ready says it until they resolve.
		logger.Warn("AWS credentials do not resolve yet; /-/ready answers 503 until they do", "err", err)
	}
	l, err := listen("port", c.port)
	if err != nil {
		return err
	}
	logger.Info("signing proxy listening", "address", l.Addr().String(), "upstream", o.Scheme+"://"+o.Host, "service", p.Service(), "region", p.Region())
	var g run.Group
	addServer(&g, l, p)
	addContext(&g, ctx)
	return g.Run()
}

// parseCustomHeaders reads aws-sigv4-proxy's "k1=v1,k2=v2".
func parseCustomHeaders(s string) (http.Header, error) {
	h := http.Header{}
	if strings.TrimSpace(s) == "" {
		return h, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--custom-headers: %q is not key=value", kv)
		}
		h.Add(k, strings.TrimSpace(v))
	}
	return h, nil
}
