package promclient

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

func TestDecodeAnswer(t *testing.T) {
	cases := []struct {
		name       string
		body       string
		wantType   string
		want       Vector
		wantStatus string
		wantErr    bool
	}{
		{
			name:     "a vector, labels sorted and unescaped",
			body:     `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"z":"1","a":"q\"uo\\te\u00e9\n"},"value":[1700000000.5,"2.5"]},{"metric":{},"value":[1700000000,"NaN"]}]}}`,
			wantType: "vector", wantStatus: "success",
			want: Vector{{Metric: labels.FromStrings("a", "q\"uo\\teé\n", "z", "1"), Value: 2.5}, {Metric: labels.EmptyLabels(), Value: math.NaN()}},
		},
		{
			name:     "result before resultType, unknown fields skipped",
			body:     `{"data":{"result":[{"metric":{"a":"b"},"value":[1,"+Inf"],"extra":{"x":[1,2]}}],"resultType":"vector"},"status":"success","warnings":["w"]}`,
			wantType: "vector", wantStatus: "success",
			want: Vector{{Metric: labels.FromStrings("a", "b"), Value: math.Inf(1)}},
		},
		{
			name:     "a scalar is no vector",
			body:     `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}}`,
			wantType: "scalar", wantStatus: "success",
		},
		{
			name:     "a matrix is no vector",
			body:     `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"2"]]}]}}`,
			wantType: "matrix", wantStatus: "success",
		},
		{
			name:       "an error",
			body:       `{"status":"error","errorType":"bad_data","error":"parse error"}`,
			wantStatus: "error",
		},
		{name: "not JSON", body: `<html>502 Bad Gateway</html>`, wantErr: true},
		{name: "cut short", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"val`, wantErr: true},
		{name: "a value that is no number", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"many"]}]}}`, wantErr: true},
		{name: "a value that is no pair", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}}`, wantErr: true},
		{name: "a sample that is no object", body: `{"status":"success","data":{"resultType":"vector","result":[[1,"2"]]}}`, wantErr: true},
		{name: "labels that are no object", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":["a"],"value":[1,"2"]}]}}`, wantErr: true},
		{name: "a label value with a raw control character", body: "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"a\":\"b\x01\"},\"value\":[1,\"2\"]}]}}", wantErr: true},
		{
			name: "labels laid out with spaces and lines, values repeated across series and escaped in one",
			body: `{"status":"success","data":{"resultType":"vector","result":[
  { "metric" : { "job" : "x" , "ns" : "a" } , "value" : [ 1 , "1" ] },
  {"metric":{"job":"x","ns":"b"},"value":[1,"2"]},
  {"metric":{"job":"x\u0041","ns":"a"},"value":[1,"3"]},
  {"metric":{ },"value":[1,"4"]}]}}`,
			wantType: "vector", wantStatus: "success",
			want: Vector{
				{Metric: labels.FromStrings("job", "x", "ns", "a"), Value: 1},
				{Metric: labels.FromStrings("job", "x", "ns", "b"), Value: 2},
				{Metric: labels.FromStrings("job", "xA", "ns", "a"), Value: 3},
				{Metric: labels.EmptyLabels(), Value: 4},
			},
		},
		{name: "a label value that is no string", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"2"]}]}}`, wantErr: true},
		{
			name:     "a sample without labels has none; one without a value (a native histogram) is NaN",
			body:     `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"3"]},{"metric":{"a":"b"},"histogram":[1,{"count":"2"}]}]}}`,
			wantType: "vector", wantStatus: "success",
			want: Vector{{Metric: labels.EmptyLabels(), Value: 3}, {Metric: labels.FromStrings("a", "b"), Value: math.NaN()}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := decodeAnswer(strings.NewReader(tc.body))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error, decoded %+v", a)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.status != tc.wantStatus || a.resultType != tc.wantType {
				t.Errorf("status %q type %q", a.status, a.resultType)
			}
			if tc.wantType != "vector" {
				if len(a.vector) != 0 {
					t.Errorf("a %s decoded as the vector %v", tc.wantType, a.vector)
				}
				return
			}
			if len(a.vector) != len(tc.want) {
				t.Fatalf("got %v, want %v", a.vector, tc.want)
			}
			for i, s := range a.vector {
				w := tc.want[i]
				sameValue := s.Value == w.Value || (math.IsNaN(s.Value) && math.IsNaN(w.Value))
				if !labels.Equal(s.Metric, w.Metric) || !sameValue {
					t.Errorf("sample %d: got %v %v, want %v %v", i, s.Metric, s.Value, w.Metric, w.Value)
				}
			}
		})
	}
	t.Run("the error type and text are kept", func(t *testing.T) {
		a, _ := decodeAnswer(strings.NewReader(cases[4].body))
		if a.errorType != "bad_data" || a.errorText != "parse error" {
			t.Errorf("%+v", a)
		}
	})
}

// graphAnswer is an answer like a graph's requests query at 1,000
// workloads: n series of 21 labels, sorted as Prometheus writes them.
func graphAnswer(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"status":"success","data":{"resultType":"vector","result":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metric":{"connection_security_policy":"mutual_tls","destination_canonical_revision":"v1","destination_canonical_service":"svc-%[3]d","destination_cluster":"Kubernetes","destination_principal":"spiffe://cluster.local/ns/mesh-%02[1]d/sa/svc-%[3]d","destination_service":"svc-%[3]d.mesh-%02[1]d.svc.cluster.local","destination_service_name":"svc-%[3]d","destination_service_namespace":"mesh-%02[1]d","destination_workload":"svc-%[3]d-v1","destination_workload_namespace":"mesh-%02[1]d","grpc_response_status":"","reporter":"destination","request_protocol":"http","response_code":"200","response_flags":"-","source_canonical_revision":"v1","source_canonical_service":"svc-%[2]d","source_cluster":"Kubernetes","source_principal":"spiffe://cluster.local/ns/mesh-%02[1]d/sa/svc-%[2]d","source_workload":"svc-%[2]d-v1","source_workload_namespace":"mesh-%02[1]d"},"value":[1700000000.123,"%[4]g"]}`,
			i%20, i, i+1, float64(i)/7)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

func BenchmarkDecodeAnswer(b *testing.B) {
	body := graphAnswer(2600)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		a, err := decodeAnswer(bytes.NewReader(body))
		if err != nil || len(a.vector) != 2600 {
			b.Fatal(err, len(a.vector))
		}
	}
}

func TestDecodeAnswerReadsTheSamplesAQueryReadWhenTheServerSaysThem(t *testing.T) {
	withStats := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}],` +
		`"stats":{"timings":{"evalTotalTime":0.01},"samples":{"totalQueryableSamples":4321,"peakSamples":12}}}}`
	a, err := decodeAnswer(strings.NewReader(withStats))
	if err != nil || a.samples != 4321 || len(a.vector) != 1 || a.vector[0].Value != 2 {
		t.Errorf("with stats: %+v %v, want 4321 samples and the vector", a, err)
	}
	a, err = decodeAnswer(strings.NewReader(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	if err != nil || a.samples != 0 {
		t.Errorf("without stats: %+v %v", a, err)
	}
}
