package metrics

import (
	"context"
	"fmt"
	"strconv"

	"github.com/prometheus/common/model"

	"github.com/meshlens/meshlens/telemetry"
)

// CustomDashboard is one of Kiali's custom dashboards
// (external_services.custom_dashboards): charts of an application's own
// metrics, such as its runtime's, read from the series of its pods.
type CustomDashboard struct {
	Name  string       `yaml:"name"`
	Title string       `yaml:"title"`
	Items []CustomItem `yaml:"items"`
}

// CustomItem is a place on the dashboard; a chart is the only kind read.
type CustomItem struct {
	Chart CustomChart `yaml:"chart"`
}

// CustomChart is a chart of one metric, read as DataType says: raw (the
// values), rate (per second) or histogram (quantiles and avg).
type CustomChart struct {
	Name         string        `yaml:"name"`
	Unit         string        `yaml:"unit"`
	Spans        int           `yaml:"spans"`
	MetricName   string        `yaml:"metricName"`
	DataType     string        `yaml:"dataType"`
	Aggregations []Aggregation `yaml:"aggregations"`
}

// Check says what in d cannot be charted.
func (d CustomDashboard) Check() error {
	if d.Name == "" {
		return fmt.Errorf("a custom dashboard has no name")
	}
	for i, it := range d.Items {
		c := it.Chart
		switch {
		case !model.IsValidLegacyMetricName(c.MetricName):
			return fmt.Errorf("%s: items[%d].chart.metricName %q is not a metric name", d.Name, i, c.MetricName)
		case c.DataType != "raw" && c.DataType != "rate" && c.DataType != "histogram":
			return fmt.Errorf("%s: items[%d].chart.dataType %q: use raw, rate or histogram", d.Name, i, c.DataType)
		}
		for j, a := range c.Aggregations {
			if !model.LabelName(a.Label).IsValidLegacy() {
				return fmt.Errorf("%s: items[%d].chart.aggregations[%d].label %q is not a label name", d.Name, i, j, a.Label)
			}
		}
	}
	return nil
}

// Custom reads d's charts for the pods of o.Namespace whose series carry
// the labels (app, version, …), as Kiali's custom dashboards select them;
// o's duration, step, rate interval, quantiles and byLabels apply.
func (r *Reader) Custom(ctx context.Context, d CustomDashboard, o Options, pods map[string]string) (Dashboard, *Answer, error) {
	o.Filters = nil
	if err := o.defaults(); err != nil {
		return Dashboard{}, nil, err
	}
	for name := range pods {
		if !model.LabelName(name).IsValidLegacy() {
			return Dashboard{}, nil, fmt.Errorf("%w: labelsFilters %q is not a label name", ErrBadRequest, name)
		}
	}
	a, window, rng, err := r.frame(ctx, o)
	if err != nil {
		return Dashboard{}, nil, err
	}
	var jobs []job
	for i, it := range d.Items {
		c := it.Chart
		key := strconv.Itoa(i)
		sel := func(metric string) telemetry.Selector {
			s := telemetry.Select(metric).Eq("namespace", o.Namespace)
			for name, v := range pods {
				s = s.Eq(name, v)
			}
			return s
		}
		switch c.DataType {
		case "raw":
			jobs = append(jobs, job{key, "", telemetry.Sum(sel(c.MetricName).Instant(), o.ByLabels...)})
		case "rate":
			jobs = append(jobs, job{key, "", telemetry.Sum(telemetry.Rate(sel(c.MetricName), window), o.ByLabels...)})
		case "histogram":
			jobs = append(jobs, o.statistics(key, c.MetricName, func(metric string, wrap func(telemetry.Expr) telemetry.Expr, by ...string) telemetry.Expr {
				e := telemetry.Sum(telemetry.Rate(sel(metric), window), append(append([]string{}, o.ByLabels...), by...)...)
				if wrap != nil {
					e = wrap(e)
				}
				return e
			})...)
		}
	}
	if err := r.run(ctx, a, jobs, rng); err != nil {
		return Dashboard{}, nil, err
	}
	out := Dashboard{Title: d.Title, Rows: 2, Charts: []Chart{}, Aggregations: []Aggregation{}}
	seen := map[string]bool{}
	for i, it := range d.Items {
		c := it.Chart
		series := a.Metrics[strconv.Itoa(i)]
		if series == nil {
			series = []Metric{}
		}
		for j := range series {
			series[j].Name = c.MetricName
		}
		spans := c.Spans
		if spans <= 0 {
			spans = 4
		}
		out.Charts = append(out.Charts, Chart{Name: c.Name, Unit: c.Unit, Spans: spans, Metrics: series})
		for _, ag := range c.Aggregations {
			if !seen[ag.Label] {
				seen[ag.Label] = true
				out.Aggregations = append(out.Aggregations, ag)
			}
		}
	}
	return out, a, nil
}
