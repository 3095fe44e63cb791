package model

import (
	"bytes"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalTime writes the Time scalar as graphql.MarshalTime does (RFC 3339
// with nanoseconds, quoted; null when zero), but formats straight into the
// response's buffer: gqlgen's allocates the formatted string and its quoted
// copy for every time of every object, and a chat page has one per message.
// An RFC 3339 time has nothing to escape.
func MarshalTime(t time.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) { WriteTime(w, t) })
}

// WriteTime writes t as MarshalTime's marshaler does.
func WriteTime(w io.Writer, t time.Time) {
	b, ok := w.(*bytes.Buffer)
	if !ok {
		io.WriteString(w, strconv.Quote(t.Format(time.RFC3339Nano)))
		return
	}
	b.WriteByte('"')
	b.Write(t.AppendFormat(b.AvailableBuffer(), time.RFC3339Nano))
	b.WriteByte('"')
}

// UnmarshalTime reads the Time scalar as gqlgen does.
func UnmarshalTime(v any) (time.Time, error) { return graphql.UnmarshalTime(v) }
