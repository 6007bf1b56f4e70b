package emulator

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"
	"time"
)

// timestampWindow is how far a request's Timestamp may be from the clock
// (the real gateway's limit); nonces are remembered for as long.
const timestampWindow = 15 * time.Minute

// apiVersion is the only ECS API version served.
const apiVersion = "2014-05-26"

// stringToSign is the RPC v1 string to sign (ecs-sdk.md §3): every parameter
// but Signature, sorted and RFC 3986 percent-encoded, under the method.
func stringToSign(method string, params url.Values) string {
	signed := make(url.Values, len(params))
	for k, v := range params {
		if k != "Signature" {
			signed[k] = v
		}
	}
	canon := signed.Encode()
	canon = strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(canon)
	return method + "&%2F&" + url.QueryEscape(canon)
}

// sign is base64(HMAC-SHA1(secret + "&", text)).
func sign(secret, text string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignRequest adds the common parameters and the signature of cred to params
// exactly as the SDK does, for clients that build raw requests (tests).
func SignRequest(method string, params url.Values, cred Credential, now time.Time, nonce string) {
	params.Set("Format", "JSON")
	params.Set("Version", apiVersion)
	params.Set("SignatureMethod", "HMAC-SHA1")
	params.Set("SignatureVersion", "1.0")
	params.Set("SignatureType", "")
	params.Set("SignatureNonce", nonce)
	params.Set("Timestamp", now.UTC().Format(timestampLayout))
	params.Set("AccessKeyId", cred.AccessKeyID)
	if cred.SecurityToken != "" {
		params.Set("SecurityToken", cred.SecurityToken)
	}
	params.Del("Signature")
	params.Set("Signature", sign(cred.AccessKeySecret, stringToSign(method, params)))
}

const timestampLayout = "2006-01-02T15:04:05Z"

// authenticate checks the common parameters and the signature of a request
// and consumes its nonce. Checks run from the cheapest to the one that
// remembers something, so a forged request cannot burn a nonce.
func (s *Server) authenticate(method string, params url.Values) *apiError {
	for _, name := range []string{"AccessKeyId", "Signature", "SignatureNonce", "Timestamp"} {
		if params.Get(name) == "" {
			return errCodef("MissingParameter", "%s is mandatory for this action.", name)
		}
	}
	if params.Get("SignatureMethod") != "HMAC-SHA1" || params.Get("SignatureVersion") != "1.0" {
		return errCodef("IncompleteSignature", "The request signature does not conform to Aliyun standards: SignatureMethod %q, SignatureVersion %q are not HMAC-SHA1, 1.0.",
			params.Get("SignatureMethod"), params.Get("SignatureVersion"))
	}
	cred, ok := s.creds[params.Get("AccessKeyId")]
	if !ok {
		return errCode("InvalidAccessKeyId.NotFound")
	}
	token, hasToken := params["SecurityToken"]
	switch {
	case cred.SecurityToken != "" && !hasToken:
		return errCode("MissingSecurityToken")
	case hasToken && subtle.ConstantTimeCompare([]byte(token[0]), []byte(cred.SecurityToken)) != 1:
		return errCode("InvalidSecurityToken.MismatchWithAccessKey")
	}
	ts, err := time.Parse(timestampLayout, params.Get("Timestamp"))
	if err != nil {
		return errCode("InvalidTimeStamp.Format")
	}
	// The SDK signs with the real clock, so the gateway checks against it
	// whatever the world's (virtual) clock says.
	now := time.Now()
	if ts.Before(now.Add(-timestampWindow)) || ts.After(now.Add(timestampWindow)) {
		return errCode("InvalidTimeStamp.Expired")
	}
	got, err := base64.StdEncoding.DecodeString(params.Get("Signature"))
	if err != nil || len(got) != sha1.Size {
		return errCode("IncompleteSignature")
	}
	text := stringToSign(method, params)
	want, _ := base64.StdEncoding.DecodeString(sign(cred.AccessKeySecret, text))
	if !hmac.Equal(got, want) {
		// The SDK compares this string to its own to tell a wrong secret
		// from a wrong canonicalisation.
		return errCodef("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", text)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.nonces.use(params.Get("AccessKeyId")+"\x00"+params.Get("SignatureNonce"), ts, now) {
		return errCode("SignatureNonceUsed")
	}
	return nil
}

// nonceMemory remembers nonces until the timestamp that came with them can
// no longer pass the freshness check; that bounds it by the request rate
// over 30 minutes.
type nonceMemory struct {
	seen      map[string]time.Time // nonce -> when it can be forgotten
	nextSweep int                  // sweep when the map reaches this size
}

// use records nonce and reports whether it was fresh.
func (m *nonceMemory) use(nonce string, ts, now time.Time) bool {
	if forget, ok := m.seen[nonce]; ok && now.Before(forget) {
		return false
	}
	if len(m.seen) >= m.nextSweep {
		for k, forget := range m.seen {
			if !now.Before(forget) {
				delete(m.seen, k)
			}
		}
		// Doubling keeps sweeps amortised O(1) per request.
		m.nextSweep = max(1024, 2*len(m.seen))
	}
	m.seen[nonce] = ts.Add(timestampWindow)
	return true
}
