// Package amp speaks to the control plane of Amazon Managed Service for
// Prometheus through the AWS SDK: finding a workspace by its alias, and
// putting the graph's recording rules into a workspace's ruler as a rule
// groups namespace.
package amp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/amp"
	"github.com/aws/aws-sdk-go-v2/service/amp/types"
)

// Client is a control-plane client for one region.
type Client struct {
	api *amp.Client
}

// New resolves the AWS configuration (region, the default credentials
// chain; AWS_ENDPOINT_URL_AMP overrides the endpoint, as for every AWS SDK)
// and checks that credentials resolve, so that their absence is an error
// now that says what to set.
func New(ctx context.Context, region string) (*Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: give --amp.region or set AWS_REGION")
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("no AWS credentials: %w; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with a role (web identity token, container or instance role)", err)
	}
	return &Client{api: amp.NewFromConfig(cfg)}, nil
}

// Workspace is what the console needs of a workspace.
type Workspace struct {
	ID, Alias string
	// PrometheusEndpoint is its Prometheus API's base URL, ending in "/".
	PrometheusEndpoint string
}

// WorkspaceByAlias finds the one workspace with that alias, as `aws amp
// list-workspaces --alias` does (which matches aliases by prefix).
func (c *Client) WorkspaceByAlias(ctx context.Context, alias string) (Workspace, error) {
	var matches []types.WorkspaceSummary
	p := amp.NewListWorkspacesPaginator(c.api, &amp.ListWorkspacesInput{Alias: aws.String(alias)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return Workspace{}, fmt.Errorf("list workspaces with alias %q: %w", alias, err)
		}
		for _, w := range page.Workspaces {
			if aws.ToString(w.Alias) == alias {
				matches = append(matches, w)
			}
		}
	}
	switch len(matches) {
	case 0:
		return Workspace{}, fmt.Errorf("no workspace has the alias %q in this region", alias)
	case 1:
	default:
		ids := make([]string, len(matches))
		for i, w := range matches {
			ids[i] = aws.ToString(w.WorkspaceId)
		}
		return Workspace{}, fmt.Errorf("%d workspaces have the alias %q (%s): give the workspace's ID", len(matches), alias, strings.Join(ids, ", "))
	}
	return c.Workspace(ctx, aws.ToString(matches[0].WorkspaceId))
}

// Workspace describes a workspace by its ID.
func (c *Client) Workspace(ctx context.Context, id string) (Workspace, error) {
	out, err := c.api.DescribeWorkspace(ctx, &amp.DescribeWorkspaceInput{WorkspaceId: aws.String(id)})
	if err != nil {
		return Workspace{}, fmt.Errorf("describe workspace %s: %w", id, err)
	}
	w := out.Workspace
	endpoint := aws.ToString(w.PrometheusEndpoint)
	if endpoint != "" && !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}
	return Workspace{ID: aws.ToString(w.WorkspaceId), Alias: aws.ToString(w.Alias), PrometheusEndpoint: endpoint}, nil
}

// PutRules puts a rule file into the workspace's ruler as the namespace
// name: created when the workspace has none of that name, replaced when it
// has. It waits, up to wait, for the ruler to take it (the workspace
// checks the rules after answering), and says what happened.
func (c *Client) PutRules(ctx context.Context, workspaceID, name string, rules []byte, wait time.Duration) (string, error) {
	verb := "created"
	_, err := c.api.CreateRuleGroupsNamespace(ctx, &amp.CreateRuleGroupsNamespaceInput{
		WorkspaceId: aws.String(workspaceID), Name: aws.String(name), Data: rules,
	})
	if _, exists := errors.AsType[*types.ConflictException](err); exists {
		verb = "updated"
		_, err = c.api.PutRuleGroupsNamespace(ctx, &amp.PutRuleGroupsNamespaceInput{
			WorkspaceId: aws.String(workspaceID), Name: aws.String(name), Data: rules,
		})
	}
	if err != nil {
		return "", fmt.Errorf("put rule groups namespace %s in workspace %s: %w", name, workspaceID, err)
	}
	deadline := time.Now().Add(wait)
	for {
		out, err := c.api.DescribeRuleGroupsNamespace(ctx, &amp.DescribeRuleGroupsNamespaceInput{WorkspaceId: aws.String(workspaceID), Name: aws.String(name)})
		if err != nil {
			return "", fmt.Errorf("describe rule groups namespace %s: %w", name, err)
		}
		st := out.RuleGroupsNamespace.Status
		switch st.StatusCode {
		case types.RuleGroupsNamespaceStatusCodeActive:
			return fmt.Sprintf("%s rule groups namespace %s in workspace %s: active", verb, name, workspaceID), nil
		case types.RuleGroupsNamespaceStatusCodeCreationFailed, types.RuleGroupsNamespaceStatusCodeUpdateFailed:
			return "", fmt.Errorf("the workspace refused rule groups namespace %s: %s: %s", name, st.StatusCode, aws.ToString(st.StatusReason))
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("%s rule groups namespace %s in workspace %s: still %s after %s", verb, name, workspaceID, st.StatusCode, wait), nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
