package graphtest

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// OpenMetrics writes the cases' series in the OpenMetrics text format that
// promtool's backfill (`promtool tsdb create-blocks-from openmetrics`)
// reads, each case an hour after the last from base, and returns when
// each case starts: a case's graph is asked at its start plus At.
func OpenMetrics(cases []Case, base time.Time) ([]byte, []time.Time, error) {
	families := map[string][]string{}
	var starts []time.Time
	for i, c := range cases {
		start := base.Add(time.Duration(i) * time.Hour)
		starts = append(starts, start)
		if err := openMetrics(families, c.Load, start); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	var om bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(families)) {
		for _, line := range families[name] {
			om.WriteString(line)
		}
	}
	om.WriteString("# EOF\n")
	return om.Bytes(), starts, nil
}

// openMetrics adds the series of a case's load block, from start, to the
// OpenMetrics lines of their families (by metric name).
func openMetrics(families map[string][]string, load string, start time.Time) error {
	expanded, err := ExpandSeries(load)
	if err != nil {
		return err
	}
	step := Interval
	for _, line := range strings.Split(expanded, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "load ") {
			d, err := time.ParseDuration(strings.TrimPrefix(line, "load "))
			if err != nil || d != Interval {
				return fmt.Errorf("%q: the cases load every %s", line, Interval)
			}
			continue
		}
		ls, values, err := parser.NewParser(parser.Options{}).ParseSeriesDesc(line)
		if err != nil {
			return fmt.Errorf("%q: %w", line, err)
		}
		name := ls.Get(labels.MetricName)
		var pairs []string
		ls.Range(func(l labels.Label) {
			if l.Name != labels.MetricName {
				pairs = append(pairs, l.Name+"="+strconv.Quote(l.Value))
			}
		})
		for i, v := range values {
			if v.Omitted {
				continue
			}
			ts := start.Add(time.Duration(i) * step)
			families[name] = append(families[name], fmt.Sprintf("%s{%s} %s %d\n", name, strings.Join(pairs, ","),
				strconv.FormatFloat(v.Value, 'g', -1, 64), ts.Unix()))
		}
	}
	return nil
}
