// Package page holds what every list shares: the page request a client
// sends (first/after), its bounds, and the opaque cursors that mark a place
// in a list. Store functions read pages; the domain checks them; resolvers
// build them from arguments.
package page

import (
	"encoding/base64"
	"encoding/json"

	"github.com/savvysolve/api/internal/apperr"
)

// Max is the largest page a client may ask for.
const Max = 100

// Request asks for First items after the cursor After (empty: from the start).
// Uncounted says that the client asks for neither the list's total nor
// whether items come before the page: the page is read without its Span,
// whose count reads every matching row.
type Request struct {
	First     int
	After     string
	Uncounted bool
}

// Span is what a page read learns about its whole list besides the page:
// how many items match, and whether any of them come before the page (at or
// before its `after` cursor: the connection's hasPreviousPage).
type Span struct {
	Total    int
	Previous bool
}

// New builds a request from connection arguments, def items when first is unset.
func New(first *int, after *string, def int) Request {
	r := Request{First: def}
	if first != nil {
		r.First = *first
	}
	if after != nil {
		r.After = *after
	}
	return r
}

// Check refuses a page size outside 0..Max.
func Check(first int) error {
	if first < 0 || first > Max {
		return apperr.Invalid("first", "first must be between 0 and %d", Max)
	}
	return nil
}

// Cursor makes an opaque cursor of the sort key of an item.
func Cursor(parts ...any) string {
	b, _ := json.Marshal(parts)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads a cursor made by Cursor into dst (pointers, in order); arg
// names the argument it came in, for the error.
func Decode(arg, c string, dst ...any) error {
	bad := apperr.Invalid(arg, "%s is not a cursor of this list", arg)
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return bad
	}
	var raw []json.RawMessage
	if json.Unmarshal(b, &raw) != nil || len(raw) != len(dst) {
		return bad
	}
	for i := range dst {
		if json.Unmarshal(raw[i], dst[i]) != nil {
			return bad
		}
	}
	return nil
}
