package urlconfig

import (
	"errors"
	"fmt"
)

// The AWS error types this package reports. The gateway maps each to its HTTP
// status and body shape; the names are the ones the AWS SDKs match on.
const (
	ErrValidation           = "ValidationException"
	ErrInvalidParameter     = "InvalidParameterValueException"
	ErrInvalidRequest       = "InvalidRequestContentException"
	ErrNotFound             = "ResourceNotFoundException"
	ErrConflict             = "ResourceConflictException"
	ErrPreconditionFailed   = "PreconditionFailedException"
	ErrPolicyLengthExceeded = "PolicyLengthExceededException"
	ErrRequestTooLarge      = "RequestEntityTooLargeException"
	ErrService              = "ServiceException"
	ErrAccessDenied         = "AccessDeniedException"
)

// Error is a failure reported to the Lambda API caller. Type is the AWS error
// type; Message is shown to the caller verbatim; Err, when set, is an internal
// cause that is logged but never shown.
type Error struct {
	Type    string
	Message string
	// NoUserType drops the "Type":"User" member that AWS sends with most
	// client errors; a few recorded AWS answers lack it.
	NoUserType bool
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Type, e.Message, e.Err)
	}
	return e.Type + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func errorf(typ, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...)}
}

func invalidParam(format string, args ...any) *Error {
	return errorf(ErrInvalidParameter, format, args...)
}

func notFound(format string, args ...any) *Error {
	return errorf(ErrNotFound, format, args...)
}

func conflict(format string, args ...any) *Error {
	return errorf(ErrConflict, format, args...)
}

// resourceNotFound is the text AWS uses when a sub-resource (URL config,
// policy, alias on some operations) is missing.
func resourceNotFound() *Error {
	return notFound("The resource you requested does not exist.")
}

func functionNotFound(arn string) *Error {
	return notFound("Function not found: %s", arn)
}

// accessDenied is AWS's answer to naming a function of another account:
// furl emulates one account, and its caller has no rights in any other.
// AWS sends this error with a null message.
func accessDenied() *Error {
	return &Error{Type: ErrAccessDenied, NoUserType: true}
}

func revisionMismatch() *Error {
	return errorf(ErrPreconditionFailed, "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}
