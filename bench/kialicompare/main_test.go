package main

import (
	"reflect"
	"testing"

	"github.com/meshlens/meshlens/graph"
	"github.com/meshlens/meshlens/graph/graphtest"
)

func TestKialisAnswerIsExpectedInWholeNumbersWithoutAZeroMTLSShare(t *testing.T) {
	want := graphtest.EdgeValues{"a -> b http": {"http": 0.625, "rt": 77.5, "tp": 2.5, "mtls": 0}}
	got := asKialiWrites(want)
	// %.0f rounds half to even: 77.5 to 78, 2.5 to 2; rates stay as they are.
	if w := (graphtest.EdgeValues{"a -> b http": {"http": 0.625, "rt": 78, "tp": 2}}); !reflect.DeepEqual(got, w) {
		t.Errorf("got %v, want %v", got, w)
	}
	if want["a -> b http"]["rt"] != 77.5 {
		t.Error("the case's own answer was changed")
	}
}

func TestANodeGraphCaseAsksKialisNodeGraphRoute(t *testing.T) {
	c := graphtest.Case{Options: graph.Options{Focus: &graph.Focus{Namespace: "bookinfo", Kind: "workloads", Name: "reviews-v2"}}}
	path, q := request(c, graphtest.Case{}.GraphOptions().QueryTime)
	if path != "/api/namespaces/bookinfo/workloads/reviews-v2/graph" || q.Has("namespaces") || q.Get("injectServiceNodes") != "false" {
		t.Errorf("path %s, parameters %v", path, q)
	}
}
