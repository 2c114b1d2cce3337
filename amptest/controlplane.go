package amptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Alias is the workspace's alias.
const Alias = "observability-workshop"

// controlPlane answers the AMP API calls meshlens makes (the REST JSON of
// service "aps", https://aps.<region>.amazonaws.com): ListWorkspaces,
// DescribeWorkspace, and Create, Put and DescribeRuleGroupsNamespace. A
// namespace is checked as AMP's ruler checks it, as a Prometheus rule
// file: one that does not parse is refused with a ValidationException.
type controlPlane struct {
	endpoint func() string // the workspace's Prometheus endpoint

	mu         sync.Mutex
	namespaces map[string]*ruleNamespace
	created    time.Time
}

type ruleNamespace struct {
	data     []byte
	status   string
	modified time.Time
}

// RuleNamespace is the data of a rule groups namespace the workspace holds.
func (s *Server) RuleNamespace(name string) ([]byte, bool) {
	s.cp.mu.Lock()
	defer s.cp.mu.Unlock()
	ns, ok := s.cp.namespaces[name]
	if !ok {
		return nil, false
	}
	return ns.data, true
}

func awsError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (c *controlPlane) workspace() map[string]any {
	return map[string]any{
		"workspaceId": Workspace, "alias": Alias, "arn": "arn:aws:aps:" + Region + ":123456789012:workspace/" + Workspace,
		"status": map[string]string{"statusCode": "ACTIVE"}, "createdAt": float64(c.created.Unix()),
		"prometheusEndpoint": c.endpoint(),
	}
}

// serve answers a control-plane call; false when path is not one.
func (c *controlPlane) serve(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	switch {
	case path == "/workspaces" && r.Method == http.MethodGet:
		var list []map[string]any
		if strings.HasPrefix(Alias, r.URL.Query().Get("alias")) {
			list = append(list, c.workspace())
		}
		writeJSON(w, http.StatusOK, map[string]any{"workspaces": list})
	case path == "/workspaces/"+Workspace && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"workspace": c.workspace()})
	case path == "/workspaces/"+Workspace+"/rulegroupsnamespaces" && r.Method == http.MethodPost:
		var in struct {
			Name string `json:"name"`
			Data []byte `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
			awsError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("a name and data are required: %v", err))
			return true
		}
		c.put(w, in.Name, in.Data, true)
	case strings.HasPrefix(path, "/workspaces/"+Workspace+"/rulegroupsnamespaces/"):
		name := strings.TrimPrefix(path, "/workspaces/"+Workspace+"/rulegroupsnamespaces/")
		switch r.Method {
		case http.MethodPut:
			var in struct {
				Data []byte `json:"data"`
			}
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				awsError(w, http.StatusBadRequest, "ValidationException", err.Error())
				return true
			}
			c.put(w, name, in.Data, false)
		case http.MethodGet:
			c.mu.Lock()
			ns, ok := c.namespaces[name]
			var out map[string]any
			if ok {
				out = map[string]any{"ruleGroupsNamespace": map[string]any{
					"arn": "arn:aws:aps:" + Region + ":123456789012:rulegroupsnamespace/" + Workspace + "/" + name, "name": name,
					"data": ns.data, "status": map[string]string{"statusCode": ns.status},
					"createdAt": float64(ns.modified.Unix()), "modifiedAt": float64(ns.modified.Unix()),
				}}
				// The ruler takes a namespace some time after the answer:
				// the first description shows it still being made.
				ns.status = "ACTIVE"
			}
			c.mu.Unlock()
			if !ok {
				awsError(w, http.StatusNotFound, "ResourceNotFoundException", "rule groups namespace "+name+" not found")
				return true
			}
			writeJSON(w, http.StatusOK, out)
		default:
			return false
		}
	default:
		return false
	}
	return true
}

func (c *controlPlane) put(w http.ResponseWriter, name string, data []byte, create bool) {
	if _, errs := rulefmt.Parse(data, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler)); len(errs) > 0 {
		awsError(w, http.StatusBadRequest, "ValidationException", "invalid rule groups namespace data: "+errors.Join(errs...).Error())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, exists := c.namespaces[name]
	if create && exists {
		awsError(w, http.StatusConflict, "ConflictException", "rule groups namespace "+name+" already exists")
		return
	}
	if !create && !exists {
		awsError(w, http.StatusNotFound, "ResourceNotFoundException", "rule groups namespace "+name+" not found")
		return
	}
	status := "CREATING"
	if !create {
		status = "UPDATING"
	}
	c.namespaces[name] = &ruleNamespace{data: data, status: status, modified: time.Now()}
	writeJSON(w, http.StatusAccepted, map[string]any{
		"arn": "arn:aws:aps:" + Region + ":123456789012:rulegroupsnamespace/" + Workspace + "/" + name, "name": name,
		"status": map[string]string{"statusCode": status},
	})
}
