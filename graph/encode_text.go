package graph

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshlens/meshlens/telemetry"
)

// Label names a node for people: "reviews v2", "details-v1", "ratings".
func (n *Node) Label() string {
	switch n.Kind {
	case KindUnknown:
		return "unknown"
	case KindService:
		return n.Service
	case KindApp:
		if n.Version != "" {
			return n.App + " " + n.Version
		}
		return n.App
	case KindBox:
		switch n.Box {
		case "app":
			return n.App
		case "namespace":
			return n.Namespace
		}
		return n.Cluster
	}
	return n.Workload
}

// qualified is the label with the namespace, for lists that mix namespaces.
func (n *Node) qualified() string {
	if n.Kind == KindUnknown || n.Kind == KindBox {
		return n.Label()
	}
	return n.Label() + " (" + n.Namespace + ")"
}

// summary is an edge's traffic in a few words: "http 1.00/s 0.0% err p95 12.30ms mTLS".
func (e *Edge) summary() string {
	var parts []string
	switch e.Protocol {
	case telemetry.ProtocolTCP:
		parts = append(parts, fmt.Sprintf("tcp %s B/s", rate(e.Rates.TCP)))
	default:
		total, errs := e.totals()
		parts = append(parts, fmt.Sprintf("%s %s/s", e.Protocol, rate(total)))
		if total > 0 {
			parts = append(parts, percent(100*errs/total)+"% err")
		}
	}
	if e.HasResponseTime {
		parts = append(parts, rate(e.ResponseTime)+"ms")
	}
	if e.HasMTLS && e.MTLS > 0 {
		parts = append(parts, "mTLS")
	}
	return strings.Join(parts, " ")
}

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// walkBoxes visits the nodes in order, each box's nodes between open and
// shut of that box, nested as the boxes are; indent grows by two spaces a
// level.
func (g *Graph) walkBoxes(indent string, open func(box *Node, indent string), shut func(indent string), node func(n *Node, indent string)) {
	children := map[string][]*Node{}
	for _, n := range g.Nodes() {
		children[n.Parent] = append(children[n.Parent], n)
	}
	var walk func(parent, indent string)
	walk = func(parent, indent string) {
		for _, n := range children[parent] {
			if n.Kind != KindBox {
				node(n, indent)
				continue
			}
			open(n, indent)
			walk(n.ID, indent+"  ")
			shut(indent)
		}
	}
	walk("", indent)
}

// WriteDOT writes the graph in Graphviz's DOT language, boxes as clusters.
func (g *Graph) WriteDOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph mesh {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n")
	g.walkBoxes("  ", func(box *Node, indent string) {
		fmt.Fprintf(&b, "%ssubgraph %s {\n%s  label=%s;\n", indent, dotQuote("cluster_"+box.ID), indent, dotQuote(box.Box+": "+box.Label()))
	}, func(indent string) {
		fmt.Fprintf(&b, "%s}\n", indent)
	}, func(n *Node, indent string) {
		attrs := "label=" + dotQuote(n.Label()+"\n"+n.Namespace)
		switch {
		case n.Kind == KindService:
			attrs += ", shape=triangle"
		case n.Kind == KindUnknown:
			attrs += ", shape=ellipse"
		}
		switch {
		case n.IsIdle:
			attrs += ", style=\"rounded,dotted\""
		case n.IsServiceEntry != nil:
			attrs += ", style=\"rounded,dashed\""
		}
		fmt.Fprintf(&b, "%s%s [%s];\n", indent, dotQuote(n.ID), attrs)
	})
	for _, e := range g.Edges() {
		fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", dotQuote(e.Source.ID), dotQuote(e.Dest.ID), dotQuote(e.summary()))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", "<br/>", "<", "#lt;", ">", "#gt;").Replace(s)
}

// WriteMermaid writes the graph as a Mermaid flowchart, boxes as subgraphs.
func (g *Graph) WriteMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	g.walkBoxes("  ", func(box *Node, indent string) {
		fmt.Fprintf(&b, "%ssubgraph b%s[\"%s\"]\n", indent, box.ID, mermaidText(box.Box+": "+box.Label()))
	}, func(indent string) {
		fmt.Fprintf(&b, "%send\n", indent)
	}, func(n *Node, indent string) {
		open, closing := "[\"", "\"]"
		switch n.Kind {
		case KindService:
			open, closing = "{{\"", "\"}}"
		case KindUnknown:
			open, closing = "((\"", "\"))"
		}
		fmt.Fprintf(&b, "%sn%s%s%s%s\n", indent, n.ID, open, mermaidText(n.Label()+"\n"+n.Namespace), closing)
	})
	for _, e := range g.Edges() {
		fmt.Fprintf(&b, "  n%s -->|\"%s\"| n%s\n", e.Source.ID, mermaidText(e.summary()), e.Dest.ID)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTable writes one line per edge: who calls whom, how much, how many
// errors, how fast, encrypted or not.
func (g *Graph) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	compared := !g.ComparedTo.IsZero()
	head := "SOURCE\tDESTINATION\tPROTOCOL\tRATE\tERROR %\tRESPONSE TIME ms\tMTLS %"
	if compared {
		head += "\tSINCE " + g.ComparedTo.UTC().Format(time.RFC3339)
	}
	fmt.Fprintln(tw, head)
	for _, e := range g.Edges() {
		total, errs := e.totals()
		unit := "/s"
		if e.Protocol == telemetry.ProtocolTCP {
			unit = " B/s"
		}
		errPct, rt, mtls := "-", "-", "-"
		if e.Protocol != telemetry.ProtocolTCP && total > 0 {
			errPct = percent(100 * errs / total)
		}
		if e.HasResponseTime {
			rt = rate(e.ResponseTime)
		}
		if e.HasMTLS {
			mtls = percent(e.MTLS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s%s\t%s\t%s\t%s", e.Source.qualified(), e.Dest.qualified(), e.Protocol, rate(total), unit, errPct, rt, mtls)
		if compared {
			fmt.Fprintf(tw, "\t%s", e.Compare)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// totals is the edge's rate in its protocol (requests, or bytes for TCP) and
// the part of it that failed (4xx, 5xx, gRPC errors, no response).
func (e *Edge) totals() (total, errs float64) {
	switch e.Protocol {
	case telemetry.ProtocolTCP:
		return e.Rates.TCP, 0
	case telemetry.ProtocolGRPC:
		return e.Rates.GRPC, e.Rates.GRPCErr + e.Rates.GRPCNoResponse
	}
	return e.Rates.HTTP, e.Rates.HTTP4xx + e.Rates.HTTP5xx + e.Rates.HTTPNoResponse
}
