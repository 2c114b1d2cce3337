// Package inventory knows what runs in the mesh: namespaces, workloads,
// services, pods and Istio configuration, read from Kubernetes YAML/JSON
// files with the real API types (k8s.io/api, istio.io/client-go).
package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// MaxFileSize is the largest file the loader reads; a larger one is an
// error naming the file, not an out-of-memory.
const MaxFileSize = 16 << 20

// Object is one Kubernetes or Istio object and where it was read.
type Object struct {
	Group, Version, Kind string
	Namespace, Name      string
	File                 string
	// Line is where the object's document (or List item) starts.
	Line int
	// Typed is the object as its API type, e.g. *networkingv1.VirtualService.
	Typed any
	node  *yaml.Node
}

// ID names the object for people: "VirtualService bookinfo/reviews".
func (o *Object) ID() string { return KindKey(o.Group, o.Kind) + " " + o.Namespace + "/" + o.Name }

// LineOf returns the line of the field at path ("spec/http[0]/route[1]/destination/subset"),
// or of the deepest part of it that exists.
func (o *Object) LineOf(path string) int {
	n := o.node
	line := o.Line
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || n == nil {
			continue
		}
		key, index := seg, -1
		if i := strings.IndexByte(seg, '['); i > 0 && strings.HasSuffix(seg, "]") {
			key = seg[:i]
			index, _ = strconv.Atoi(seg[i+1 : len(seg)-1])
		}
		keyNode, next := mappingEntry(n, key)
		if next == nil {
			return line
		}
		line, n = keyNode.Line, next
		if index >= 0 {
			if n.Kind != yaml.SequenceNode || index >= len(n.Content) {
				return line
			}
			n = n.Content[index]
			line = n.Line
		}
	}
	return line
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	_, v := mappingEntry(n, key)
	return v
}

// mappingEntry returns the key and value nodes of key in mapping n.
func mappingEntry(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// LoadError is a document or file that could not be read; the rest still
// is. A Warning was read, but the reader should know something about it
// (an API version Kubernetes removed, an object defined twice).
type LoadError struct {
	File    string
	Line    int
	Err     error
	Warning bool
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// kind is a type the loader knows, with the API versions it accepts.
type kind struct {
	versions []string
	new      func() any
}

// removedAPIs maps an old group/kind to the current one it reads as: the
// Deployments of Kiali's and Istio's older examples, served by Kubernetes
// until 1.16, whose fields the apps/v1 types still hold.
var removedAPIs = map[string]string{
	"extensions/v1beta1/Deployment": "apps/Deployment",
	"extensions/v1beta1/DaemonSet":  "apps/DaemonSet",
	"extensions/v1beta1/ReplicaSet": "apps/ReplicaSet",
	"apps/v1beta1/Deployment":       "apps/Deployment",
	"apps/v1beta1/StatefulSet":      "apps/StatefulSet",
	"apps/v1beta2/Deployment":       "apps/Deployment",
	"apps/v1beta2/StatefulSet":      "apps/StatefulSet",
	"apps/v1beta2/DaemonSet":        "apps/DaemonSet",
	"apps/v1beta2/ReplicaSet":       "apps/ReplicaSet",
}

var istioNetworking = []string{"v1", "v1beta1", "v1alpha3"}

// kinds maps group/kind to its Go type. Istio's v1, v1beta1 and v1alpha3
// share one spec, so all three read into the v1 type.
var kinds = map[string]kind{
	"/Namespace":                              {[]string{"v1"}, func() any { return &corev1.Namespace{} }},
	"/Pod":                                    {[]string{"v1"}, func() any { return &corev1.Pod{} }},
	"/Service":                                {[]string{"v1"}, func() any { return &corev1.Service{} }},
	"/ServiceAccount":                         {[]string{"v1"}, func() any { return &corev1.ServiceAccount{} }},
	"apps/Deployment":                         {[]string{"v1"}, func() any { return &appsv1.Deployment{} }},
	"apps/StatefulSet":                        {[]string{"v1"}, func() any { return &appsv1.StatefulSet{} }},
	"apps/DaemonSet":                          {[]string{"v1"}, func() any { return &appsv1.DaemonSet{} }},
	"apps/ReplicaSet":                         {[]string{"v1"}, func() any { return &appsv1.ReplicaSet{} }},
	"networking.istio.io/VirtualService":      {istioNetworking, func() any { return &networkingv1.VirtualService{} }},
	"networking.istio.io/DestinationRule":     {istioNetworking, func() any { return &networkingv1.DestinationRule{} }},
	"networking.istio.io/Gateway":             {istioNetworking, func() any { return &networkingv1.Gateway{} }},
	"networking.istio.io/ServiceEntry":        {istioNetworking, func() any { return &networkingv1.ServiceEntry{} }},
	"networking.istio.io/Sidecar":             {istioNetworking, func() any { return &networkingv1.Sidecar{} }},
	"networking.istio.io/WorkloadEntry":       {istioNetworking, func() any { return &networkingv1.WorkloadEntry{} }},
	"networking.istio.io/WorkloadGroup":       {istioNetworking, func() any { return &networkingv1.WorkloadGroup{} }},
	"security.istio.io/PeerAuthentication":    {[]string{"v1", "v1beta1"}, func() any { return &securityv1.PeerAuthentication{} }},
	"security.istio.io/AuthorizationPolicy":   {[]string{"v1", "v1beta1"}, func() any { return &securityv1.AuthorizationPolicy{} }},
	"security.istio.io/RequestAuthentication": {[]string{"v1", "v1beta1"}, func() any { return &securityv1.RequestAuthentication{} }},
	// Gateway API: v1beta1 and v1alpha2 share the v1 shapes of their kinds.
	GatewayAPIGroup + "/Gateway":        {[]string{"v1", "v1beta1"}, func() any { return &gatewayv1.Gateway{} }},
	GatewayAPIGroup + "/GatewayClass":   {[]string{"v1", "v1beta1"}, func() any { return &gatewayv1.GatewayClass{} }},
	GatewayAPIGroup + "/HTTPRoute":      {[]string{"v1", "v1beta1"}, func() any { return &gatewayv1.HTTPRoute{} }},
	GatewayAPIGroup + "/GRPCRoute":      {[]string{"v1", "v1alpha2"}, func() any { return &gatewayv1.GRPCRoute{} }},
	GatewayAPIGroup + "/ReferenceGrant": {[]string{"v1beta1", "v1alpha2"}, func() any { return &gatewayv1beta1.ReferenceGrant{} }},
}

// clusterScoped are the kinds that live in no namespace.
var clusterScoped = map[string]bool{"/Namespace": true, GatewayAPIGroup + "/GatewayClass": true}

// GatewayAPIGroup is the Kubernetes Gateway API's group. Its kinds are
// looked up qualified (Of("gateway.networking.k8s.io/Gateway")), apart
// from Istio's Gateway.
const GatewayAPIGroup = "gateway.networking.k8s.io"

// KindKey is how Snapshot.Of names a kind: its name, qualified by its
// group for the Gateway API.
func KindKey(group, kind string) string {
	if group == GatewayAPIGroup {
		return group + "/" + kind
	}
	return kind
}

// Load reads every path: files, directories (their .yaml, .yml and .json
// files, recursively) and "-" for standard input. What it cannot read is
// in the LoadErrors; everything else is in the Snapshot.
func Load(paths []string, stdin io.Reader) (*Snapshot, []*LoadError) {
	var objects []*Object
	var errs []*LoadError
	for _, p := range paths {
		if p == "-" {
			b, err := io.ReadAll(io.LimitReader(stdin, MaxFileSize+1))
			if err == nil && len(b) > MaxFileSize {
				err = fmt.Errorf("larger than %d MiB", MaxFileSize>>20)
			}
			if err != nil {
				errs = append(errs, &LoadError{File: "<stdin>", Err: err})
				continue
			}
			o, e := Parse("<stdin>", b)
			objects, errs = append(objects, o...), append(errs, e...)
			continue
		}
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, &LoadError{File: path, Err: err})
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if path != p && !hasManifestExt(path) {
				return nil
			}
			o, e := readFile(path)
			objects, errs = append(objects, o...), append(errs, e...)
			return nil
		})
		if err != nil {
			errs = append(errs, &LoadError{File: p, Err: err})
		}
	}
	objects, dups := dedupe(objects)
	return NewSnapshot(objects), append(errs, dups...)
}

func hasManifestExt(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func readFile(path string) ([]*Object, []*LoadError) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, []*LoadError{{File: path, Err: err}}
	}
	if info.Size() > MaxFileSize {
		return nil, []*LoadError{{File: path, Err: fmt.Errorf("%d MiB is larger than the %d MiB a manifest file may be", info.Size()>>20, MaxFileSize>>20)}}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, []*LoadError{{File: path, Err: err}}
	}
	return Parse(path, b)
}

// Parse reads every document of a YAML or JSON stream named name. The
// stream is cut at "---" lines first, so that a syntax error costs only its
// own document: the rest is still read.
func Parse(name string, b []byte) (objects []*Object, errs []*LoadError) {
	for _, d := range splitDocuments(b) {
		var doc yaml.Node
		if err := yaml.Unmarshal(d.text, &doc); err != nil {
			at := d.line
			if l := errorLine(err); l > 0 {
				at = d.line + l - 1
			}
			errs = append(errs, &LoadError{File: name, Line: at, Err: errors.New(withoutLine(err.Error()))})
			continue
		}
		if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue // an empty document, e.g. after a trailing ---
		}
		shiftLines(&doc, d.line-1)
		o, e := parseNode(name, &doc)
		objects, errs = append(objects, o...), append(errs, e...)
	}
	return objects, errs
}

// document is one YAML document of a stream and the line it starts on.
type document struct {
	text []byte
	line int
}

// splitDocuments cuts a stream at its "---" separator lines.
func splitDocuments(b []byte) []document {
	var docs []document
	start, startLine, line := 0, 1, 1
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != '\n' {
			continue
		}
		lineStart := i
		for lineStart > 0 && b[lineStart-1] != '\n' {
			lineStart--
		}
		if isSeparator(b[lineStart:i]) {
			docs = append(docs, document{text: b[start:lineStart], line: startLine})
			start, startLine = min(i+1, len(b)), line+1
		}
		line++
	}
	return append(docs, document{text: b[start:], line: startLine})
}

func isSeparator(l []byte) bool {
	l = bytes.TrimRight(l, " \t\r")
	return bytes.Equal(l, []byte("---")) || bytes.HasPrefix(l, []byte("--- "))
}

// shiftLines moves a document's line numbers to where it sits in its stream.
func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// withoutLine drops yaml.v3's "line N: " (relative to the document) from a
// message whose line is reported separately.
func withoutLine(msg string) string {
	if i := strings.Index(msg, "line "); i >= 0 {
		if j := strings.Index(msg[i:], ": "); j > 0 {
			return msg[:i] + msg[i+j+2:]
		}
	}
	return msg
}

// errorLine digs "line N" out of a yaml.v3 error.
func errorLine(err error) int {
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		n := 0
		for _, c := range s[i+5:] {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	return 0
}

type header struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
}

func parseNode(file string, node *yaml.Node) ([]*Object, []*LoadError) {
	root := node
	if root.Kind == yaml.DocumentNode {
		root = root.Content[0]
	}
	line := root.Line
	fail := func(err error) ([]*Object, []*LoadError) {
		l := line
		if at := errorLine(err); at > 0 {
			l = at // yaml.v3 names the offending line
		}
		return nil, []*LoadError{{File: file, Line: l, Err: err}}
	}
	if root.Kind != yaml.MappingNode {
		return fail(errors.New("not a Kubernetes object (a mapping with apiVersion and kind)"))
	}
	var h header
	if err := root.Decode(&h); err != nil {
		return fail(err)
	}
	if h.Kind == "" || h.APIVersion == "" {
		return fail(errors.New("apiVersion and kind are required"))
	}
	if h.Kind == "List" || strings.HasSuffix(h.Kind, "List") {
		items := mappingValue(root, "items")
		if items == nil || items.Kind != yaml.SequenceNode {
			return fail(fmt.Errorf("%s without items", h.Kind))
		}
		var objects []*Object
		var errs []*LoadError
		for _, item := range items.Content {
			o, e := parseNode(file, item)
			objects, errs = append(objects, o...), append(errs, e...)
		}
		return objects, errs
	}
	group, version := "", h.APIVersion
	if i := strings.LastIndexByte(h.APIVersion, '/'); i >= 0 {
		group, version = h.APIVersion[:i], h.APIVersion[i+1:]
	}
	var warnings []*LoadError
	if current, ok := removedAPIs[h.APIVersion+"/"+h.Kind]; ok {
		warnings = append(warnings, &LoadError{File: file, Line: line, Warning: true,
			Err: fmt.Errorf("%s %s %s: API version removed in Kubernetes 1.16; read as %s/v1", h.APIVersion, h.Kind, h.Metadata.Name, strings.SplitN(current, "/", 2)[0])})
		group, version = strings.SplitN(current, "/", 2)[0], "v1"
	}
	k, ok := kinds[group+"/"+h.Kind]
	if !ok {
		return fail(fmt.Errorf("unknown kind %s %s (not an object meshlens reads)", h.APIVersion, h.Kind))
	}
	known := false
	for _, v := range k.versions {
		known = known || v == version
	}
	if !known {
		return fail(fmt.Errorf("%s %s: version %s is not one meshlens knows (%s)", group, h.Kind, version, strings.Join(k.versions, ", ")))
	}
	// yaml.v3 refuses duplicated keys and alias bombs here, with the line.
	var generic any
	if err := root.Decode(&generic); err != nil {
		return fail(err)
	}
	b, err := json.Marshal(jsonable(generic))
	if err != nil {
		return fail(fmt.Errorf("%s %s: %w", h.Kind, h.Metadata.Name, err))
	}
	typed := k.new()
	if err := json.Unmarshal(b, typed); err != nil {
		return fail(fmt.Errorf("%s %s: %w", h.Kind, h.Metadata.Name, err))
	}
	if h.Metadata.Name == "" {
		return fail(fmt.Errorf("%s without metadata.name", h.Kind))
	}
	ns := h.Metadata.Namespace
	if ns == "" && !clusterScoped[group+"/"+h.Kind] {
		ns = "default"
	}
	return []*Object{{Group: group, Version: version, Kind: h.Kind, Namespace: ns, Name: h.Metadata.Name,
		File: file, Line: line, Typed: typed, node: root}}, warnings
}

// jsonable turns what yaml.v3 decodes into what encoding/json takes: a
// mapping with a non-string key (portLevelMtls's port numbers, 8080:)
// decodes as map[any]any, and its keys become strings, as JSON and the
// API types want them.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = jsonable(x)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = jsonable(x)
		}
		return t
	}
	return v
}

// dedupe keeps the first definition of each object (kind, namespace,
// name) and reports each object defined more than once, once, with every
// place it is defined: checking two definitions of one object would
// compare it with itself.
func dedupe(objects []*Object) ([]*Object, []*LoadError) {
	first := map[string]*Object{}
	again := map[string][]*Object{}
	var order []string
	kept := objects[:0:0]
	for _, o := range objects {
		key := KindKey(o.Group, o.Kind) + "/" + o.Namespace + "/" + o.Name
		if _, ok := first[key]; ok {
			if again[key] == nil {
				order = append(order, key)
			}
			again[key] = append(again[key], o)
			continue
		}
		first[key] = o
		kept = append(kept, o)
	}
	var warnings []*LoadError
	for _, key := range order {
		f := first[key]
		var at []string
		for _, o := range again[key] {
			at = append(at, fmt.Sprintf("%s:%d", o.File, o.Line))
		}
		warnings = append(warnings, &LoadError{File: f.File, Line: f.Line, Warning: true,
			Err: fmt.Errorf("%s is defined %d times: here and at %s; only this one is checked", f.ID(), len(again[key])+1, strings.Join(at, ", "))})
	}
	sort.SliceStable(warnings, func(i, j int) bool {
		if warnings[i].File != warnings[j].File {
			return warnings[i].File < warnings[j].File
		}
		return warnings[i].Line < warnings[j].Line
	})
	return kept, warnings
}

// sortObjects orders objects by kind, namespace and name, for stable output.
func sortObjects(objects []*Object) {
	sort.SliceStable(objects, func(i, j int) bool {
		a, b := objects[i], objects[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}
