package validate

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/meshlens/meshlens/inventory"
)

// Report is the outcome of validating a set of files.
type Report struct {
	Findings   []Finding
	LoadErrors []*inventory.LoadError
	Objects    int
}

// loadSeverity is how a load error counts: an error, or a warning for what
// was read with a remark (a removed API version, a duplicate).
func loadSeverity(e *inventory.LoadError) Severity {
	if e.Warning {
		return Warning
	}
	return Error
}

// Counts returns the number of findings per severity; load errors count as
// errors, load warnings as warnings.
func (r *Report) Counts() map[Severity]int {
	c := map[Severity]int{Error: 0}
	for _, e := range r.LoadErrors {
		c[loadSeverity(e)]++
	}
	for _, f := range r.Findings {
		c[f.Severity]++
	}
	return c
}

// Fails tells whether anything at or above threshold was found.
func (r *Report) Fails(threshold Severity) bool {
	for _, e := range r.LoadErrors {
		if loadSeverity(e).Rank() >= threshold.Rank() {
			return true
		}
	}
	for _, f := range r.Findings {
		if f.Severity.Rank() >= threshold.Rank() {
			return true
		}
	}
	return false
}

// WriteText writes one line per finding, as compilers do:
// file:line: CODE severity: what is wrong — Kiali's message (object, path).
func (r *Report) WriteText(w io.Writer) error {
	for _, e := range r.LoadErrors {
		if _, err := fmt.Fprintf(w, "%s: %s: %v\n", location(e.File, e.Line), loadSeverity(e), e.Err); err != nil {
			return err
		}
	}
	for _, f := range r.Findings {
		detail := f.Message
		if f.Detail != "" {
			detail = f.Detail + " — " + f.Message
		}
		if _, err := fmt.Fprintf(w, "%s: %s %s: %s (%s %s/%s, %s)\n", location(f.File, f.Line), f.Code, f.Severity, detail, f.Kind, f.Namespace, f.Name, f.Path); err != nil {
			return err
		}
	}
	c := r.Counts()
	_, err := fmt.Fprintf(w, "%d objects checked: %d errors, %d warnings, %d unknown\n", r.Objects, c[Error], c[Warning], c[Unknown])
	return err
}

func location(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

type jsonLoadError struct {
	File     string   `json:"file"`
	Line     int      `json:"line,omitempty"`
	Severity Severity `json:"severity"`
	Error    string   `json:"error"`
}

// WriteJSON writes the findings, load errors and counts as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		Findings   []Finding        `json:"findings"`
		LoadErrors []jsonLoadError  `json:"loadErrors"`
		Objects    int              `json:"objects"`
		Counts     map[Severity]int `json:"counts"`
	}{Findings: r.Findings, LoadErrors: []jsonLoadError{}, Objects: r.Objects, Counts: r.Counts()}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	for _, e := range r.LoadErrors {
		out.LoadErrors = append(out.LoadErrors, jsonLoadError{File: e.File, Line: e.Line, Severity: loadSeverity(e), Error: e.Err.Error()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// SARIF 2.1.0, the format code hosts read to annotate pull requests.
type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region *struct {
			StartLine int `json:"startLine"`
		} `json:"region,omitempty"`
	} `json:"physicalLocation"`
}

func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

func sarifAt(file string, line int) []sarifLocation {
	var l sarifLocation
	l.PhysicalLocation.ArtifactLocation.URI = file
	if line > 0 {
		l.PhysicalLocation.Region = &struct {
			StartLine int `json:"startLine"`
		}{line}
	}
	return []sarifLocation{l}
}

// WriteSARIF writes the report as a SARIF 2.1.0 log.
func (r *Report) WriteSARIF(w io.Writer) error {
	rules := map[string]sarifRule{}
	var results []sarifResult
	for _, e := range r.LoadErrors {
		id, text := "load", "The file could not be read as Kubernetes objects"
		if e.Warning {
			id, text = "load-warning", "The object was read with a remark (a removed API version, a duplicate definition)"
		}
		rules[id] = newRule(id, text, loadSeverity(e))
		results = append(results, sarifResult{RuleID: id, Level: sarifLevel(loadSeverity(e)), Message: sarifMessage{e.Err.Error()}, Locations: sarifAt(e.File, e.Line)})
	}
	for _, f := range r.Findings {
		rules[f.Code] = newRule(f.Code, f.Message, f.Severity)
		text := f.Message
		if f.Detail != "" {
			text = f.Detail + " — " + f.Message
		}
		text = fmt.Sprintf("%s (%s %s/%s, %s)", text, f.Kind, f.Namespace, f.Name, f.Path)
		results = append(results, sarifResult{RuleID: f.Code, Level: sarifLevel(f.Severity), Message: sarifMessage{text}, Locations: sarifAt(f.File, f.Line)})
	}
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	driver := sarifDriver{Name: "meshlens", InformationURI: "https://kiali.io/docs/features/validations/", Rules: []sarifRule{}}
	for _, id := range ids {
		driver.Rules = append(driver.Rules, rules[id])
	}
	if results == nil {
		results = []sarifResult{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{
		Version: "2.1.0", Schema: "https://json.schemastore.org/sarif-2.1.0.json",
		Runs: []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}},
	})
}

func newRule(id, text string, s Severity) sarifRule {
	r := sarifRule{ID: id, ShortDescription: sarifMessage{text}}
	r.DefaultConfiguration.Level = sarifLevel(s)
	return r
}
