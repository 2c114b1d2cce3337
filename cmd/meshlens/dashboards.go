package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/alecthomas/kingpin/v2"

	"github.com/meshlens/meshlens/config"
	"github.com/meshlens/meshlens/grafana"
)

type dashboardsConfig struct {
	output, push, folderUID   string
	tokenFile, user, passFile string
}

func registerDashboards(app *kingpin.Application, commands map[string]func(context.Context, *slog.Logger, io.Writer) error) {
	var c dashboardsConfig
	cmd := app.Command("dashboards", "Istio's six Grafana dashboards as code: written as JSON files, printed, or pushed to a Grafana.")
	cmd.Flag("output", "Write each dashboard to DIR/<uid>.json.").PlaceHolder("DIR").StringVar(&c.output)
	cmd.Flag("push", "Push them to the Grafana at URL (POST /api/dashboards/db, overwriting by uid).").PlaceHolder("URL").StringVar(&c.push)
	cmd.Flag("folder-uid", "The Grafana folder to push into (default General).").StringVar(&c.folderUID)
	cmd.Flag("grafana.token-file", "File holding a Grafana service account token (or set GRAFANA_TOKEN).").StringVar(&c.tokenFile)
	cmd.Flag("grafana.user", "Grafana user, for basic auth (the password from --grafana.password-file or GRAFANA_PASSWORD).").StringVar(&c.user)
	cmd.Flag("grafana.password-file", "File holding the Grafana user's password.").StringVar(&c.passFile)
	commands["dashboards"] = func(ctx context.Context, logger *slog.Logger, out io.Writer) error {
		return runDashboards(ctx, c, out)
	}
}

func runDashboards(ctx context.Context, c dashboardsConfig, out io.Writer) error {
	all, err := grafana.All()
	if err != nil {
		return err
	}
	if c.output == "" && c.push == "" {
		list := make([]json.RawMessage, len(all))
		for i, d := range all {
			list[i] = d.JSON
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	if c.output != "" {
		if err := os.MkdirAll(c.output, 0o755); err != nil {
			return usageError{fmt.Errorf("--output: %w", err)}
		}
		for _, d := range all {
			path := filepath.Join(c.output, d.UID+".json")
			if err := os.WriteFile(path, append(d.JSON, '\n'), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %s (%s)\n", path, d.Title)
		}
	}
	if c.push == "" {
		return nil
	}
	auth := config.Auth{Type: "none"}
	switch {
	case c.tokenFile != "":
		auth = config.Auth{Type: "bearer", TokenFile: c.tokenFile}
	case os.Getenv("GRAFANA_TOKEN") != "":
		auth = config.Auth{Type: "bearer", Token: os.Getenv("GRAFANA_TOKEN")}
	case c.user != "":
		auth = config.Auth{Type: "basic", Username: c.user, PasswordFile: c.passFile, Password: os.Getenv("GRAFANA_PASSWORD")}
		if c.passFile != "" {
			auth.Password = ""
		}
	}
	rt, err := auth.RoundTripper(ctx, nil, "grafana")
	if err != nil {
		return usageError{err}
	}
	client, err := grafana.NewClient(c.push, rt)
	if err != nil {
		return usageError{fmt.Errorf("--push: %w", err)}
	}
	for _, d := range all {
		p, err := client.Push(ctx, d, c.folderUID)
		if errors.Is(err, grafana.ErrAuth) {
			return usageError{err}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %q (uid %s, version %d): %s\n", p.Action, p.Title, p.UID, p.Version, p.URL)
	}
	return nil
}
