package promclient

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/valyala/fastjson"
)

// Sample is one series of an instant vector: its labels and value at the
// query's time. Labels are Prometheus's own packed type, so that a vector
// from the engine in the same process needs no copying, and one decoded
// from JSON costs one allocation per series for all its labels.
type Sample struct {
	Metric labels.Labels `json:"metric"`
	Value  float64       `json:"value"`
}

// Vector is the answer to an instant query.
type Vector []Sample

// answer is what /api/v1/query says, read in one pass.
type answer struct {
	status, errorType, errorText string
	resultType                   string
	vector                       Vector
	// samples is the query's totalQueryableSamples, when asked with
	// stats=all and the server says it.
	samples int64
}

// decodeAnswer reads a /api/v1/query answer. A result that is not a vector
// leaves vector empty and says so in resultType.
//
// The answer is read whole and parsed by fastjson, whose values point into
// its own copy of the body: label names and values reach the labels'
// builder without a string of their own each. A large graph's answers are
// tens of megabytes of labels, and a string per name and value was most of
// their decoding time and garbage.
func decodeAnswer(body io.Reader) (answer, error) {
	var a answer
	d := takeDecoder()
	defer d.release()
	d.body.Reset()
	if _, err := d.body.ReadFrom(body); err != nil {
		return a, err
	}
	v, err := d.parser.ParseBytes(d.body.Bytes())
	if err != nil {
		return a, err
	}
	a.status = string(v.GetStringBytes("status"))
	a.errorType = string(v.GetStringBytes("errorType"))
	a.errorText = string(v.GetStringBytes("error"))
	data := v.Get("data")
	if data == nil {
		return a, nil
	}
	a.resultType = string(data.GetStringBytes("resultType"))
	a.samples = data.GetInt64("stats", "samples", "totalQueryableSamples")
	result := data.Get("result")
	if a.resultType != "vector" || result == nil || result.Type() != fastjson.TypeArray {
		return a, nil
	}
	items := result.GetArray()
	a.vector = make(Vector, 0, len(items))
	var b labels.ScratchBuilder
	for _, item := range items {
		s, err := decodeSample(item, &b)
		if err != nil {
			return a, err
		}
		a.vector = append(a.vector, s)
	}
	return a, nil
}

// decoder is a body's buffer and a parser, both grown to the largest
// answer they read. A few are kept for the next answers: a sync.Pool
// would drop them at every garbage collection, several a large graph, and
// each answer would grow its buffers again from nothing, copying them
// over and over. What stays is at most keptDecoders of the largest
// answers' size, and none of an answer over maxKeptBody: an odd huge
// answer is not held for good.
type decoder struct {
	body   bytes.Buffer
	parser fastjson.Parser
}

// keptDecoders is as many as a graph's queries run at once.
const keptDecoders = 4

// maxKeptBody is the largest body a kept decoder has read: a graph of
// 5,000 workloads' answers are about 10 MiB each.
const maxKeptBody = 32 << 20

var decoders = make(chan *decoder, keptDecoders)

func takeDecoder() *decoder {
	select {
	case d := <-decoders:
		return d
	default:
		return &decoder{}
	}
}

func (d *decoder) release() {
	if d.body.Cap() > maxKeptBody {
		return
	}
	select {
	case decoders <- d:
	default:
	}
}

// decodeSample reads {"metric": {...}, "value": [<unix seconds>, "<value>"]}.
//
// A sample without "metric" has no labels; one without "value" (a native
// histogram's has "histogram") is NaN, which no graph counts.
func decodeSample(item *fastjson.Value, b *labels.ScratchBuilder) (Sample, error) {
	s := Sample{Metric: labels.EmptyLabels(), Value: math.NaN()}
	if item.Type() != fastjson.TypeObject {
		return s, fmt.Errorf("sample: want an object, got %s", item.Type())
	}
	if m := item.Get("metric"); m != nil {
		if err := decodeMetric(m, b); err != nil {
			return s, err
		}
		s.Metric = b.Labels()
	}
	pair := item.Get("value")
	if pair == nil {
		return s, nil
	}
	elems, err := pair.Array()
	if err != nil || len(elems) != 2 {
		return s, fmt.Errorf("sample value: want [time, \"value\"], got %s", cut(pair.String()))
	}
	text, err := elems[1].StringBytes()
	if err != nil {
		return s, fmt.Errorf("sample value: %w", err)
	}
	if s.Value, err = strconv.ParseFloat(unsafeString(text), 64); err != nil {
		return s, fmt.Errorf("sample value: %q is not a number", cut(string(text)))
	}
	return s, nil
}

// decodeMetric reads a series' labels into b.
func decodeMetric(m *fastjson.Value, b *labels.ScratchBuilder) error {
	metric, err := m.Object()
	if err != nil {
		return fmt.Errorf("sample metric: %w", err)
	}
	b.Reset()
	var bad error
	// Prometheus writes a series' labels sorted: sorting them again is
	// needed only when a store did not.
	sorted, last := true, ""
	metric.Visit(func(name []byte, v *fastjson.Value) {
		value, err := v.StringBytes()
		if err != nil {
			bad = fmt.Errorf("label %q: %w", cut(string(name)), err)
			return
		}
		// Strings over the parser's memory, copied by Labels below
		// before the parser is used again.
		n := unsafeString(name)
		sorted = sorted && n > last
		last = n
		b.Add(n, unsafeString(value))
	})
	if bad != nil {
		return bad
	}
	if !sorted {
		b.Sort()
	}
	return nil
}

// cut is s, at most 64 bytes of it: an answer's bad part is quoted, not
// copied whole into an error.
func cut(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
