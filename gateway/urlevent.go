package gateway

import (
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// urlIAM is the caller of an AWS_IAM URL.
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
// spec/function-url-behaviour.md §3. It is written in one pass into one
// buffer, its members in the order of real events and its strings escaped
// as encoding/json escapes them without HTML escaping.
func buildURLEvent(r *urlRequest) ([]byte, error) {
	headers := eventHeaders(r)
	names := make([]string, 0, len(headers))
	size := 1024 + len(r.Body) + len(r.Body)/2
	for name, value := range headers {
		names = append(names, name)
		size += len(name) + len(value) + 6
	}
	slices.Sort(names)
	rawPath := r.RawPath
	if rawPath == "" {
		rawPath = "/"
	}

	b := make([]byte, 0, size)
	b = append(b, `{"version":"2.0","routeKey":"$default","rawPath":`...)
	b = appendJSONString(b, rawPath)
	b = append(b, `,"rawQueryString":`...)
	b = appendJSONString(b, r.RawQuery)
	if c := headers["cookie"]; c != "" {
		first := true
		for part := range strings.SplitSeq(c, "; ") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			if first {
				b = append(b, `,"cookies":[`...)
				first = false
			} else {
				b = append(b, ',')
			}
			b = appendJSONString(b, part)
		}
		if !first {
			b = append(b, ']')
		}
	}
	b = append(b, `,"headers":{`...)
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, name)
		b = append(b, ':')
		b = appendJSONString(b, headers[name])
	}
	b = append(b, '}')
	if query := queryParameters(r.RawQuery); query != nil {
		keys := make([]string, 0, len(query))
		for k := range query {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"queryStringParameters":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, query[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"requestContext":{"accountId":`...)
	if r.IAM != nil {
		b = appendJSONString(b, r.IAM.AccountID)
		b = append(b, `,"apiId":`...)
		b = appendJSONString(b, r.URLID)
		b = append(b, `,"authorizer":{"iam":{"accessKey":`...)
		b = appendJSONString(b, r.IAM.AccessKey)
		b = append(b, `,"accountId":`...)
		b = appendJSONString(b, r.IAM.AccountID)
		b = append(b, `,"callerId":`...)
		b = appendJSONString(b, r.IAM.CallerID)
		b = append(b, `,"cognitoIdentity":`...)
		b = appendJSONStringOrNull(b, r.IAM.CognitoID)
		b = append(b, `,"principalOrgId":`...)
		b = appendJSONStringOrNull(b, r.IAM.PrincipalOrgID)
		b = append(b, `,"userArn":`...)
		b = appendJSONString(b, r.IAM.UserARN)
		b = append(b, `,"userId":`...)
		b = appendJSONString(b, r.IAM.UserID)
		b = append(b, `}}`...)
	} else {
		b = append(b, `"anonymous","apiId":`...)
		b = appendJSONString(b, r.URLID)
	}
	b = append(b, `,"domainName":`...)
	b = appendJSONString(b, r.Host)
	b = append(b, `,"domainPrefix":`...)
	b = appendJSONString(b, r.URLID)
	b = append(b, `,"http":{"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, normalizedPath(rawPath))
	b = append(b, `,"protocol":"HTTP/1.1","sourceIp":`...)
	b = appendJSONString(b, r.SourceIP)
	b = append(b, `,"userAgent":`...)
	b = appendJSONString(b, r.Header.Get("User-Agent"))
	b = append(b, `},"requestId":`...)
	b = appendJSONString(b, r.RequestID)
	// The time's text is digits, letters, '/', ':', ' ' and a sign: nothing
	// to escape.
	b = append(b, `,"routeKey":"$default","stage":"$default","time":"`...)
	b = r.Time.UTC().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `","timeEpoch":`...)
	b = strconv.AppendInt(b, r.Time.UnixMilli(), 10)
	b = append(b, '}')
	base64Body := false
	if len(r.Body) > 0 {
		b = append(b, `,"body":`...)
		if textual(r.Header.Get("Content-Type")) && utf8.Valid(r.Body) {
			b = appendJSONString(b, r.Body)
		} else {
			// The base64 alphabet needs no escaping.
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, r.Body)
			b = append(b, '"')
			base64Body = true
		}
	}
	b = append(b, `,"isBase64Encoded":`...)
	b = strconv.AppendBool(b, base64Body)
	b = append(b, '}')
	return b, nil
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
	for pair := range strings.SplitSeq(raw, "&") {
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

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it with HTML escaping off: '"', '\\' and control characters,
// invalid UTF-8 as U+FFFD, and U+2028 and U+2029, which JavaScript does not
// take in a string literal.
func appendJSONString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONStringOrNull appends *s as a JSON string, or null when s is nil.
func appendJSONStringOrNull(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

const hexDigits = "0123456789abcdef"

// normalizedPath is requestContext.http.path: the raw path with repeated
// slashes merged and its percent-escapes decoded, as Lambda gives it
// (//a%25b/1 → /a%b/1); an escape that is not one (%zz, a lone %) stays
// as it was sent. rawPath keeps what was sent.
func normalizedPath(raw string) string {
	if !strings.Contains(raw, "//") && !strings.Contains(raw, "%") {
		return raw
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '/' && len(b) > 0 && b[len(b)-1] == '/' {
			continue
		}
		b = append(b, raw[i])
	}
	merged := b
	b = make([]byte, 0, len(merged))
	for i := 0; i < len(merged); i++ {
		if merged[i] == '%' && i+2 < len(merged) && isHex(merged[i+1]) && isHex(merged[i+2]) {
			b = append(b, unhex(merged[i+1])<<4|unhex(merged[i+2]))
			i += 2
			continue
		}
		b = append(b, merged[i])
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
