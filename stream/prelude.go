// Package stream holds the pieces of response streaming: the HTTP prelude
// a streaming function writes before its body, the event-stream framing of
// InvokeWithResponseStream, a relay that passes each chunk on as it
// comes, and the bandwidth AWS allows a stream.
package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// HTTPIntegrationContentType marks a streamed response that starts with a
// prelude: JSON, then eight NUL bytes, then the body.
const HTTPIntegrationContentType = "application/vnd.awslambda.http-integration-response"

// MaxPrelude is how far into a stream the prelude's delimiter may come.
const MaxPrelude = 16 << 10

// delimiter ends the prelude.
var delimiter = make([]byte, 8)

// Prelude is what a streaming function put before its body: the status,
// headers and cookies of a function URL's response, as the function wrote
// them. Mapping them onto HTTP (which statuses and headers are usable) is
// the URL's business, as for a buffered result.
type Prelude struct {
	StatusCode json.RawMessage            `json:"statusCode"`
	Headers    map[string]json.RawMessage `json:"headers"`
	Cookies    []string                   `json:"cookies"`
}

// Errors reading a prelude. All mean the stream cannot become an HTTP
// response: a function URL answers 502.
var (
	ErrPreludeTooLong = errors.New("stream: no prelude delimiter in the first 16 KiB")
	ErrNoPrelude      = errors.New("stream: the stream ended before its prelude's delimiter")
	ErrBadPrelude     = errors.New("stream: the prelude is not a valid HTTP prelude")
)

// ReadPrelude reads r up to the prelude's delimiter, which must end within
// the first MaxPrelude bytes, and parses the JSON before it. It returns the prelude and the bytes it read past the
// delimiter, which begin the body.
func ReadPrelude(r io.Reader) (*Prelude, []byte, error) {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	for {
		if i := bytes.Index(buf, delimiter); i >= 0 {
			if i+len(delimiter) > MaxPrelude {
				return nil, nil, ErrPreludeTooLong
			}
			p, err := ParsePrelude(buf[:i])
			if err != nil {
				return nil, nil, err
			}
			return p, buf[i+len(delimiter):], nil
		}
		if len(buf) >= MaxPrelude {
			return nil, nil, ErrPreludeTooLong
		}
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil && n == 0 {
			if bytes.Contains(buf, delimiter) {
				continue
			}
			if errors.Is(err, io.EOF) {
				return nil, nil, ErrNoPrelude
			}
			return nil, nil, err
		}
	}
}

// ParsePrelude reads a prelude's JSON: an object, or nothing at all.
func ParsePrelude(raw []byte) (*Prelude, error) {
	p := &Prelude{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPrelude, err)
	}
	return p, nil
}
