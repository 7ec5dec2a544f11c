package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// urlResponse is the HTTP answer a function URL gives for a result.
type urlResponse struct {
	Status  int
	Header  http.Header
	Cookies []string
	Body    []byte
}

// errUnusableResult is a function result a URL cannot answer with.
var errUnusableResult = errors.New("unusable function result")

// hopByHop are headers a function cannot set on the connection.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true,
	"trailer": true, "transfer-encoding": true, "upgrade": true,
}

// urlResponseFrom maps a buffered function result to the URL's answer, by
// the rules of spec/function-url-behaviour.md §4: an object with
// statusCode is a structured response; any other JSON is the body of a 200
// (a JSON string without its quotes); anything else is unusable.
func urlResponseFrom(result []byte) (*urlResponse, error) {
	trimmed := bytes.TrimSpace(result)
	if resp, ok := fastURLResponse(trimmed); ok {
		return resp, nil
	}
	return decodeURLResponse(trimmed)
}

// decodeURLResponse is urlResponseFrom by encoding/json: the reference
// the fast path is tested against, and the one that gives every error.
func decodeURLResponse(trimmed []byte) (*urlResponse, error) {
	if len(trimmed) > 0 && trimmed[0] == '{' {
		// Unmarshal validates as it goes: no separate pass.
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &obj); err != nil {
			return nil, fmt.Errorf("%w: not JSON: %v", errUnusableResult, err)
		}
		if sc, ok := obj["statusCode"]; ok {
			return structuredResponse(obj, sc)
		}
	}
	resp := &urlResponse{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}}
	if len(trimmed) > 0 && trimmed[0] == '"' {
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			return nil, fmt.Errorf("%w: not JSON: %v", errUnusableResult, err)
		}
		resp.Body = []byte(s)
		return resp, nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, trimmed); err != nil || len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: not JSON", errUnusableResult)
	}
	resp.Body = compact.Bytes()
	return resp, nil
}

func structuredResponse(obj map[string]json.RawMessage, rawStatus json.RawMessage) (*urlResponse, error) {
	status, err := statusCode(rawStatus)
	if err != nil {
		return nil, err
	}
	resp := &urlResponse{Status: status, Header: http.Header{}}
	if raw, ok := obj["headers"]; ok && string(raw) != "null" {
		var headers map[string]json.RawMessage
		if err := json.Unmarshal(raw, &headers); err != nil {
			return nil, fmt.Errorf("%w: headers: %v", errUnusableResult, err)
		}
		if resp.Header, err = resultHeaders(headers, false); err != nil {
			return nil, err
		}
	}
	if resp.Header.Get("Content-Type") == "" {
		resp.Header.Set("Content-Type", "application/json")
	}
	if raw, ok := obj["cookies"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &resp.Cookies); err != nil {
			return nil, fmt.Errorf("%w: cookies: %v", errUnusableResult, err)
		}
	}
	if raw, ok := obj["body"]; ok && string(raw) != "null" {
		if s, ok := jsonString(raw); ok {
			resp.Body = []byte(s)
		} else {
			// A body that is not a string is sent as its JSON.
			var compact bytes.Buffer
			json.Compact(&compact, raw)
			resp.Body = compact.Bytes()
		}
	}
	if raw, ok := obj["isBase64Encoded"]; ok {
		var b64 bool
		if err := json.Unmarshal(raw, &b64); err != nil {
			return nil, fmt.Errorf("%w: isBase64Encoded: %v", errUnusableResult, err)
		}
		if b64 {
			decoded, err := base64.StdEncoding.DecodeString(string(resp.Body))
			if err != nil {
				return nil, fmt.Errorf("%w: body is not base64: %v", errUnusableResult, err)
			}
			resp.Body = decoded
		}
	}
	return resp, nil
}

// resultHeaders maps the headers a function chose onto its URL's
// response: values are strings (numbers and booleans as their JSON text),
// or, in a stream's prelude, lists of them; Lambda's own headers stand.
func resultHeaders(headers map[string]json.RawMessage, lists bool) (http.Header, error) {
	members := make([]headerMember, 0, len(headers))
	for name, raw := range headers {
		members = append(members, headerMember{name: name, raw: raw})
	}
	// In name order, so that of two spellings of one name the same one
	// always wins.
	slices.SortFunc(members, func(a, b headerMember) int { return strings.Compare(a.name, b.name) })
	return headerMembers(members, lists)
}

// headerMember is one of the headers a function chose, its value raw.
type headerMember struct {
	name string
	raw  []byte
}

// headerMembers is resultHeaders for members in name order, each name
// once.
func headerMembers(members []headerMember, lists bool) (http.Header, error) {
	h := make(http.Header, len(members))
	for _, m := range members {
		name, raw := m.name, m.raw
		if string(raw) == "null" {
			continue
		}
		var values []string
		if v, err := scalar(raw); err == nil {
			values = []string{v}
		} else if !lists {
			return nil, fmt.Errorf("%w: header %s: %v", errUnusableResult, name, err)
		} else {
			var many []json.RawMessage
			if json.Unmarshal(raw, &many) != nil {
				return nil, fmt.Errorf("%w: header %s: neither a value nor a list of values", errUnusableResult, name)
			}
			for _, item := range many {
				v, err := scalar(item)
				if err != nil {
					return nil, fmt.Errorf("%w: header %s: %v", errUnusableResult, name, err)
				}
				values = append(values, v)
			}
		}
		lower := strings.ToLower(name)
		switch {
		case hopByHop[lower], lower == "x-amzn-requestid":
			// Lambda's own request id stands.
		case lower == "content-length":
			h["x-amzn-Remapped-Content-Length"] = values
		default:
			h[http.CanonicalHeaderKey(name)] = values
		}
	}
	return h, nil
}

// statusCode reads a status given as a number (200, 200.0, 2e2) or a
// numeric string ("418"). Informational statuses cannot end a response,
// so only 200–599 are usable.
func statusCode(raw json.RawMessage) (int, error) {
	text := string(raw)
	if s, ok := jsonString(raw); ok {
		text = strings.TrimSpace(s)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || f != math.Trunc(f) || f < 200 || f > 599 {
		return 0, fmt.Errorf("%w: statusCode %s", errUnusableResult, raw)
	}
	return int(f), nil
}

// scalar renders a header value: a string as is, a number or boolean as
// its JSON text.
func scalar(raw json.RawMessage) (string, error) {
	if s, ok := jsonString(raw); ok {
		return s, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch v.(type) {
	case float64, bool:
		return string(raw), nil
	}
	return "", fmt.Errorf("not a string")
}

// jsonString decodes raw, a JSON value encoding/json has already
// validated, when it is a string. Most strings have no escapes and valid
// UTF-8: their bytes are the string, with no second decoding pass.
func jsonString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// write sends the response. The function's headers are added to those
// already set (CORS), not put in their place, as Lambda does.
func (u *urlResponse) write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range u.Header {
		h[k] = append(h[k], vs...)
	}
	for _, c := range u.Cookies {
		h.Add("Set-Cookie", c)
	}
	h.Set("Content-Length", strconv.Itoa(len(u.Body)))
	w.WriteHeader(u.Status)
	w.Write(u.Body)
}
