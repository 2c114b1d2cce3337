// Package health says whether an app, a workload or a service is healthy,
// as Kiali says it: request health (the share of errors, by protocol,
// direction and code, against tolerances) and availability (replicas), the
// worse of the two. Requests are counted by package traffic's rules, the
// graph's, and read for every entity of the asked namespaces in one query.
package health

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Tolerance is one rule of request health: among the requests of a
// protocol and direction, the share (in percent) whose code matches is
// Degraded from Degraded and a Failure from Failure. Kiali's names and
// meaning: a code "5XX" reads X as any digit; patterns match whole values.
type Tolerance struct {
	Code      string  `yaml:"code" json:"code"`
	Degraded  float64 `yaml:"degraded" json:"degraded"`
	Failure   float64 `yaml:"failure" json:"failure"`
	Protocol  string  `yaml:"protocol" json:"protocol"`
	Direction string  `yaml:"direction" json:"direction"`
}

// DefaultTolerances are Kiali's: HTTP 5xx degrade from any share and fail
// from 10 %, 4xx degrade from 10 % and fail from 20 %, gRPC errors (codes
// 1 to 16) and requests without a response (code "-", HTTP or gRPC) as 5xx.
var DefaultTolerances = []Tolerance{
	{Code: "5XX", Degraded: 0, Failure: 10, Protocol: "http", Direction: ".*"},
	{Code: "4XX", Degraded: 10, Failure: 20, Protocol: "http", Direction: ".*"},
	{Code: "^[1-9]$|^1[0-6]$", Degraded: 0, Failure: 10, Protocol: "grpc", Direction: ".*"},
	{Code: "-", Degraded: 0, Failure: 10, Protocol: "http|grpc", Direction: ".*"},
}

// Rate chooses tolerances for the entities it matches, as an entry of
// Kiali's health_config.rate: namespace, kind (app, workload, service) and
// name are regular expressions, empty matching all.
type Rate struct {
	Namespace string      `yaml:"namespace" json:"namespace"`
	Kind      string      `yaml:"kind" json:"kind"`
	Name      string      `yaml:"name" json:"name"`
	Tolerance []Tolerance `yaml:"tolerance" json:"tolerance"`
}

// rule is a Tolerance compiled.
type rule struct {
	Tolerance
	code, protocol, direction *regexp.Regexp
}

type rate struct {
	namespace, kind, name *regexp.Regexp
	rules                 []rule
}

// Config is compiled tolerance configuration: the rates in order, the
// first that matches an entity deciding, and Kiali's defaults after them.
type Config struct {
	rates    []rate
	defaults []rule
}

// NewConfig compiles rates; a pattern that does not compile is an error
// naming the rate and the field.
func NewConfig(rates []Rate) (*Config, error) {
	c := &Config{}
	for i, r := range rates {
		var cr rate
		var err error
		for _, f := range []struct {
			name    string
			pattern string
			into    **regexp.Regexp
		}{{"namespace", r.Namespace, &cr.namespace}, {"kind", r.Kind, &cr.kind}, {"name", r.Name, &cr.name}} {
			if *f.into, err = anchored(f.pattern); err != nil {
				return nil, fmt.Errorf("health_config.rate[%d].%s %q: %w", i, f.name, f.pattern, err)
			}
		}
		for j, t := range r.Tolerance {
			ru, err := compile(t)
			if err != nil {
				return nil, fmt.Errorf("health_config.rate[%d].tolerance[%d]: %w", i, j, err)
			}
			cr.rules = append(cr.rules, ru)
		}
		c.rates = append(c.rates, cr)
	}
	for _, t := range DefaultTolerances {
		ru, _ := compile(t)
		c.defaults = append(c.defaults, ru)
	}
	return c, nil
}

// DefaultConfig is Kiali's defaults alone.
func DefaultConfig() *Config {
	c, _ := NewConfig(nil)
	return c
}

// Tolerances are the rules for an entity: those of its annotation
// (health.kiali.io/rate) when it has valid ones, else those of the first
// rate matching it, else the defaults. Warnings say what of an annotation
// was left out, and why.
func (c *Config) tolerances(namespace, kind, name, annotation string) ([]rule, []string) {
	var warnings []string
	if annotation != "" {
		rules, warns := ParseAnnotation(annotation)
		warnings = warns
		if len(rules) > 0 {
			return rules, warnings
		}
		warnings = append(warnings, fmt.Sprintf("annotation %s=%q holds no valid tolerance; the configured ones apply", AnnotationRate, annotation))
	}
	for _, r := range c.rates {
		if r.namespace.MatchString(namespace) && r.kind.MatchString(kind) && r.name.MatchString(name) {
			return r.rules, warnings
		}
	}
	return c.defaults, warnings
}

// AnnotationRate is the annotation by which a workload or service tunes
// its own tolerances, in Kiali's syntax.
const AnnotationRate = "health.kiali.io/rate"

// ParseAnnotation reads an annotation of tolerances in Kiali's syntax:
// entries "code,degraded,failure,protocol,direction" separated by ";". An
// entry with another number of fields, a threshold that is not a number,
// degraded above failure or a pattern that does not compile is left out
// with a warning; the others apply.
func ParseAnnotation(v string) ([]rule, []string) {
	var rules []rule
	var warnings []string
	for entry := range strings.SplitSeq(v, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		f := strings.Split(entry, ",")
		if len(f) != 5 {
			warnings = append(warnings, fmt.Sprintf("annotation %s entry %q: want 5 fields code,degraded,failure,protocol,direction, found %d", AnnotationRate, entry, len(f)))
			continue
		}
		degraded, err1 := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
		failure, err2 := strconv.ParseFloat(strings.TrimSpace(f[2]), 64)
		if err1 != nil || err2 != nil {
			warnings = append(warnings, fmt.Sprintf("annotation %s entry %q: degraded and failure must be numbers (percent)", AnnotationRate, entry))
			continue
		}
		if degraded > failure {
			warnings = append(warnings, fmt.Sprintf("annotation %s entry %q: degraded %g is above failure %g", AnnotationRate, entry, degraded, failure))
			continue
		}
		r, err := compile(Tolerance{Code: strings.TrimSpace(f[0]), Degraded: degraded, Failure: failure,
			Protocol: strings.TrimSpace(f[3]), Direction: strings.TrimSpace(f[4])})
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("annotation %s entry %q: %v", AnnotationRate, entry, err))
			continue
		}
		rules = append(rules, r)
	}
	return rules, warnings
}

func compile(t Tolerance) (rule, error) {
	r := rule{Tolerance: t}
	var err error
	code := strings.NewReplacer("X", `\d`, "x", `\d`).Replace(t.Code)
	if r.code, err = anchored(code); err != nil {
		return r, fmt.Errorf("code %q: %w", t.Code, err)
	}
	if r.protocol, err = anchored(t.Protocol); err != nil {
		return r, fmt.Errorf("protocol %q: %w", t.Protocol, err)
	}
	if r.direction, err = anchored(t.Direction); err != nil {
		return r, fmt.Errorf("direction %q: %w", t.Direction, err)
	}
	return r, nil
}

// anchored compiles a pattern to match whole values ("" matches all), as
// Kiali anchors them: a pattern not starting with ^ gets one, not ending
// with $ gets one.
func anchored(p string) (*regexp.Regexp, error) {
	if p == "" {
		p = ".*"
	}
	if !strings.HasPrefix(p, "^") {
		p = "^" + p
	}
	if !strings.HasSuffix(p, "$") {
		p += "$"
	}
	return regexp.Compile(p)
}
