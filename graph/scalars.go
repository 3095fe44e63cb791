package graph

import (
	"bytes"
	"encoding/binary"
	"io"
	"time"
	"unsafe"

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
	for i := nextEscaped(s, 0); i < len(s); i = nextEscaped(s, i+1) {
		b.WriteString(s[start:i])
		switch c := s[i]; c {
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

// nextEscaped is the index of the first byte of s from i on that is written
// escaped, or len(s). It tests eight bytes at a time (a chat message is
// mostly plain text, and scanning it byte by byte was 5 % of a history
// read's CPU): a word holds such a byte if one of its bytes is below 0x20,
// or equal to '"' or '\\' (each a zero byte after an XOR). The tests have
// no false negatives; a false positive only sends that word to the byte loop.
func nextEscaped(s string, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		q, bs := x^(ones*'"'), x^(ones*'\\')
		if ((x-ones*0x20)|(q-ones)|(bs-ones))&^x&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if escaped[s[i]] {
			return i
		}
	}
	return len(s)
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
