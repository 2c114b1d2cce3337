// Package awssig checks AWS Signature Version 4 on incoming HTTP requests,
// as Amazon Managed Service for Prometheus does before it looks at one:
// the stand-in for AWS that the tests of everything that signs (the
// console's queries, the collector's remote write, the signing proxy)
// send their requests to. It recomputes each signature from the request
// itself, by the published algorithm, sharing nothing with the signer.
package awssig

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm = "AWS4-HMAC-SHA256"
	// UnsignedPayload stands for the body's hash when the signer did not
	// hash the body (X-Amz-Content-Sha256: UNSIGNED-PAYLOAD).
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	timeFormat      = "20060102T150405Z"
)

// Verifier checks requests signed for one service in one region.
type Verifier struct {
	// Service is the signing name: aps for AMP.
	Service string
	Region  string
	// Secrets maps access key IDs to their secret keys.
	Secrets map[string]string
	// Lookup, when set, is asked instead of Secrets, with the request:
	// temporary credentials hold only with their session token
	// (X-Amz-Security-Token), and only until they expire.
	Lookup func(r *http.Request, accessKey string) (secret string, err *Error)
	// MaxSkew is how far X-Amz-Date may be from now; AWS allows 5 minutes.
	MaxSkew time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Error is why a request was refused, with AWS's error type.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func refuse(typ, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// Verify checks r's signature. It reads the body to hash it and puts it
// back, so that r can still be served.
func (v *Verifier) Verify(r *http.Request) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return refuse("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	a, err := parseAuthorization(auth)
	if err != nil {
		return err
	}
	secret, ok := v.Secrets[a.accessKey]
	if v.Lookup != nil {
		var err *Error
		if secret, err = v.Lookup(r, a.accessKey); err != nil {
			return err
		}
		ok = true
	}
	if !ok {
		return refuse("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	stamp := r.Header.Get("X-Amz-Date")
	at, err := time.Parse(timeFormat, stamp)
	if err != nil {
		return refuse("IncompleteSignatureException", "X-Amz-Date %q is not a date like 20150830T123600Z", stamp)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	if d := now().Sub(at); d > skew || d < -skew {
		return refuse("InvalidSignatureException", "Signature expired: %s is now earlier than %s (%s - %s.)",
			stamp, now().Add(-skew).UTC().Format(timeFormat), now().UTC().Format(timeFormat), skew)
	}
	if a.date != stamp[:8] || a.region != v.Region || a.service != v.Service || a.terminal != "aws4_request" {
		return refuse("InvalidSignatureException", "Credential should be scoped to a valid region and service: want %s/%s/%s/aws4_request, got %s/%s/%s/%s",
			stamp[:8], v.Region, v.Service, a.date, a.region, a.service, a.terminal)
	}
	for _, must := range []string{"host", "x-amz-date"} {
		if !contains(a.signedHeaders, must) {
			return refuse("InvalidSignatureException", "'%s' must be a signed header", must)
		}
	}
	if r.Header.Get("X-Amz-Security-Token") != "" && !contains(a.signedHeaders, "x-amz-security-token") {
		return refuse("InvalidSignatureException", "'x-amz-security-token' must be a signed header")
	}
	payload, err := payloadHash(r)
	if err != nil {
		return err
	}
	canonical := CanonicalRequest(r, a.signedHeaders, payload)
	want := Signature(secret, stamp, v.Region, v.Service, canonical)
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return refuse("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}

// payloadHash is the hash the signature covers: the body's, which
// X-Amz-Content-Sha256 must agree with when sent, or UNSIGNED-PAYLOAD.
func payloadHash(r *http.Request) (string, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return "", refuse("IncompleteSignatureException", "reading the body: %v", err)
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	switch claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed {
	case "", h:
		return h, nil
	case UnsignedPayload:
		return UnsignedPayload, nil
	default:
		return "", refuse("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
}

type authorization struct {
	accessKey, date, region, service, terminal string
	signedHeaders                              []string
	signature                                  string
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=AK/date/region/
// service/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return a, refuse("IncompleteSignatureException", "Authorization header must start with %s", algorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, refuse("IncompleteSignatureException", "Authorization header part %q is not key=value", part)
		}
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return a, refuse("IncompleteSignatureException", "Authorization header requires Credential (key/date/region/service/aws4_request), SignedHeaders and Signature")
	}
	a.accessKey, a.date, a.region, a.service, a.terminal = cred[0], cred[1], cred[2], cred[3], cred[4]
	a.signedHeaders = strings.Split(fields["SignedHeaders"], ";")
	a.signature = fields["Signature"]
	return a, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CanonicalRequest is r in SigV4's canonical form, over the headers
// signed, with the payload's hash.
func CanonicalRequest(r *http.Request, signed []string, payload string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(canonicalPath(r.URL) + "\n")
	b.WriteString(canonicalQuery(r.URL.RawQuery) + "\n")
	for _, name := range signed {
		b.WriteString(name + ":" + headerValue(r, name) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payload)
	return b.String()
}

// canonicalPath is the path, each segment percent-encoded once more
// than it arrived (every service but S3 signs the encoded path
// encoded again), "/" when empty.
func canonicalPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = encode(s)
	}
	return strings.Join(segs, "/")
}

// canonicalQuery sorts the parameters by name, then value, each encoded
// the RFC 3986 way.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var pairs []string
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, _ = url.QueryUnescape(k)
		v, _ = url.QueryUnescape(v)
		pairs = append(pairs, encode(k)+"="+encode(v))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// encode percent-encodes all but RFC 3986's unreserved characters.
func encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// headerValue is a signed header's values, trimmed, inner runs of spaces
// made one, joined by commas; host is the request's host.
func headerValue(r *http.Request, name string) string {
	if name == "host" {
		if r.Host != "" {
			return r.Host
		}
		return r.URL.Host
	}
	vals := r.Header.Values(name)
	if name == "content-length" && len(vals) == 0 && r.ContentLength >= 0 {
		// A client's outgoing request keeps its length out of the header.
		return strconv.FormatInt(r.ContentLength, 10)
	}
	trimmed := make([]string, len(vals))
	for i, v := range vals {
		trimmed[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(trimmed, ",")
}

// Signature is the hex signature of a canonical request by secret, at
// stamp (X-Amz-Date), for region and service.
func Signature(secret, stamp, region, service, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	scope := stamp[:8] + "/" + region + "/" + service + "/aws4_request"
	toSign := algorithm + "\n" + stamp + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := mac([]byte("AWS4"+secret), stamp[:8])
	for _, part := range []string{region, service, "aws4_request"} {
		key = mac(key, part)
	}
	return hex.EncodeToString(mac(key, toSign))
}

func mac(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// Middleware serves next only the requests whose signature holds; the
// others get 403 in AWS's shape (a JSON message, the error's type in
// x-amzn-ErrorType), and refused, when set, is told why.
func (v *Verifier) Middleware(next http.Handler, refused func(*Error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := v.Verify(r)
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			e = refuse("InternalFailure", "%v", err)
		}
		if refused != nil {
			refused(e)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-ErrorType", e.Type)
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]string{"message": e.Message})
	})
}
