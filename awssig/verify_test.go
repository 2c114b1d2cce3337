package awssig

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	suiteKey    = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

var suiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

type vector struct {
	name, request, authorization string
}

// vectors reads testdata/vectors.txt.
func vectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []vector
	for _, block := range strings.Split(string(b), "\n== ")[1:] {
		name, rest, _ := strings.Cut(block, "\n")
		req, auth, ok := strings.Cut(rest, "\n-> ")
		if !ok {
			t.Fatalf("case %s has no -> line", name)
		}
		out = append(out, vector{name, req + "\n", strings.TrimSpace(auth)})
	}
	if len(out) < 5 {
		t.Fatalf("read %d cases", len(out))
	}
	return out
}

func (v vector) parse(t *testing.T) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.ReplaceAll(v.request, "\n", "\r\n"))))
	if err != nil {
		t.Fatalf("%s: %v", v.name, err)
	}
	return r
}

func suiteVerifier() *Verifier {
	return &Verifier{Service: "service", Region: "us-east-1", Secrets: map[string]string{suiteKey: suiteSecret}, Now: func() time.Time { return suiteTime }}
}

func TestVerifierAcceptsTheSuitesPublishedSignatures(t *testing.T) {
	for _, c := range vectors(t) {
		r := c.parse(t)
		r.Header.Set("Authorization", c.authorization)
		if err := suiteVerifier().Verify(r); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// sdkSign signs r as the AWS SDK does (the signer behind prometheus/sigv4).
func sdkSign(t *testing.T, r *http.Request, body []byte, secret, service, region string, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: suiteKey, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatal(err)
	}
}

func TestTheSDKSignerSignsAsTheSuite(t *testing.T) {
	for _, c := range vectors(t) {
		r := c.parse(t)
		body, _ := io.ReadAll(r.Body)
		if len(body) > 0 {
			// The SDK signs Content-Length as well when there is a body,
			// which the suite's signature leaves out.
			continue
		}
		r.URL.Scheme, r.URL.Host = "https", r.Host
		sdkSign(t, r, body, suiteSecret, "service", "us-east-1", suiteTime)
		if got := r.Header.Get("Authorization"); got != c.authorization {
			t.Errorf("%s: the SDK signed\n%s\nthe suite publishes\n%s", c.name, got, c.authorization)
		}
	}
}

func TestVerifierAcceptsWhatTheSDKSigns(t *testing.T) {
	// A body (Content-Length signed) and a path that needs escaping (AWS's
	// services sign it escaped twice).
	for _, path := range []string{"/workspaces/ws-1/api/v1/remote_write", "/example space/ሴ", "/api/v1/query?query=sum(rate(x[5m]))&time=1"} {
		body := []byte("Param1=value1")
		r := httptest.NewRequest(http.MethodPost, "https://aps-workspaces.us-west-2.amazonaws.com"+strings.ReplaceAll(path, " ", "%20"), strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/x-protobuf")
		sdkSign(t, r, body, suiteSecret, "aps", "us-west-2", suiteTime)
		v := &Verifier{Service: "aps", Region: "us-west-2", Secrets: map[string]string{suiteKey: suiteSecret}, Now: func() time.Time { return suiteTime.Add(time.Minute) }}
		if err := v.Verify(r); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if b, _ := io.ReadAll(r.Body); string(b) != string(body) {
			t.Errorf("%s: the body after verifying is %q", path, b)
		}
	}
}

func TestVerifierRefuses(t *testing.T) {
	signed := func(secret, service, region string, at time.Time, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1/api/v1/query", strings.NewReader(body))
		sdkSign(t, r, []byte(body), secret, service, region, at)
		return r
	}
	v := &Verifier{Service: "aps", Region: "us-west-2", Secrets: map[string]string{suiteKey: suiteSecret}, Now: func() time.Time { return suiteTime }}
	for _, c := range []struct {
		name, errType string
		r             *http.Request
	}{
		{"a wrong secret key", "InvalidSignatureException", signed("not-the-secret", "aps", "us-west-2", suiteTime, "query=up")},
		{"a request replayed after five minutes", "InvalidSignatureException", signed(suiteSecret, "aps", "us-west-2", suiteTime.Add(-5*time.Minute-time.Second), "query=up")},
		{"a date in the future", "InvalidSignatureException", signed(suiteSecret, "aps", "us-west-2", suiteTime.Add(6*time.Minute), "query=up")},
		{"another region", "InvalidSignatureException", signed(suiteSecret, "aps", "eu-west-1", suiteTime, "query=up")},
		{"another service", "InvalidSignatureException", signed(suiteSecret, "execute-api", "us-west-2", suiteTime, "query=up")},
		{"a body changed after signing", "InvalidSignatureException", func() *http.Request {
			r := signed(suiteSecret, "aps", "us-west-2", suiteTime, "query=up")
			r.Body = io.NopCloser(strings.NewReader("query=secrets"))
			return r
		}()},
		{"a query changed after signing", "InvalidSignatureException", func() *http.Request {
			r := signed(suiteSecret, "aps", "us-west-2", suiteTime, "")
			r.URL.RawQuery = "query=up"
			return r
		}()},
		{"an unknown access key", "UnrecognizedClientException", func() *http.Request {
			r := signed(suiteSecret, "aps", "us-west-2", suiteTime, "")
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), suiteKey, "AKIDOTHER", 1))
			return r
		}()},
		{"no signature", "MissingAuthenticationTokenException", httptest.NewRequest(http.MethodGet, "/api/v1/query", nil)},
		{"host not signed", "InvalidSignatureException", func() *http.Request {
			r := signed(suiteSecret, "aps", "us-west-2", suiteTime, "")
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=host;", "SignedHeaders=", 1))
			return r
		}()},
	} {
		err := v.Verify(c.r)
		var e *Error
		if !errors.As(err, &e) || e.Type != c.errType {
			t.Errorf("%s: got %v, want a %s", c.name, err, c.errType)
		}
	}
}

func TestMiddlewareAnswersAWSShaped403(t *testing.T) {
	served := 0
	var why []string
	h := suiteVerifier().Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }), func(e *Error) { why = append(why, e.Type) })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusForbidden || w.Header().Get("x-amzn-ErrorType") != "MissingAuthenticationTokenException" ||
		!strings.Contains(w.Body.String(), `"message":"Missing Authentication Token"`) || served != 0 || len(why) != 1 {
		t.Errorf("unsigned: %d %v %s served=%d why=%v", w.Code, w.Header(), w.Body, served, why)
	}
	c := vectors(t)[0]
	r := c.parse(t)
	r.Header.Set("Authorization", c.authorization)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || served != 1 {
		t.Errorf("signed: %d served=%d", w.Code, served)
	}
}
