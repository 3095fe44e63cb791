package loaders_test

import (
	"fmt"
	"testing"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/page"
	"github.com/savvysolve/api/loaders"
)

func TestMessagePage(t *testing.T) {
	ptr := func(n int) *int { return &n }
	s := func(v string) *string { return &v }
	c := page.Cursor
	for _, tc := range []struct {
		first, last   *int
		after, before *string
		want          string
		code          apperr.Code
		field         string
	}{
		{want: "{x 0 0 50 false}"},
		{first: ptr(10), after: s(c(3)), want: "{x 3 0 10 false}"},
		{last: ptr(5), want: "{x 0 0 5 true}"},
		{first: ptr(10), last: ptr(5), before: s(c(9)), want: "{x 0 9 5 true}"}, // last wins
		{after: s(c(2)), before: s(c(6)), want: "{x 2 6 50 false}"},
		{after: s(""), before: s(""), want: "{x 0 0 50 false}"},
		{first: ptr(101), code: apperr.BadUserInput, field: "first"},
		{last: ptr(-1), code: apperr.BadUserInput, field: "last"},
		{last: ptr(2), before: s("nope"), code: apperr.BadUserInput, field: "before"},
		{after: s("nope"), code: apperr.BadUserInput, field: "after"},
	} {
		k, err := loaders.MessagePageKey("x", tc.first, tc.after, tc.last, tc.before)
		if tc.code != "" {
			if e := apperr.From(err); e == nil || e.Code != tc.code || e.Field != tc.field {
				t.Errorf("%+v: error %v, want %s on %s", tc, err, tc.code, tc.field)
			}
			continue
		}
		if err != nil || fmt.Sprint(k) != tc.want {
			t.Errorf("%+v: %v %v, want %s", tc, k, err, tc.want)
		}
	}
}
