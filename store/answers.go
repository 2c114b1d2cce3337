package store

import (
	"net/http"
	"sync"

	jsoniter "github.com/json-iterator/go"
	"github.com/klauspost/compress/gzhttp"
	v1 "github.com/prometheus/prometheus/web/api/v1"
)

// answerBuffers lends the API's JSON encoder the buffer an answer is
// written into, and takes it back once the answer has been written.
// Prometheus's own codec copies every answer out of its encoder's buffer
// into a new slice: a console's graph at thousands of workloads is tens of
// megabytes of answers, and on a store that holds millions of series every
// allocated byte brings its next garbage collection closer, during which
// every query runs slower.
type answerBuffers struct {
	pool sync.Pool // of *[]byte
	// lent are the buffers of answers encoded and not yet written, by
	// their first byte.
	lent sync.Map
}

// maxKeptAnswer is the largest buffer kept for the next answer: a rare
// huge answer's is left to the garbage collector.
const maxKeptAnswer = 64 << 20

// codec is Prometheus's JSON codec (the same encoders, the same bytes)
// writing into the lent buffers.
func (a *answerBuffers) codec() v1.Codec { return lendingCodec{a: a} }

type lendingCodec struct {
	v1.JSONCodec
	a *answerBuffers
}

func (c lendingCodec) Encode(resp *v1.Response) ([]byte, error) {
	buf := c.a.get()
	json := jsoniter.ConfigCompatibleWithStandardLibrary
	stream := json.BorrowStream(nil)
	stream.SetBuffer(buf)
	stream.WriteVal(resp)
	b, err := stream.Buffer(), stream.Error
	stream.SetBuffer(nil) // the stream goes back to jsoniter's pool, the buffer not
	json.ReturnStream(stream)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && cap(b) <= maxKeptAnswer {
		c.a.lent.Store(&b[0], struct{}{})
	}
	return b, nil
}

func (a *answerBuffers) get() []byte {
	if p, ok := a.pool.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 64<<10)
}

// giveBack takes p back if it is a lent buffer: the API writes an answer
// with one Write of the encoded bytes and does not touch them after.
func (a *answerBuffers) giveBack(p []byte) {
	if len(p) == 0 {
		return
	}
	if _, ok := a.lent.LoadAndDelete(&p[0]); ok {
		p = p[:0]
		a.pool.Put(&p)
	}
}

// handler serves the API next, taking the buffers of its answers back as
// they are written. It compresses the answers itself, for the clients that
// ask so, and hides the asking from next: Prometheus's API would compress
// them beneath, and a lent buffer written into a compressor never reaches
// returningWriter to be given back.
func (a *answerBuffers) handler(next http.Handler) http.Handler {
	return gzhttp.GzipHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "" {
			r = r.Clone(r.Context())
			r.Header.Del("Accept-Encoding")
		}
		next.ServeHTTP(&returningWriter{ResponseWriter: w, a: a}, r)
	}))
}

// returningWriter gives back the lent buffers written through it.
type returningWriter struct {
	http.ResponseWriter
	a *answerBuffers
}

func (w *returningWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.a.giveBack(p)
	return n, err
}

// Flush keeps the answers that stream (remote read) streaming.
func (w *returningWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *returningWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
