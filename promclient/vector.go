package promclient

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/prometheus/model/labels"
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
func decodeAnswer(body io.Reader) (answer, error) {
	var a answer
	it := jsoniter.Parse(jsoniter.ConfigFastest, body, 64<<10)
	for field := it.ReadObject(); field != ""; field = it.ReadObject() {
		switch field {
		case "status":
			a.status = it.ReadString()
		case "errorType":
			a.errorType = it.ReadString()
		case "error":
			a.errorText = it.ReadString()
		case "data":
			decodeData(it, &a)
		default:
			it.Skip()
		}
	}
	if it.Error != nil {
		// io.EOF included: the answer was cut short.
		return a, it.Error
	}
	return a, nil
}

func decodeData(it *jsoniter.Iterator, a *answer) {
	for field := it.ReadObject(); field != ""; field = it.ReadObject() {
		switch field {
		case "resultType":
			a.resultType = it.ReadString()
		case "result":
			if it.WhatIsNext() != jsoniter.ArrayValue || (a.resultType != "" && a.resultType != "vector") {
				it.Skip()
				continue
			}
			// Not the zero ScratchBuilder: built with -tags dedupelabels, a
			// builder needs the symbol table NewScratchBuilder gives it.
			b := labels.NewScratchBuilder(0)
			for it.ReadArray() {
				if next := it.WhatIsNext(); next != jsoniter.ObjectValue {
					it.ReportError("sample", fmt.Sprintf("want an object, got a JSON value of type %d", next))
					return
				}
				a.vector = append(a.vector, decodeSample(it, &b))
			}
		case "stats":
			for field := it.ReadObject(); field != ""; field = it.ReadObject() {
				if field != "samples" {
					it.Skip()
					continue
				}
				for field := it.ReadObject(); field != ""; field = it.ReadObject() {
					if field == "totalQueryableSamples" {
						a.samples = it.ReadInt64()
						continue
					}
					it.Skip()
				}
			}
		default:
			it.Skip()
		}
	}
}

// decodeSample reads {"metric": {...}, "value": [<unix seconds>,
// "<value>"]}. A sample without "metric" has no labels; one without
// "value" (a native histogram's has "histogram") is NaN, which no graph
// counts.
func decodeSample(it *jsoniter.Iterator, b *labels.ScratchBuilder) Sample {
	s := Sample{Metric: labels.EmptyLabels(), Value: math.NaN()}
	for field := it.ReadObject(); field != ""; field = it.ReadObject() {
		switch field {
		case "metric":
			if next := it.WhatIsNext(); next != jsoniter.ObjectValue {
				it.ReportError("sample metric", fmt.Sprintf("want an object, got a JSON value of type %d", next))
				return s
			}
			b.Reset()
			for name := it.ReadObject(); name != ""; name = it.ReadObject() {
				b.Add(name, it.ReadString())
			}
			b.Sort()
			s.Metric = b.Labels()
		case "value":
			// [<unix seconds>, "<value>"]
			if !it.ReadArray() {
				it.ReportError("sample value", "want [time, value], got []")
				return s
			}
			it.Skip()
			if !it.ReadArray() {
				it.ReportError("sample value", "want [time, value], got [time]")
				return s
			}
			v := it.ReadString()
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				it.ReportError("sample value", fmt.Sprintf("%q is not a number", Cut(v)))
			}
			s.Value = f
			for it.ReadArray() {
				it.Skip()
			}
		default:
			it.Skip()
		}
	}
	return s
}

// maxEcho is how much of a bad value an error repeats.
const maxEcho = 64

// Cut is s as an error message repeats it: whole when short, else its
// start and its length, so that a 100 KB value is not echoed back.
func Cut(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	end := maxEcho
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:end], len(s))
}
