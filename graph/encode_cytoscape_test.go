package graph

import (
	"encoding/json"
	"testing"
)

// hostile are names a mesh may carry that JSON must escape, HTML-escaped
// as encoding/json does.
var hostile = []string{"b", "a", "del\x7f", "~", `q"uote`, `back\slash`, "<script>&", "\u2028line\u2029", "tab\t", "nl\n", "\x01", "é", "\xff invalid", ""}

func TestEdgesAreWrittenAsEncodingJSONWritesTheirMaps(t *testing.T) {
	src := &Node{ID: "a<", Out: Rates{HTTP: 20}}
	e := &Edge{ID: "e", Source: src, Dest: &Node{ID: "b"}, Protocol: "http", Rates: Rates{HTTP: 10, HTTP5xx: 1}}
	// Codes and hosts out of order, flags and hosts hostile.
	e.Responses = Responses{
		{Code: "500", Flags: Shares{{"-", 1}}, Hosts: Shares{{"x<y", 1}}},
		{Code: "200", Flags: Shares{{"UH", 0.05}, {"-", 8.95}}, Hosts: Shares{{"z", 4}, {"a\u2028", 5}}},
	}
	for i, h := range hostile {
		e.Responses[1].Flags = append(e.Responses[1].Flags, Share{h + "!", float64(i) / 100})
	}
	flags200 := map[string]string{"UH": "0.5", "-": "89.5"}
	for i, h := range hostile {
		flags200[h+"!"] = percent(float64(i) / 10)
	}
	want, _ := json.Marshal(map[string]any{"data": map[string]any{
		"id": "e", "source": "a<", "target": "b",
		"traffic": map[string]any{
			"protocol": "http",
			"rates":    map[string]string{"http": "10.00", "http5xx": "1.00", "httpPercentErr": "10.0", "httpPercentReq": "50.0"},
			"responses": map[string]any{
				"200": map[string]map[string]string{"flags": flags200, "hosts": {"z": "40.0", "a\u2028": "50.0"}},
				"500": map[string]map[string]string{"flags": {"-": "10.0"}, "hosts": {"x<y": "10.0"}},
			},
		},
	}})
	var w cyWriter
	w.edge(e)
	if string(w.b) != string(want) {
		t.Errorf("got  %s\nwant %s", w.b, want)
	}

	idle := &Edge{ID: "i", Source: &Node{ID: "a"}, Dest: &Node{ID: "b"}, Protocol: "tcp"}
	w = cyWriter{}
	w.edge(idle)
	if want := `{"data":{"id":"i","source":"a","target":"b","traffic":{"protocol":"tcp","rates":{"tcp":"0.00"}}}}`; string(w.b) != want {
		t.Errorf("an edge without traffic: got %s, want %s", w.b, want)
	}
}

// FuzzStringsAreWrittenAsEncodingJSONWritesThem runs its seeds with go
// test, and searches for more with -fuzz.
func FuzzStringsAreWrittenAsEncodingJSONWritesThem(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var w cyWriter
		w.str(s)
		want, _ := json.Marshal(s)
		if string(w.b) != string(want) {
			t.Errorf("%q: got %s, want %s", s, w.b, want)
		}
	})
}
