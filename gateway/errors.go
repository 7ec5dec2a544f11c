package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/furl-dev/furl/urlconfig"
)

// awsError is an error the Lambda API reports: an HTTP status, the type
// named in x-amzn-ErrorType, and a JSON body with the message.
type awsError struct {
	Status int
	Type   string
	// Message is shown to the caller. A nil Message is sent as null, as AWS
	// does for some access errors.
	Message *string
	// MessageKey is the body member holding the message: "message" or
	// "Message", which differ between error types on AWS.
	MessageKey string
	// UserType adds "Type":"User", which AWS sends with most client errors.
	UserType bool
	// Reason, when set, is the body's Reason member (TooManyRequestsException).
	Reason string
	// Err is an internal cause: logged, never shown.
	Err error
}

func (e *awsError) Error() string {
	msg := "<null>"
	if e.Message != nil {
		msg = *e.Message
	}
	if e.Err != nil {
		return e.Type + ": " + msg + ": " + e.Err.Error()
	}
	return e.Type + ": " + msg
}

func (e *awsError) Unwrap() error { return e.Err }

// errorShapes gives, for each error type furl reports, its status and how
// AWS spells the message member of its body.
var errorShapes = map[string]struct {
	status int
	key    string
}{
	urlconfig.ErrValidation:           {http.StatusBadRequest, "message"},
	urlconfig.ErrInvalidParameter:     {http.StatusBadRequest, "message"},
	urlconfig.ErrInvalidRequest:       {http.StatusBadRequest, "message"},
	urlconfig.ErrNotFound:             {http.StatusNotFound, "Message"},
	urlconfig.ErrConflict:             {http.StatusConflict, "message"},
	urlconfig.ErrPreconditionFailed:   {http.StatusPreconditionFailed, "message"},
	urlconfig.ErrPolicyLengthExceeded: {http.StatusBadRequest, "message"},
	urlconfig.ErrRequestTooLarge:      {http.StatusRequestEntityTooLarge, "message"},
	urlconfig.ErrService:              {http.StatusInternalServerError, "Message"},
	urlconfig.ErrAccessDenied:         {http.StatusForbidden, "Message"},
	errNotImplemented:                 {http.StatusNotImplemented, "message"},
	errTooManyRequests:                {http.StatusTooManyRequests, "message"},
	errUnknownOperation:               {http.StatusNotFound, "message"},
}

// Error types the gateway reports itself.
const (
	errNotImplemented   = "NotImplementedException"
	errUnknownOperation = "UnknownOperationException"
	errTooManyRequests  = "TooManyRequestsException"
)

func newError(typ, msg string) *awsError {
	shape := errorShapes[typ]
	userType := shape.status < 500 && typ != urlconfig.ErrValidation && typ != urlconfig.ErrRequestTooLarge
	return &awsError{Status: shape.status, Type: typ, Message: &msg, MessageKey: shape.key, UserType: userType}
}

// toAWSError turns any error from a handler into what the caller sees.
// Errors that are not AWS errors are internal failures: the caller gets a
// ServiceException and the log gets the cause.
func toAWSError(err error) *awsError {
	var ae *awsError
	if errors.As(err, &ae) {
		return ae
	}
	if ue, ok := urlconfig.AsError(err); ok {
		shape, known := errorShapes[ue.Type]
		if !known {
			shape.status, shape.key = http.StatusBadRequest, "message"
		}
		var msg *string
		if ue.Type != urlconfig.ErrAccessDenied { // AWS sends that one with a null message
			msg = &ue.Message
		}
		return &awsError{Status: shape.status, Type: ue.Type, Message: msg, MessageKey: shape.key,
			UserType: !ue.NoUserType && ue.Type != urlconfig.ErrValidation, Err: ue.Err}
	}
	msg := "furl failed to process the request; its log says why."
	return &awsError{Status: http.StatusInternalServerError, Type: urlconfig.ErrService, Message: &msg,
		MessageKey: "Message", Err: err}
}

// writeError sends an AWS error: the status, x-amzn-ErrorType, and the JSON
// body. Internal causes are logged.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	ae := toAWSError(err)
	if ae.Status >= 500 {
		log.Error("request failed", "type", ae.Type, "err", err)
	} else if ae.Err != nil {
		log.Info("request refused", "type", ae.Type, "cause", ae.Err)
	}
	var body bytes.Buffer
	body.WriteByte('{')
	if ae.Reason != "" {
		reason, _ := json.Marshal(ae.Reason)
		body.WriteString(`"Reason":`)
		body.Write(reason)
		body.WriteByte(',')
	}
	if ae.UserType {
		body.WriteString(`"Type":"User",`)
	}
	key, _ := json.Marshal(ae.MessageKey)
	body.Write(key)
	body.WriteByte(':')
	if ae.Message == nil {
		body.WriteString("null")
	} else {
		msg, _ := json.Marshal(*ae.Message)
		body.Write(msg)
	}
	body.WriteByte('}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	setRaw(h, "x-amzn-ErrorType", ae.Type)
	w.WriteHeader(ae.Status)
	w.Write(body.Bytes())
}

// setRaw sets a header with the exact name AWS uses; Go would otherwise
// canonicalise x-amzn-RequestId to X-Amzn-Requestid. HTTP/1.1 clients see
// AWS's spelling; HTTP/2 lower-cases every name anyway.
func setRaw(h http.Header, name, value string) {
	h[name] = []string{value}
}
