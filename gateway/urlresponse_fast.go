package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxFastDepth bounds the nesting the fast path follows. Results nested
// deeper are rare: the reference decoder takes them, and reports
// encoding/json's own limit.
const maxFastDepth = 64

// fastURLResponse is urlResponseFrom for the results it can answer with
// certainty in one pass over trimmed: a top-level object (structured or
// not) or string. It validates the whole document as encoding/json does,
// keeps the raw span of the last occurrence of each member that matters
// (map decoding keeps the last), and decodes a string body as it
// validates it.
// ok is false for anything else — a syntax error, an escaped top-level
// or header name, deep nesting, any value the answer cannot be made from
// — and the reference decoder, which gives every error, takes it.
func fastURLResponse(trimmed []byte) (resp *urlResponse, ok bool) {
	if len(trimmed) == 0 {
		return nil, false
	}
	s := jsonScanner{b: trimmed}
	switch trimmed[0] {
	case '"':
		body, ok := s.decodeStr(make([]byte, 0, len(trimmed)))
		if !ok || s.i != len(trimmed) {
			return nil, false
		}
		return &urlResponse{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, true
	case '{':
	default:
		return nil, false
	}
	var status, headers, cookies, body, b64 []byte
	// text is the body decoded, when it is a string, in textBuf: one
	// buffer for every body member, however many the result repeats.
	var text, textBuf []byte
	ok = s.object(0, func(key []byte, escaped bool) bool {
		if escaped {
			// An escape could spell one of the names below.
			return false
		}
		from := s.i
		if string(key) == "body" && s.i < len(s.b) && s.b[s.i] == '"' {
			// The body, most of a result, is decoded as it is validated.
			// It holds at most what remains of the result, unless invalid
			// UTF-8 widens.
			if textBuf == nil {
				textBuf = make([]byte, 0, len(s.b)-s.i)
			}
			var ok bool
			if text, ok = s.decodeStr(textBuf[:0]); !ok {
				return false
			}
			textBuf, body = text, s.b[from:s.i]
			return true
		}
		if !s.value(0) {
			return false
		}
		raw := s.b[from:s.i]
		switch string(key) {
		case "statusCode":
			status = raw
		case "headers":
			headers = raw
		case "cookies":
			cookies = raw
		case "body":
			body, text = raw, nil
		case "isBase64Encoded":
			b64 = raw
		}
		return true
	})
	if s.space(); !ok || s.i != len(trimmed) {
		return nil, false
	}
	if status == nil {
		var compact bytes.Buffer
		compact.Grow(len(trimmed))
		if json.Compact(&compact, trimmed) != nil {
			return nil, false
		}
		return &urlResponse{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: compact.Bytes()}, true
	}
	code, err := statusCode(status)
	if err != nil {
		return nil, false
	}
	resp = &urlResponse{Status: code, Header: http.Header{}}
	if headers != nil && string(headers) != "null" {
		if resp.Header, ok = fastHeaders(headers); !ok {
			return nil, false
		}
	}
	if resp.Header.Get("Content-Type") == "" {
		resp.Header.Set("Content-Type", "application/json")
	}
	if cookies != nil && string(cookies) != "null" {
		if resp.Cookies, ok = fastCookies(cookies); !ok {
			return nil, false
		}
	}
	if body != nil && string(body) != "null" {
		if body[0] == '"' {
			resp.Body = text
		} else {
			var compact bytes.Buffer
			compact.Grow(len(body))
			if json.Compact(&compact, body) != nil {
				return nil, false
			}
			resp.Body = compact.Bytes()
		}
	}
	switch string(b64) {
	case "", "false", "null":
	case "true":
		decoded := make([]byte, base64.StdEncoding.DecodedLen(len(resp.Body)))
		n, err := base64.StdEncoding.Decode(decoded, resp.Body)
		if err != nil {
			return nil, false
		}
		resp.Body = decoded[:n]
	default:
		return nil, false
	}
	return resp, true
}

// fastHeaders is resultHeaders (not in lists) for a validated object
// whose names have no escapes and are valid UTF-8, so that their bytes
// are the names map decoding would give.
func fastHeaders(raw []byte) (http.Header, bool) {
	if raw[0] != '{' {
		return nil, false
	}
	members := make([]headerMember, 0, 8)
	s := jsonScanner{b: raw}
	ok := s.object(0, func(key []byte, escaped bool) bool {
		from := s.i
		if escaped || !utf8.Valid(key) || !s.value(0) {
			return false
		}
		members = append(members, headerMember{name: string(key), raw: s.b[from:s.i]})
		return true
	})
	if !ok {
		return nil, false
	}
	// Of a name given twice the last stands, as in a map: a stable sort
	// keeps it last among its equals.
	slices.SortStableFunc(members, func(a, b headerMember) int { return strings.Compare(a.name, b.name) })
	unique := members[:0]
	for i, m := range members {
		if i+1 < len(members) && members[i+1].name == m.name {
			continue
		}
		unique = append(unique, m)
	}
	h, err := headerMembers(unique, false)
	return h, err == nil
}

// fastCookies decodes a validated array of strings; anything else is
// left to the reference decoder.
func fastCookies(raw []byte) ([]string, bool) {
	if raw[0] != '[' {
		return nil, false
	}
	cookies := []string{}
	s := jsonScanner{b: raw}
	ok := s.array(0, func(value []byte) bool {
		if value[0] != '"' {
			return false
		}
		c, ok := unquoteJSON(nil, value[1:len(value)-1])
		cookies = append(cookies, string(c))
		return ok
	})
	return cookies, ok
}

// jsonScanner validates JSON as encoding/json's scanner does, reporting
// the members and elements it passes.
type jsonScanner struct {
	b []byte
	i int
}

// space skips JSON's whitespace.
func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value passes one value that starts at s.i.
func (s *jsonScanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; c {
	case '"':
		_, ok := s.str()
		return ok
	case '{':
		return s.object(depth+1, nil)
	case '[':
		return s.array(depth+1, nil)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		return s.number()
	}
}

// object passes the object that starts at s.i. When member is not nil, it
// is given each member's name (its raw bytes, and whether it holds an
// escape) with s at the value, and passes the value itself (value at
// depth, or decodeStr); member returning false stops the scan.
func (s *jsonScanner) object(depth int, member func(key []byte, escaped bool) bool) bool {
	if depth > maxFastDepth {
		return false
	}
	s.i++ // '{'
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		start := s.i
		escaped, ok := s.str()
		if !ok {
			return false
		}
		key := s.b[start+1 : s.i-1]
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		if member != nil {
			if !member(key, escaped) {
				return false
			}
		} else if !s.value(depth) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.space()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array passes the array that starts at s.i, giving each element's raw
// value to element when it is not nil.
func (s *jsonScanner) array(depth int, element func(raw []byte) bool) bool {
	if depth > maxFastDepth {
		return false
	}
	s.i++ // '['
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for {
		from := s.i
		if !s.value(depth) {
			return false
		}
		if element != nil && !element(s.b[from:s.i]) {
			return false
		}
		s.space()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.space()
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// str passes the string that starts at s.i, and says whether it holds
// an escape. Bytes from 0x20 up other than '"' and '\' are taken as they
// are, valid UTF-8 or not, as encoding/json's scanner takes them.
func (s *jsonScanner) str() (escaped, ok bool) {
	s.i++ // '"'
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return escaped, true
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return false, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if hex4(s.b[s.i+2:]) < 0 {
					return false, false
				}
				s.i += 6
			default:
				return false, false
			}
		case c < 0x20:
			return false, false
		default:
			s.i++
		}
	}
	return false, false
}

// decodeStr passes the string that starts at s.i, appending its text to
// dst as unquoteJSON does: validated and decoded in one pass.
func (s *jsonScanner) decodeStr(dst []byte) ([]byte, bool) {
	out, n, ok := decodeJSONString(dst, s.b[s.i+1:])
	if end := s.i + 1 + n; !ok || end >= len(s.b) {
		return nil, false
	}
	s.i += n + 2
	return out, true
}

func (s *jsonScanner) literal(word string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}

// number passes a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() bool {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *jsonScanner) digits() int {
	from := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - from
}

// hex4 is the value of the four hex digits b starts with, or -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unquoteJSON appends to dst the text of the JSON string whose contents
// (without its quotes) are inner, decoded as encoding/json decodes it:
// invalid UTF-8 and lone surrogates become U+FFFD. ok is false when inner
// is not a string's contents.
func unquoteJSON(dst, inner []byte) (out []byte, ok bool) {
	out, n, ok := decodeJSONString(dst, inner)
	return out, ok && n == len(inner)
}

// decodeJSONString appends to dst the text of the string contents inner
// starts with, up to its first unescaped '"' (n is where that is, or
// len(inner)).
// ok is false when they are not a string's contents.
func decodeJSONString(dst, inner []byte) (out []byte, n int, ok bool) {
	for i := 0; i < len(inner); {
		// Copy the run of bytes that need no decoding at once.
		run := i
		for run < len(inner) && inner[run] >= 0x20 && inner[run] < utf8.RuneSelf && inner[run] != '"' && inner[run] != '\\' {
			run++
		}
		dst = append(dst, inner[i:run]...)
		if i = run; i == len(inner) {
			break
		}
		switch c := inner[i]; {
		case c == '\\':
			if i+1 >= len(inner) {
				return dst, i, false
			}
			switch e := inner[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(inner[i+2:])
				if r < 0 {
					return dst, i, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A pair is taken whole; a lone half is U+FFFD and
					// what follows it is read on its own.
					if i+1 < len(inner) && inner[i] == '\\' && inner[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(inner[i+2:])); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, i, false
			}
			i += 2
		case c == '"':
			return dst, i, true
		case c < 0x20:
			return dst, i, false
		default:
			r, size := utf8.DecodeRune(inner[i:])
			// A byte that starts no valid sequence is U+FFFD.
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst, len(inner), true
}
