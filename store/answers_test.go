package store

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	v1 "github.com/prometheus/prometheus/web/api/v1"
)

func TestLentAnswersAreTheBytesPrometheusWritesAndTheirBufferServesTheNext(t *testing.T) {
	resp := &v1.Response{Status: "success", Data: &v1.QueryData{
		ResultType: parser.ValueTypeVector,
		Result: promql.Vector{
			{Metric: labels.FromStrings("a", `q"u\o<&>`, "b", "é"), F: 1.5, T: 1000},
			{Metric: labels.FromStrings("a", "x"), F: math.Inf(1), T: 2000},
		},
	}}
	want, err := v1.JSONCodec{}.Encode(resp)
	if err != nil {
		t.Fatal(err)
	}
	var a answerBuffers
	got, err := a.codec().Encode(resp)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("lent codec wrote %s (%v), Prometheus's %s", got, err, want)
	}
	// sync.Pool may drop what it is given (at a garbage collection, or at
	// random under the race detector): a buffer given back serves one of
	// the next answers.
	reused := false
	for range 20 {
		first := &got[0]
		a.giveBack(got)
		if got, err = a.codec().Encode(resp); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("answer %s (%v) after a buffer was given back", got, err)
		}
		if &got[0] == first {
			reused = true
			break
		}
	}
	if !reused {
		t.Error("no buffer given back was used again")
	}
	foreign := []byte("not lent")
	a.giveBack(foreign)
	for range 5 {
		b, _ := a.codec().Encode(resp)
		if &b[0] == &foreign[0] {
			t.Fatal("a buffer that was not lent was taken for an answer")
		}
	}
}

// getBody asks the store with Accept-Encoding as given (none when empty)
// and returns the answer, decompressed, with its Content-Encoding.
func getBody(t *testing.T, base, query, encoding string) (string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/query?"+url.Values{"query": {query}, "time": {"1700000000"}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if body, err = gzip.NewReader(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s %v", resp.StatusCode, b, err)
	}
	return string(b), resp.Header.Get("Content-Encoding")
}

func TestStoreAnswersEveryClientItsOwnAnswerAndGivesEveryBufferBack(t *testing.T) {
	s, base := openStore(t, scrapeConfig(), Options{})
	long := strings.Repeat("<&>", 1000) // enough to be worth compressing
	query := fmt.Sprintf(`label_replace(vector(7), "a", %q, "", "")`, long)
	plain, enc := getBody(t, base, query, "")
	if enc != "" || !strings.Contains(plain, `"value":[1700000000,"7"]`) || !strings.Contains(plain, `"a":"<&><&>`) {
		t.Fatalf("plain answer (encoding %q): %.200s", enc, plain)
	}
	zipped, enc := getBody(t, base, query, "gzip")
	if enc != "gzip" || zipped != plain {
		t.Errorf("gzip answer (encoding %q) differs from the plain one:\n%.200s\n%.200s", enc, zipped, plain)
	}
	if deflated, _ := getBody(t, base, query, "deflate"); deflated != plain {
		t.Errorf("answer to a client asking for deflate: %.200s", deflated)
	}
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				v := c*100 + i
				enc := []string{"", "gzip"}[i%2]
				got, _ := getBody(t, base, fmt.Sprintf(`label_replace(vector(%d), "a", %q, "", "")`, v, long), enc)
				if !strings.Contains(got, fmt.Sprintf(`"value":[1700000000,"%d"]`, v)) {
					t.Errorf("asked for %d, got %.120s", v, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	lent := 0
	s.answers.lent.Range(func(any, any) bool { lent++; return true })
	if lent != 0 {
		t.Errorf("%d answer buffers still lent after every answer was written", lent)
	}
}
