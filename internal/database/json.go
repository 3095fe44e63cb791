package database

import (
	"context"
	"io"

	gojson "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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

// jsonCodecs makes a connection decode json and jsonb with goccy/go-json too,
// for the store's reads on pgx's own rows (store.readRows), which bypass Bun.
func jsonCodecs(_ context.Context, c *pgx.Conn) error {
	m := c.TypeMap()
	m.RegisterType(&pgtype.Type{Name: "json", OID: pgtype.JSONOID, Codec: &pgtype.JSONCodec{Marshal: gojson.Marshal, Unmarshal: gojson.Unmarshal}})
	m.RegisterType(&pgtype.Type{Name: "jsonb", OID: pgtype.JSONBOID, Codec: &pgtype.JSONBCodec{Marshal: gojson.Marshal, Unmarshal: gojson.Unmarshal}})
	return nil
}
