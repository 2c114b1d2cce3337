package graph

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/meshlens/meshlens/promclient"
	"github.com/meshlens/meshlens/telemetry"
)

// Change is how a node or an edge moved against an earlier graph.
type Change string

// Changes.
const (
	ChangeNew     Change = "new"
	ChangeGone    Change = "gone"
	ChangeChanged Change = "changed"
	ChangeSame    Change = "same"
)

// Delta is an element's numbers then and now. A pair is set only where
// the element had the number in both graphs.
type Delta struct {
	Change Change
	// Rate is requests per second (bytes for TCP): before, now.
	Rate *[2]float64
	// ErrorShare is the percentage of requests that failed.
	ErrorShare *[2]float64
	// ResponseTime is the response time the graph was asked for, in ms.
	ResponseTime *[2]float64
}

// Thresholds say when a number moved enough to mark its element changed.
type Thresholds struct {
	// Rate and ResponseTime are relative changes (0.2 is 20 %).
	Rate, ResponseTime float64
	// ErrorShare is a change in percentage points.
	ErrorShare float64
}

// DefaultThresholds: a fifth more or less traffic or latency, or a point
// more or less of errors.
var DefaultThresholds = Thresholds{Rate: 0.2, ResponseTime: 0.2, ErrorShare: 1}

// CompareTime reads when to compare with: a Unix time in seconds, or a
// duration back from at (now when zero), like 1h. It must be before at.
func CompareTime(v string, at time.Time) (time.Time, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var before time.Time
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		before = time.Unix(secs, 0)
	} else if d, err := model.ParseDuration(v); err == nil && d > 0 {
		before = at.Add(-time.Duration(d))
	} else {
		return before, fmt.Errorf("%w: compare time %q is neither a Unix time in seconds nor a duration back like 1h", ErrBadRequest, promclient.Cut(v))
	}
	if !before.Before(at) || before.Unix() <= 0 {
		return before, fmt.Errorf("%w: compare time %s is not before the graph's time %s", ErrBadRequest, before.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	return before, nil
}

// Compare builds the graph of o and the same graph at before, and marks
// each node and edge of the first with how it moved; what the earlier graph
// had and this one lacks is added, marked gone.
func (b *Builder) Compare(ctx context.Context, o Options, before time.Time, th Thresholds) (*Graph, error) {
	then := o
	then.QueryTime = before
	var now, old *Graph
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { now, err = b.Build(gctx, o); return err })
	g.Go(func() (err error) {
		old, err = b.Build(gctx, then)
		if err != nil {
			err = fmt.Errorf("the graph to compare with, at %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	now.compareWith(old, th)
	return now, nil
}

// compareWith marks g against old.
func (g *Graph) compareWith(old *Graph, th Thresholds) {
	g.ComparedTo = old.Timestamp
	for id, n := range g.nodes {
		if n.Kind == KindBox {
			continue
		}
		o, ok := old.nodes[id]
		if !ok {
			n.Compare = &Delta{Change: ChangeNew}
			continue
		}
		n.Compare = delta(nodeNumbers(o), nodeNumbers(n), th)
	}
	for id, e := range g.edges {
		o, ok := old.edges[id]
		if !ok {
			e.Compare = &Delta{Change: ChangeNew}
			continue
		}
		e.Compare = delta(edgeNumbers(o), edgeNumbers(e), th)
	}
	// What is gone is drawn where it was: its ends are this graph's nodes
	// when it still has them.
	for id, o := range old.nodes {
		if _, ok := g.nodes[id]; ok || o.Kind == KindBox {
			continue
		}
		gone := *o
		gone.Parent = ""
		gone.Health = nil
		gone.Compare = &Delta{Change: ChangeGone}
		g.nodes[id] = &gone
	}
	for id, o := range old.edges {
		if _, ok := g.edges[id]; ok {
			continue
		}
		gone := *o
		gone.Source, gone.Dest = g.nodes[o.Source.ID], g.nodes[o.Dest.ID]
		gone.HealthStatus = ""
		gone.Compare = &Delta{Change: ChangeGone}
		g.edges[id] = &gone
	}
}

// numbers are what compare reads of an element; has* say which it has.
type numbers struct {
	rate, errorShare, responseTime          float64
	hasRate, hasErrorShare, hasResponseTime bool
}

func edgeNumbers(e *Edge) numbers {
	total, errs := e.totals()
	n := numbers{rate: total, hasRate: true, responseTime: e.ResponseTime, hasResponseTime: e.HasResponseTime}
	if e.Protocol != telemetry.ProtocolTCP && total > 0 {
		n.errorShare, n.hasErrorShare = 100*errs/total, true
	}
	return n
}

// nodeNumbers are a node's inbound requests; a traffic source's outbound.
func nodeNumbers(nd *Node) numbers {
	r := nd.In
	if r.HTTP+r.GRPC+r.TCP == 0 {
		r = nd.Out
	}
	n := numbers{rate: r.HTTP + r.GRPC, hasRate: true}
	if n.rate > 0 {
		n.errorShare, n.hasErrorShare = 100*(r.HTTP4xx+r.HTTP5xx+r.HTTPNoResponse+r.GRPCErr+r.GRPCNoResponse)/n.rate, true
	} else {
		n.rate = r.TCP
	}
	return n
}

func delta(before, now numbers, th Thresholds) *Delta {
	d := &Delta{Change: ChangeSame}
	if before.hasRate && now.hasRate {
		d.Rate = &[2]float64{before.rate, now.rate}
		if relativeMove(before.rate, now.rate) > th.Rate {
			d.Change = ChangeChanged
		}
	}
	if before.hasErrorShare || now.hasErrorShare {
		d.ErrorShare = &[2]float64{before.errorShare, now.errorShare}
		if math.Abs(now.errorShare-before.errorShare) > th.ErrorShare {
			d.Change = ChangeChanged
		}
	}
	if before.hasResponseTime && now.hasResponseTime {
		d.ResponseTime = &[2]float64{before.responseTime, now.responseTime}
		// Below a millisecond, latency jitters more than it moves.
		if math.Abs(now.responseTime-before.responseTime) >= 1 && relativeMove(before.responseTime, now.responseTime) > th.ResponseTime {
			d.Change = ChangeChanged
		}
	}
	return d
}

// relativeMove is |now-before| over the larger of the two; rates under a
// hundredth (what the API rounds to zero) do not move.
func relativeMove(before, now float64) float64 {
	top := math.Max(before, now)
	if top < 0.01 {
		return 0
	}
	return math.Abs(now-before) / top
}

// String is the delta as a table cell: the change, and what moved.
func (d *Delta) String() string {
	if d == nil {
		return "-"
	}
	var b strings.Builder
	b.WriteString(string(d.Change))
	if d.Change != ChangeChanged {
		return b.String()
	}
	var parts []string
	if p := d.Rate; p != nil && p[0] != p[1] {
		parts = append(parts, "rate "+rate(p[0])+"→"+rate(p[1]))
	}
	if p := d.ErrorShare; p != nil && p[0] != p[1] {
		parts = append(parts, "err "+percent(p[0])+"→"+percent(p[1])+"%")
	}
	if p := d.ResponseTime; p != nil && p[0] != p[1] {
		parts = append(parts, "rt "+rate(p[0])+"→"+rate(p[1])+"ms")
	}
	if len(parts) > 0 {
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	return b.String()
}
