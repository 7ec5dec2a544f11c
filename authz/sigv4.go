package authz

import (
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4 error codes, as AWS names them in x-amzn-ErrorType.
const (
	CodeMissingAuth         = "MissingAuthenticationToken"
	CodeIncompleteSignature = "IncompleteSignatureException"
	CodeInvalidSignature    = "InvalidSignatureException"
	CodeUnrecognizedClient  = "UnrecognizedClientException"
)

// SigError is a request whose signature furl does not accept: AWS's error
// code and message, and what furl found, for its log.
type SigError struct {
	Code    string
	Message string
	Reason  string
}

func (e *SigError) Error() string { return e.Code + ": " + e.Reason }

const (
	msgBadSignature = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgBadToken     = "The security token included in the request is invalid."
	// MaxSkew is how far a request's x-amz-date may be from furl's clock.
	MaxSkew = 15 * time.Minute
	// amzDateFormat is x-amz-date's layout.
	amzDateFormat = "20060102T150405Z"
)

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd, from the credential scope
	Region        string
	Service       string
	Terminator    string
	SignedHeaders []string
	Signature     string
}

// AuthorizationError is a malformed Authorization header that lacks
// members.
type AuthorizationError struct {
	Missing []string
}

func (e *AuthorizationError) Error() string {
	return "the Authorization header has no " + strings.Join(e.Missing, ", ")
}

// ParseAuthorization reads "AWS4-HMAC-SHA256 Credential=AKID/20250810/
// us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date,
// Signature=<64 hex>".
func ParseAuthorization(h string) (*Authorization, error) {
	algorithm, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || algorithm != "AWS4-HMAC-SHA256" {
		return nil, fmt.Errorf("the algorithm is %q, not AWS4-HMAC-SHA256", algorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q is not a key=value pair", part)
		}
		if _, dup := fields[k]; dup {
			return nil, fmt.Errorf("%s appears twice", k)
		}
		fields[k] = v
	}
	var missing []string
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, &AuthorizationError{Missing: missing}
	}
	if len(fields) != 3 {
		return nil, fmt.Errorf("the Authorization header has members other than Credential, SignedHeaders and Signature")
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] == "" {
		return nil, fmt.Errorf("the credential %q is not <key>/<date>/<region>/<service>/aws4_request", fields["Credential"])
	}
	a := &Authorization{AccessKeyID: scope[0], Date: scope[1], Region: scope[2], Service: scope[3], Terminator: scope[4],
		SignedHeaders: strings.Split(fields["SignedHeaders"], ";"), Signature: fields["Signature"]}
	for i, name := range a.SignedHeaders {
		if name == "" || name != strings.ToLower(name) || (i > 0 && a.SignedHeaders[i-1] >= name) {
			return nil, fmt.Errorf("SignedHeaders %q is not a sorted list of lower-case names", fields["SignedHeaders"])
		}
	}
	if len(a.Signature) != 64 {
		return nil, fmt.Errorf("the signature is not 64 hex digits")
	}
	if _, err := hex.DecodeString(a.Signature); err != nil {
		return nil, fmt.Errorf("the signature is not 64 hex digits")
	}
	return a, nil
}

// Verifier checks SigV4 signatures against the identities furl knows.
type Verifier struct {
	Identities *Identities
	// Now is furl's clock; nil means time.Now.
	Now func() time.Time
}

// unsignable are the headers the SDK's signer leaves out of a signature:
// a request that signed one cannot be verified with it.
var unsignable = map[string]bool{"authorization": true, "user-agent": true, "x-amzn-trace-id": true, "expect": true, "transfer-encoding": true}

// signedRequest is what Check learned of a request before its body.
type signedRequest struct {
	auth     *Authorization
	id       *Identity
	signedAt time.Time
	signed   map[string]bool
}

// singular are the headers SigV4 reads one value of: a request with two
// could show the function one value and the signature another.
var singular = []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"}

// Check does every part of Verify that needs no body: the Authorization
// header, the identity and its token, the date, the scope, the query.
// Callers that must read a large body check first, so that an
// unauthenticated request costs nothing.
func (v *Verifier) Check(r *http.Request, region, service string) *SigError {
	_, err := v.check(r, region, service)
	return err
}

func (v *Verifier) check(r *http.Request, region, service string) (*signedRequest, *SigError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Has("X-Amz-Signature") {
			return nil, &SigError{CodeMissingAuth, "Missing Authentication Token", "the request is presigned (query-string SigV4), which function URLs do not accept; sign the Authorization header"}
		}
		return nil, &SigError{CodeMissingAuth, "Missing Authentication Token", "the request is not signed (no Authorization header)"}
	}
	bad := func(why string) *SigError { return &SigError{CodeInvalidSignature, msgBadSignature, why} }
	for _, name := range singular {
		if len(r.Header.Values(name)) > 1 {
			return nil, bad("the request carries " + name + " more than once")
		}
	}
	auth, err := ParseAuthorization(h)
	if err != nil {
		msg := "Authorization header is malformed. Authorization=" + h
		var ae *AuthorizationError
		if errors.As(err, &ae) && len(ae.Missing) > 0 {
			msg = ""
			for _, m := range ae.Missing {
				msg += "Authorization header requires '" + m + "' parameter. "
			}
			msg += "Authorization=" + h
		}
		return nil, &SigError{CodeIncompleteSignature, msg, err.Error()}
	}
	id := v.Identities.Lookup(auth.AccessKeyID)
	if id == nil {
		return nil, &SigError{CodeUnrecognizedClient, msgBadToken, fmt.Sprintf("access key %q is neither the root's (%s) nor one from --iam-config", auth.AccessKeyID, RootAccessKey)}
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if subtle.ConstantTimeCompare([]byte(token), []byte(id.SessionToken)) != 1 {
		why := "the request's x-amz-security-token is not the session token of " + id.ARN
		if id.SessionToken == "" {
			why = "the request carries an x-amz-security-token but the credentials of " + id.ARN + " are not temporary"
		} else if token == "" {
			why = "the credentials of " + id.ARN + " are temporary: the request must carry their session token (x-amz-security-token)"
		}
		return nil, &SigError{CodeUnrecognizedClient, msgBadToken, why}
	}
	rawDate := r.Header.Get("X-Amz-Date")
	if rawDate == "" {
		return nil, &SigError{CodeIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + h, "the request has no x-amz-date header"}
	}
	signedAt, err := time.Parse(amzDateFormat, rawDate)
	if err != nil {
		return nil, &SigError{CodeIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '" + rawDate + "'. See http://en.wikipedia.org/wiki/ISO_8601", "x-amz-date " + rawDate + " is not yyyymmddThhmmssZ"}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().UTC()
	switch {
	case signedAt.Before(t.Add(-MaxSkew)):
		return nil, &SigError{CodeInvalidSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			rawDate, t.Add(-MaxSkew).Format(amzDateFormat), t.Format(amzDateFormat)), "x-amz-date " + rawDate + " is more than 15 minutes before furl's clock"}
	case signedAt.After(t.Add(MaxSkew)):
		return nil, &SigError{CodeInvalidSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			rawDate, t.Add(MaxSkew).Format(amzDateFormat), t.Format(amzDateFormat)), "x-amz-date " + rawDate + " is more than 15 minutes after furl's clock"}
	}
	switch {
	case auth.Date != signedAt.Format("20060102"):
		return nil, bad(fmt.Sprintf("the credential scope's date %s is not x-amz-date's day %s", auth.Date, signedAt.Format("20060102")))
	case auth.Region != region:
		return nil, &SigError{CodeInvalidSignature, "Credential should be scoped to a valid region. ", fmt.Sprintf("the request was signed for region %q; this endpoint is in %q", auth.Region, region)}
	case auth.Service != service:
		return nil, &SigError{CodeInvalidSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", service), fmt.Sprintf("the request was signed for service %q, not %q", auth.Service, service)}
	case auth.Terminator != "aws4_request":
		return nil, &SigError{CodeInvalidSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not '" + auth.Terminator + "'. ", "the credential scope does not end in aws4_request"}
	}
	signed := map[string]bool{}
	for _, name := range auth.SignedHeaders {
		signed[name] = true
		if unsignable[name] {
			return nil, bad(fmt.Sprintf("the request signs %s, which AWS's SDK signers leave out and furl cannot verify", name))
		}
	}
	if !signed["host"] {
		return nil, bad("host is not among the signed headers")
	}
	if signed["content-length"] && r.ContentLength == 0 {
		return nil, bad("the request signs content-length: 0, which the AWS SDK's signer, and so furl, cannot rebuild")
	}
	// The signer rebuilds the query from its parsed form, which would drop
	// what does not parse: such a query could carry unsigned pairs.
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		return nil, bad("the query string does not parse (" + err.Error() + "), so it cannot be checked against the signature")
	}
	return &signedRequest{auth: auth, id: id, signedAt: signedAt, signed: signed}, nil
}

// RawPath is the path of r's request target exactly as the client sent
// it, still escaped: the path part of r.RequestURI. It is what a SigV4
// signature covers and what a function URL's event calls rawPath; Go's
// parsed r.URL may spell it otherwise (it decodes, and re-escapes what it
// cannot keep), and two raw paths that Go parses alike must not pass for
// one another. A request made in-process, without a RequestURI, gives its
// URL's escaped path.
func RawPath(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" {
		return r.URL.EscapedPath()
	}
	if uri[0] != '/' {
		// The absolute form, scheme://authority/path?query, as sent to
		// proxies: the path starts at the first slash after the authority.
		_, rest, ok := strings.Cut(uri, "://")
		if !ok {
			return uri // "*", or nothing a client signs
		}
		i := strings.IndexAny(rest, "/?#")
		if i < 0 || rest[i] != '/' {
			return "/"
		}
		uri = rest[i:]
	}
	path, _, _ := strings.Cut(uri, "?")
	return path
}

// Verify checks r's SigV4 signature (Authorization header form) for
// service in region, payloadHash being the hex SHA-256 of the body
// received, and returns the caller. The signature is recomputed with the
// AWS SDK's signer from the request as it arrived and compared in
// constant time. The path signed is the raw path received (RawPath), which
// the signer escapes once more, as AWS does for every service but S3: two
// different raw paths never share a canonical URI.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, payloadHash, region, service string) (*Identity, *SigError) {
	sr, serr := v.check(r, region, service)
	if serr != nil {
		return nil, serr
	}
	auth, id, signed := sr.auth, sr.id, sr.signed
	bad := func(why string) *SigError { return &SigError{CodeInvalidSignature, msgBadSignature, why} }
	switch declared := r.Header.Get("X-Amz-Content-Sha256"); {
	case declared == "UNSIGNED-PAYLOAD" || strings.HasPrefix(declared, "STREAMING-"):
		return nil, bad("x-amz-content-sha256 is " + declared + ": Lambda accepts only signed payloads")
	case declared != "" && declared != payloadHash:
		return nil, bad("x-amz-content-sha256 is not the SHA-256 of the body received")
	}
	rawPath := RawPath(r)
	if !strings.HasPrefix(rawPath, "/") {
		return nil, bad(fmt.Sprintf("the request target %q is not a path", r.RequestURI))
	}

	// The request as the client signed it: its method, raw path, query and
	// the headers it says it signed, with their values as received. The
	// signer takes an opaque URL's path as it is, where it would re-escape
	// a parsed one; the "//h" before the path is the authority it skips.
	u := &url.URL{Scheme: "http", Host: r.Host, Opaque: "//h" + rawPath, RawQuery: r.URL.RawQuery}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	re := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}}
	for _, name := range auth.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			re.ContentLength = r.ContentLength
		default:
			if values := r.Header.Values(name); len(values) > 0 {
				re.Header[http.CanonicalHeaderKey(name)] = slices.Clone(values)
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: id.SecretAccessKey, SessionToken: id.SessionToken}
	err := v4.NewSigner().SignHTTP(ctx, creds, re, payloadHash, service, auth.Region, sr.signedAt, func(o *v4.SignerOptions) {
		// A token sent but not signed stays out, as the client left it.
		o.DisableSessionToken = !signed["x-amz-security-token"]
	})
	if err != nil {
		return nil, bad("recomputing the signature failed: " + err.Error())
	}
	mine, err := ParseAuthorization(re.Header.Get("Authorization"))
	if err != nil {
		return nil, bad("recomputing the signature failed: " + err.Error())
	}
	if !hmac.Equal([]byte(mine.Signature), []byte(auth.Signature)) {
		why := "the signature does not match: the secret key, the body, or the method, path, query or signed headers (" +
			strings.Join(auth.SignedHeaders, ";") + ") differ from what was signed"
		if got, want := strings.Join(mine.SignedHeaders, ";"), strings.Join(auth.SignedHeaders, ";"); got != want {
			why = fmt.Sprintf("the signature does not match: the request signs %s but furl could only rebuild %s", want, got)
		}
		return nil, bad(why)
	}
	return id, nil
}
