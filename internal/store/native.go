package store

import (
	"context"
	"database/sql"
	"encoding"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/savvysolve/api/internal/database"
)

// The reads that return many rows (the pages and batches that loaders read
// ahead) run on pgx's own rows: each value is decoded once, straight into
// its field. Through database/sql and Bun's models a value is converted to a
// driver.Value, boxed, and converted again into its field by reflection,
// which cost a third of a nested chat history's CPU (bench, history). Bun
// still builds the statements; the rest of the store scans with Bun.

// rows is what a native read scans: pgx's own rows on the pool, database/sql's
// inside a transaction. Both scan a column into the same Go types.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readRows runs query (with Bun's ? placeholders when args are given) and
// calls each for every row, between db's query hooks (database.RunHooks).
func readRows(ctx context.Context, db DB, each func(rows) error, query string, args ...any) error {
	if len(args) > 0 {
		query = schema.NewQueryGen(db.Dialect()).FormatQuery(query, args...)
	}
	pool, ok := db.(*bun.DB)
	if !ok { // a transaction: Bun runs its hooks
		rs, err := db.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rs.Close()
		return scanAll(rs, each)
	}
	return database.RunHooks(ctx, pool, query, func(ctx context.Context) error {
		conn, err := pool.DB.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("store: the pool's driver is %T, not pgx", dc)
			}
			rs, err := c.Conn().Query(ctx, query)
			if err != nil {
				return err
			}
			defer rs.Close()
			return scanAll(rs, each)
		})
	})
}

func scanAll(rs rows, each func(rows) error) error {
	for rs.Next() {
		if err := each(rs); err != nil {
			return err
		}
	}
	return rs.Err()
}

// columnNames are the names of rs's columns (pgx's rows: selectInto reads
// through Bun inside a transaction).
func columnNames(rs rows) ([]string, error) {
	prs, ok := rs.(pgx.Rows)
	if !ok {
		return nil, fmt.Errorf("store: rows of type %T", rs)
	}
	fds := prs.FieldDescriptions()
	names := make([]string, len(fds))
	for i, fd := range fds {
		names[i] = fd.Name
	}
	return names, nil
}

// selectInto runs q, a Bun select of whole rows of *dest's model M (columns
// of M's table, or of a struct that extends it, without relations), and
// appends a new M for each row to *dest: on the pool through readRows, in a
// transaction through Bun (database/sql cannot scan a jsonb column into its
// struct).
func selectInto[M any](ctx context.Context, db DB, q *bun.SelectQuery, dest *[]*M) error {
	if _, ok := db.(*bun.DB); !ok {
		return q.Scan(ctx, dest)
	}
	query, err := q.AppendQuery(schema.NewQueryGen(db.Dialect()), nil)
	if err != nil {
		return err
	}
	var fields []field
	var ptrs []any
	var sc scanner
	return readRows(ctx, db, func(rs rows) error {
		if fields == nil {
			if fields, err = fieldsOf[M](db, rs); err != nil {
				return err
			}
			ptrs = make([]any, len(fields))
		}
		m := new(M)
		for i, f := range fields {
			p := unsafe.Add(unsafe.Pointer(m), f.offset)
			if f.plainString {
				ptrs[i] = (*string)(p)
			} else {
				ptrs[i] = reflect.NewAt(f.typ, p).Interface()
			}
		}
		if err := sc.scan(rs, ptrs...); err != nil {
			return err
		}
		*dest = append(*dest, m)
		return nil
	}, string(query))
}

// field is where a column goes in a model: its offset in the struct and type.
type field struct {
	offset uintptr
	typ    reflect.Type
	// plainString: a string, or a named string type (an enum) that does not
	// scan itself, read like a string.
	plainString bool
}

// Interfaces by which a type scans itself (pgx asks for these).
var (
	sqlScanner    = reflect.TypeFor[sql.Scanner]()
	textScanner   = reflect.TypeFor[pgtype.TextScanner]()
	textUnmarshal = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func isPlainString(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Kind() == reflect.String && !p.Implements(sqlScanner) && !p.Implements(textScanner) && !p.Implements(textUnmarshal)
}

// fieldPlans caches, per model type and list of columns, the fields they go to.
var fieldPlans sync.Map // planKey → []field

type planKey struct {
	typ     reflect.Type
	columns string
}

// fieldsOf maps rs's columns to the fields of M that Bun's table of M gives
// them, following embedded (extended) structs but never a pointer.
func fieldsOf[M any](db DB, rs rows) ([]field, error) {
	names, err := columnNames(rs)
	if err != nil {
		return nil, err
	}
	typ := reflect.TypeFor[M]()
	key := planKey{typ, fmt.Sprint(names)}
	if fs, ok := fieldPlans.Load(key); ok {
		return fs.([]field), nil
	}
	table := db.Dialect().Tables().Get(typ)
	fs := make([]field, len(names))
	for i, name := range names {
		f := table.LookupField(name)
		if f == nil {
			return nil, fmt.Errorf("store: %s has no field for column %q", typ, name)
		}
		t := typ
		for _, j := range f.Index {
			if t.Kind() != reflect.Struct {
				return nil, fmt.Errorf("store: %s reaches column %q through a pointer", typ, name)
			}
			sf := t.Field(j)
			fs[i].offset += sf.Offset
			t = sf.Type
		}
		fs[i].typ, fs[i].plainString = t, isPlainString(t)
	}
	fieldPlans.Store(key, fs)
	return fs, nil
}

// scanner scans rows as pgx's Scan does, with one difference: a column
// read as text into a string (*string, **string, *pgtype.Text) is copied
// into a block shared with the read's other strings, not into an
// allocation of its own (ids, names, bodies: most values of a row). Every
// other column is decoded by pgx's own plan for it. A block lives as long as
// any of its strings: the rows of these reads live for a request or an
// event's delivery; a cache that keeps rows for long (the viewer cache)
// reads them through Bun instead.
type scanner struct {
	plans []pgtype.ScanPlan
	block []byte
}

// blockSize is the size of the blocks strings are copied into; a value
// longer than that gets a block of its own.
const blockSize = 8 << 10

func (sc *scanner) scan(rs rows, dest ...any) error {
	prs, ok := rs.(pgx.Rows)
	if !ok { // database/sql's, in a transaction
		return rs.Scan(dest...)
	}
	fds, raw := prs.FieldDescriptions(), prs.RawValues()
	if len(dest) != len(raw) {
		return fmt.Errorf("store: %d columns scanned into %d values", len(raw), len(dest))
	}
	if sc.plans == nil {
		sc.plans = make([]pgtype.ScanPlan, len(dest))
	}
	for i, d := range dest {
		if fds[i].Format == pgx.TextFormatCode && sc.text(raw[i], d) {
			continue
		}
		if sc.plans[i] == nil {
			sc.plans[i] = prs.Conn().TypeMap().PlanScan(fds[i].DataTypeOID, fds[i].Format, d)
		}
		if err := sc.plans[i].Scan(raw[i], d); err != nil {
			return fmt.Errorf("store: column %s: %w", fds[i].Name, err)
		}
	}
	return nil
}

// text stores the text value v in d if d is one of the string kinds, and
// tells whether it did. (NULL into a plain string is left to pgx's error.)
func (sc *scanner) text(v []byte, d any) bool {
	switch d := d.(type) {
	case *string:
		if v == nil {
			return false
		}
		*d = sc.str(v)
	case **string:
		if *d = nil; v != nil {
			s := sc.str(v)
			*d = &s
		}
	case *pgtype.Text:
		*d = pgtype.Text{String: sc.str(v), Valid: v != nil}
	default:
		return false
	}
	return true
}

// str copies v into the current block and returns the string it now is.
// A block is only ever appended to, so the strings handed out never change.
func (sc *scanner) str(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if len(v) > cap(sc.block)-len(sc.block) {
		sc.block = make([]byte, 0, max(blockSize, len(v)))
	}
	n := len(sc.block)
	sc.block = append(sc.block, v...)
	return unsafe.String(&sc.block[n], len(v))
}
