package graph

import (
	"bytes"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/savvysolve/api/graph/model"
)

// quoted is a String or ID value, written as graphql.MarshalString writes
// it (the same escapes, byte for byte) with a scan of its bytes instead of a
// loop over its runes: only ASCII bytes are ever escaped, and every byte of
// a multi-byte (or invalid) UTF-8 sequence is 0x80 or above.
type quoted string

func marshalString(s string) graphql.Marshaler { return quoted(s) }

const hexDigits = "0123456789ABCDEF"

func (q quoted) MarshalGQL(w io.Writer) {
	s := string(q)
	b, ok := w.(*bytes.Buffer)
	if !ok {
		b = new(bytes.Buffer)
		defer func() { w.Write(b.Bytes()) }()
	}
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !escaped[c] {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		default:
			b.Write([]byte{'\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf]})
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// escaped marks the bytes a String is written with an escape for: control
// characters, the backslash and the double quote.
var escaped = func() (e [256]bool) {
	for c := range 0x20 {
		e[c] = true
	}
	e['\\'], e['"'] = true, true
	return e
}()

// stringAt and timeAt marshal a bound String, ID or Time field through a
// pointer to it, in the row that the response holds anyway: an interface
// holding a one-pointer struct needs no allocation, one holding a string or
// a closure does (one for each such field of each object).
type (
	stringAt struct{ p *string }
	timeAt   struct{ p *time.Time }
)

func (s stringAt) MarshalGQL(w io.Writer) { quoted(*s.p).MarshalGQL(w) }
func (t timeAt) MarshalGQL(w io.Writer)   { model.WriteTime(w, *t.p) }
