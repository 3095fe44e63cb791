package database

import (
	"io"

	gojson "github.com/goccy/go-json"
	"github.com/uptrace/bun/extra/bunjson"
)

// jsonb columns (a ticket's customer info, a session's pricing and payment,
// a solver's stats) are decoded on every read of their rows: goccy/go-json,
// a drop-in for encoding/json, does it in a fraction of the reflection
// encoding/json spends (a tenth of a page of tickets' CPU).
func init() { bunjson.SetProvider(jsonProvider{}) }

type jsonProvider struct{}

func (jsonProvider) Marshal(v any) ([]byte, error)      { return gojson.Marshal(v) }
func (jsonProvider) Unmarshal(data []byte, v any) error { return gojson.Unmarshal(data, v) }
func (jsonProvider) NewEncoder(w io.Writer) bunjson.Encoder {
	return gojson.NewEncoder(w)
}
func (jsonProvider) NewDecoder(r io.Reader) bunjson.Decoder {
	return gojson.NewDecoder(r)
}
