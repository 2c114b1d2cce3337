package graph

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestObjectsEncodeAsEncodingJSONMaps(t *testing.T) {
	hostile := []string{"b", "a", `q"uote`, "<script>&", "\u2028line", "tab\t", "é", ""}
	var o object
	m := map[string]string{}
	for i, k := range hostile {
		v := hostile[len(hostile)-1-i]
		o.put(k, v)
		m[k] = v
	}
	want, _ := json.Marshal(struct {
		Rates     map[string]string     `json:"rates"`
		Responses map[string]cyResponse `json:"responses,omitempty"`
	}{Rates: m})
	got, err := cytoscapeJSON.Marshal(cyEdgeTraffic{Rates: o})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), string(want[1:len(want)-1])) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	empty, _ := cytoscapeJSON.Marshal(cyEdgeTraffic{Protocol: "http"})
	if string(empty) != `{"protocol":"http","rates":{}}` {
		t.Errorf("an edge without rates: %s", empty)
	}
	withResponses, _ := cytoscapeJSON.Marshal(cyEdgeTraffic{Protocol: "http", Responses: cyResponses{
		{code: "500", Flags: object{{"-", "10.0"}}, Hosts: object{{"x<y", "10.0"}}},
		{code: "200", Flags: object{{"UH", "0.5"}, {"-", "89.5"}}},
	}})
	if want := `{"protocol":"http","rates":{},"responses":{"200":{"flags":{"-":"89.5","UH":"0.5"},"hosts":{}},"500":{"flags":{"-":"10.0"},"hosts":{"x\u003cy":"10.0"}}}}`; string(withResponses) != want {
		t.Errorf("got  %s\nwant %s", withResponses, want)
	}
}
