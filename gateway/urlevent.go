package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// urlEvent is the payload format 2.0 event a function URL sends its
// function. Member order follows real events.
type urlEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        urlRequestContext `json:"requestContext"`
	Body                  *string           `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type urlRequestContext struct {
	AccountID    string         `json:"accountId"`
	APIID        string         `json:"apiId"`
	Authorizer   *urlAuthorizer `json:"authorizer,omitempty"`
	DomainName   string         `json:"domainName"`
	DomainPrefix string         `json:"domainPrefix"`
	HTTP         urlHTTP        `json:"http"`
	RequestID    string         `json:"requestId"`
	RouteKey     string         `json:"routeKey"`
	Stage        string         `json:"stage"`
	Time         string         `json:"time"`
	TimeEpoch    int64          `json:"timeEpoch"`
}

type urlHTTP struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// urlAuthorizer is the caller of an AWS_IAM URL.
type urlAuthorizer struct {
	IAM *urlIAM `json:"iam"`
}

type urlIAM struct {
	AccessKey      string  `json:"accessKey"`
	AccountID      string  `json:"accountId"`
	CallerID       string  `json:"callerId"`
	CognitoID      *string `json:"cognitoIdentity"`
	PrincipalOrgID *string `json:"principalOrgId"`
	UserARN        string  `json:"userArn"`
	UserID         string  `json:"userId"`
}

// urlRequest is what the event is built from: the request as it arrived,
// and what furl knows about it.
type urlRequest struct {
	Method   string
	RawPath  string // as sent, undecoded
	RawQuery string // without the ?
	Header   http.Header
	Host     string
	Body     []byte
	SourceIP string
	// Proto and Port are the scheme and port the client used, for
	// x-forwarded-proto and -port; TLSVersion and TLSCipher name the TLS
	// connection, if any.
	Proto      string
	Port       string
	TLSVersion string
	TLSCipher  string
	URLID      string
	RequestID  string
	TraceID    string // the x-amzn-trace-id furl adds
	Time       time.Time
	// IAM is set for AWS_IAM URLs: the caller. Its authorization header is
	// then dropped, as Lambda does.
	IAM *urlIAM
}

// buildURLEvent makes the event for a URL request, by the rules of
// spec/function-url-behaviour.md §3.
func buildURLEvent(r *urlRequest) ([]byte, error) {
	ev := urlEvent{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        r.RawPath,
		RawQueryString: r.RawQuery,
		Headers:        eventHeaders(r),
		RequestContext: urlRequestContext{
			AccountID:    "anonymous",
			APIID:        r.URLID,
			DomainName:   r.Host,
			DomainPrefix: r.URLID,
			HTTP: urlHTTP{
				Method:    r.Method,
				Path:      r.RawPath,
				Protocol:  "HTTP/1.1",
				SourceIP:  r.SourceIP,
				UserAgent: r.Header.Get("User-Agent"),
			},
			RequestID: r.RequestID,
			RouteKey:  "$default",
			Stage:     "$default",
			Time:      r.Time.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch: r.Time.UnixMilli(),
		},
	}
	if ev.RawPath == "" {
		ev.RawPath, ev.RequestContext.HTTP.Path = "/", "/"
	}
	if r.IAM != nil {
		ev.RequestContext.AccountID = r.IAM.AccountID
		ev.RequestContext.Authorizer = &urlAuthorizer{IAM: r.IAM}
	}
	if c := ev.Headers["cookie"]; c != "" {
		for _, part := range strings.Split(c, "; ") {
			if part = strings.TrimSpace(part); part != "" {
				ev.Cookies = append(ev.Cookies, part)
			}
		}
	}
	ev.QueryStringParameters = queryParameters(r.RawQuery)
	if len(r.Body) > 0 {
		var body string
		if textual(r.Header.Get("Content-Type")) && utf8.Valid(r.Body) {
			body = string(r.Body)
		} else {
			body = base64.StdEncoding.EncodeToString(r.Body)
			ev.IsBase64Encoded = true
		}
		ev.Body = &body
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// eventHeaders lower-cases names and joins repeated headers with commas,
// drops what Lambda drops, and adds what it adds.
func eventHeaders(r *urlRequest) map[string]string {
	out := make(map[string]string, len(r.Header)+6)
	for name, values := range r.Header {
		n := strings.ToLower(name)
		switch n {
		case "connection", "transfer-encoding", "keep-alive", "proxy-connection", "te", "upgrade":
			continue
		case "authorization":
			if r.IAM != nil {
				continue
			}
		case "x-amzn-tls-version", "x-amzn-tls-cipher-suite":
			continue // Lambda's own, set below from the connection
		case "cookie":
			// HTTP/2 sends each cookie in a header of its own.
			out[n] = strings.Join(values, "; ")
			continue
		}
		out[n] = strings.Join(values, ",")
	}
	out["host"] = r.Host
	if len(r.Body) > 0 {
		if _, ok := out["content-length"]; !ok {
			out["content-length"] = strconv.Itoa(len(r.Body))
		}
	}
	if _, ok := out["x-forwarded-for"]; !ok {
		out["x-forwarded-for"] = r.SourceIP
	}
	out["x-forwarded-proto"] = r.Proto
	out["x-forwarded-port"] = r.Port
	out["x-amzn-trace-id"] = r.TraceID
	if r.TLSVersion != "" {
		out["x-amzn-tls-version"] = r.TLSVersion
		out["x-amzn-tls-cipher-suite"] = r.TLSCipher
	}
	return out
}

// queryParameters decodes a raw query: keys and values URL-decoded,
// repeated keys joined with commas; nil when there is no query.
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		if prev, ok := out[k]; ok {
			out[k] = prev + "," + v
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// textual reports whether a body of this content type goes into the event
// as text: text/*, JSON, XML and JavaScript; anything else, or no type,
// is base64.
func textual(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/xml", mt == "application/javascript":
		return true
	case strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}
