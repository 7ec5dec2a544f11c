package stream

import (
	"encoding/json"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// EventStreamContentType is InvokeWithResponseStream's content type.
const EventStreamContentType = "application/vnd.amazon.eventstream"

// MaxPayloadChunk is the largest PayloadChunk furl sends: well under the
// 24 MiB an event-stream message may carry, and small enough that a big
// write from a function still arrives in steps.
const MaxPayloadChunk = 1 << 20

// EventWriter writes InvokeWithResponseStream's events, flushing after
// each: PayloadChunk events carrying the function's bytes, then one
// InvokeComplete.
type EventWriter struct {
	w     io.Writer
	flush func() error
	enc   *eventstream.Encoder
}

// NewEventWriter writes events to w, calling flush after each.
func NewEventWriter(w io.Writer, flush func() error) *EventWriter {
	return &EventWriter{w: w, flush: flush, enc: eventstream.NewEncoder()}
}

// Write sends p as PayloadChunk events, so that an EventWriter can be the
// destination of Relay.
func (e *EventWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), MaxPayloadChunk)
		if err := e.event("PayloadChunk", "application/octet-stream", p[:n]); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// Complete is InvokeComplete's payload. Empty members are left out, so a
// success is {}.
type Complete struct {
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorDetails string `json:"ErrorDetails,omitempty"`
	LogResult    string `json:"LogResult,omitempty"`
}

// InvokeComplete ends the stream.
func (e *EventWriter) InvokeComplete(c Complete) error {
	payload, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := e.event("InvokeComplete", "application/json", payload); err != nil {
		return err
	}
	return e.flush()
}

func (e *EventWriter) event(eventType, contentType string, payload []byte) error {
	msg := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(eventType)},
			{Name: ":content-type", Value: eventstream.StringValue(contentType)},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: payload,
	}
	return e.enc.Encode(e.w, msg)
}
