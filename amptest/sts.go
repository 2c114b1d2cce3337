package amptest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meshlens/meshlens/awssig"
)

// STS is a stand-in for AWS STS's AssumeRoleWithWebIdentity, the call an
// SDK makes for IRSA (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, a
// projected service-account token): it checks the token and the role, and
// issues temporary credentials the workspace accepts, with their session
// token, until they expire. Point an SDK at it with AWS_ENDPOINT_URL_STS.
type STS struct {
	*httptest.Server
	// Calls counts the credentials issued.
	Calls atomic.Int64
}

// temporary are credentials an STS stand-in issued.
type temporary struct {
	secret, token string
	expires       time.Time
}

// NewSTS issues credentials for role to holders of token, each valid for
// lifetime, which s accepts.
func (s *Server) NewSTS(token, role string, lifetime time.Duration) *STS {
	sts := &STS{}
	sts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRoleWithWebIdentity" {
			stsError(w, http.StatusBadRequest, "InvalidAction", "only AssumeRoleWithWebIdentity is served here")
			return
		}
		if r.Form.Get("WebIdentityToken") != token {
			stsError(w, http.StatusBadRequest, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
			return
		}
		if r.Form.Get("RoleArn") != role {
			stsError(w, http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
			return
		}
		sts.Calls.Add(1)
		key, secret, session := "ASIA"+strings.ToUpper(random(8)), random(20), random(32)
		expires := time.Now().Add(lifetime).UTC().Truncate(time.Second)
		s.tempMu.Lock()
		s.temp[key] = temporary{secret: secret, token: session, expires: expires}
		s.tempMu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		xml.NewEncoder(w).Encode(assumeRoleResponse{
			Result: assumeRoleResult{
				Credentials:     stsCredentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: session, Expiration: expires.Format(time.RFC3339)},
				AssumedRoleUser: assumedRoleUser{Arn: role + "/" + r.Form.Get("RoleSessionName"), AssumedRoleID: "AROAMESHLENS:" + r.Form.Get("RoleSessionName")},
			},
			RequestID: random(8),
		})
	}))
	return sts
}

// lookup finds a key's secret for the workspace's verifier: its own key,
// or credentials an STS stand-in issued, with their session token and
// not expired when the request was signed.
func (s *Server) lookup(r *http.Request, key string) (string, *awssig.Error) {
	if key == AccessKey {
		return SecretKey, nil
	}
	s.tempMu.Lock()
	c, ok := s.temp[key]
	s.tempMu.Unlock()
	if !ok || r.Header.Get("X-Amz-Security-Token") != c.token {
		return "", &awssig.Error{Type: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
	}
	signed, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err == nil && signed.After(c.expires) {
		return "", &awssig.Error{Type: "ExpiredTokenException", Message: "The security token included in the request is expired"}
	}
	return c.secret, nil
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func stsError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(code)
	xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Error   struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
	}{Error: struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}{"Sender", typ, msg}})
}

type assumeRoleResponse struct {
	XMLName   xml.Name         `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
	Result    assumeRoleResult `xml:"AssumeRoleWithWebIdentityResult"`
	RequestID string           `xml:"ResponseMetadata>RequestId"`
}

type assumeRoleResult struct {
	Credentials     stsCredentials  `xml:"Credentials"`
	AssumedRoleUser assumedRoleUser `xml:"AssumedRoleUser"`
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}
