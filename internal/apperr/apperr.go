// Package apperr is the one error type that crosses from the domain to the
// API: a code from the API contract, a message meant for clients, and (for
// BAD_USER_INPUT) the input field at fault. Anything that is not an *Error is
// internal: clients see INTERNAL_SERVER_ERROR, the log sees the detail.
package apperr

import (
	"context"
	"errors"
	"fmt"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Code is an error code of the API contract (extensions.code).
type Code string

// The codes of the API contract.
const (
	BadUserInput Code = "BAD_USER_INPUT"
	Unauthent    Code = "UNAUTHENTICATED"
	Forbidden    Code = "FORBIDDEN"
	NotFound     Code = "NOT_FOUND"
	Conflict     Code = "CONFLICT"
	RateLimited  Code = "RATE_LIMITED"
	TooComplex   Code = "COMPLEXITY_LIMIT_EXCEEDED"
	Internal     Code = "INTERNAL_SERVER_ERROR"
	// Unavailable: the server cannot reach what it needs (the database)
	// for now; nothing was changed and the same request may be retried.
	// Over HTTP it answers 503 with Retry-After.
	Unavailable Code = "UNAVAILABLE"
)

// Error is an error meant for clients.
type Error struct {
	Code    Code
	Message string
	Field   string // the input field at fault, for BAD_USER_INPUT
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// New returns an error with code and a client-facing message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Message: fmt.Sprintf(format, args...), Field: field}
}

// NotFoundf reports an object that does not exist or that the viewer may not see.
func NotFoundf(kind string) *Error { return New(NotFound, "%s not found", kind) }

// From returns err's *Error, or nil when err is internal (or nil).
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// CodeOf returns err's code; INTERNAL_SERVER_ERROR for anything that is not an *Error.
func CodeOf(err error) Code {
	if e := From(err); e != nil {
		return e.Code
	}
	return Internal
}

// Internal errors as clients read them.
var (
	errInternal = New(Internal, "internal server error")
	// Deadline is what a request past its deadline answers.
	Deadline = New(Internal, "the request took too long")
)

// Classify is the one answer to "what does a client hear of err?", used by
// the error presenter and by the metrics and traces alike. An *Error is
// answered as it is; gqlgen's own errors (parse, validation, argument
// coercion) keep their code, BAD_USER_INPUT when they have none; a passed
// deadline is "the request took too long"; anything else is internal, and
// its detail is for the log only. internal reports that last case.
func Classify(err error) (e *Error, internal bool) {
	if e := From(err); e != nil {
		return e, false
	}
	var ge *gqlerror.Error
	if errors.As(err, &ge) && ge.Err == nil {
		code, _ := ge.Extensions["code"].(string)
		if code == "" {
			code = string(BadUserInput)
		}
		return &Error{Code: Code(code), Message: ge.Message}, false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Deadline, true
	}
	return errInternal, true
}
