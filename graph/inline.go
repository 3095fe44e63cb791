package graph

// The generated code marshals every list of objects with a goroutine per
// element and resolves every resolver field of an object after the first on
// a goroutine of its own, so that dataloader batches can gather the loads of
// siblings. A query needs none of that: its root fields read every level
// ahead (loaders.Ahead), and the resolvers below only find rows in caches.
// For such an operation (loaders.Inline) these two functions, which
// graph/codegen puts in place of gqlgen's, do the work on the calling
// goroutine; for the others (mutations, subscription events) they hand it
// to gqlgen unchanged.

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/savvysolve/api/graph/model"
	"github.com/savvysolve/api/loaders"
)

// marshalSlice stands for graphql.MarshalSliceConcurrently.
func marshalSlice(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
	marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if !loaders.Inline(ctx) {
		return graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshal)
	}
	// The elements' field contexts (which place their errors) and indexes
	// come in one allocation each, not two for every element.
	ret := make(graphql.Array, length)
	fcs, index := make([]graphql.FieldContext, length), make([]int, length)
	for i := range length {
		index[i], fcs[i].Index = i, &index[i]
		ctx := graphql.WithFieldContext(ctx, &fcs[i])
		ret[i] = marshalElement(ctx, i, omitPanicHandler, marshal)
	}
	return ret
}

// marshalElement marshals element i; a panic leaves Null in its place and an
// error on its path, as gqlgen's own recovery does.
func marshalElement(ctx context.Context, i int, omitPanicHandler bool,
	marshal func(ctx context.Context, i int) graphql.Marshaler) (ret graphql.Marshaler) {
	if !omitPanicHandler {
		defer func() {
			if r := recover(); r != nil {
				graphql.AddError(ctx, graphql.Recover(ctx, r))
				ret = graphql.Null
			}
		}()
	}
	return marshal(ctx, i)
}

// invalid says whether a field's value invalidates its object, as the field
// set's Dispatch counts it: a null where the schema forbids one.
func invalid(v graphql.Marshaler, nonNull bool) bool {
	return (nonNull && v == graphql.Null) || (!nonNull && v == graphql.RequiredNull)
}

// newDeferredGroup stands for graphql.NewDeferredGroup, which computes the
// object's path and allocates a field set and a map for every object of a
// response, while only an object with a deferred field (@defer) uses them.
func newDeferredGroup(ctx context.Context, fields []graphql.CollectedField) graphql.DeferredGroup {
	for _, f := range fields {
		if f.IsDeferred() {
			return graphql.NewDeferredGroup(ctx)
		}
	}
	return graphql.DeferredGroup{}
}

// object writes an object's fields as graphql.FieldSet does (in order, an
// alias once), without the map of written aliases that FieldSet allocates
// for every object: an object has few fields, a scan of the previous ones
// costs less.
type object struct {
	fields []graphql.CollectedField
	set    *fieldSet
}

func (o object) MarshalGQL(w io.Writer) {
	b, ok := w.(*bytes.Buffer) // always, for a response: writes without an interface call each
	if !ok {
		b = new(bytes.Buffer)
		defer func() { w.Write(b.Bytes()) }()
	}
	b.WriteByte('{')
	first := true
	for i := range o.fields {
		if o.written(i) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		// An alias is a GraphQL name ([_A-Za-z][_0-9A-Za-z]*): nothing to escape.
		b.WriteByte('"')
		b.WriteString(o.fields[i].Alias)
		b.WriteString(`":`)
		o.set.Values[i].MarshalGQL(b)
	}
	b.WriteByte('}')
}

// written says whether a field before i has i's alias.
func (o object) written(i int) bool {
	for j := range i {
		if o.fields[j].Alias == o.fields[i].Alias {
			return true
		}
	}
	return false
}

// buffers hold the response data of queries and mutations: a large response
// grows its buffer a dozen times, and each answer would allocate it anew.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled bounds the buffers kept: a rare huge response is left to the GC.
const maxPooled = 4 << 20

func responseBuffer() *bytes.Buffer {
	b := buffers.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

// Release gives back the buffer behind a query's or mutation's response data
// once the answer is written; data must not be used after. Data that was not
// released is left to the GC.
func Release(data []byte) {
	if cap(data) == 0 || cap(data) > maxPooled {
		return
	}
	buffers.Put(bytes.NewBuffer(data[:0]))
}

// objects saves an operation two allocations per object of its response:
// gqlgen's CollectFields hashes the type names with an allocated hasher on
// every call (its cache key), and NewFieldSet allocates a field set and its
// values. objects keeps the fields it collected by identity (a selection
// set's backing array and the generated implementors list, both fixed for an
// operation), and hands out field sets from blocks.
type objects struct {
	mu     sync.Mutex
	fields []collected // an operation has a few selection sets: a scan beats a map
	mode   int         // 0 until the first field set, then gqlgenSets or blockSets
	sets   []fieldSet
	values []graphql.Marshaler
	fcs    []graphql.FieldContext
}

type collected struct {
	sel       *ast.Selection
	n         int
	satisfies *string
	fields    []graphql.CollectedField
}

// maxCollected bounds the scan; a larger operation uses gqlgen's cache for
// the rest of its selection sets.
const maxCollected = 64

// collect stands for graphql.CollectFields.
func (o *objects) collect(oc *graphql.OperationContext, sel ast.SelectionSet, satisfies []string) []graphql.CollectedField {
	if len(sel) == 0 || len(satisfies) == 0 || long(oc) {
		return graphql.CollectFields(oc, sel, satisfies)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.fields {
		if c.sel == &sel[0] && c.n == len(sel) && c.satisfies == &satisfies[0] {
			return c.fields
		}
	}
	fields := graphql.CollectFields(oc, sel, satisfies)
	if len(o.fields) < maxCollected {
		o.fields = append(o.fields, collected{&sel[0], len(sel), &satisfies[0], fields})
	}
	return fields
}

// Blocks of field sets and values: a response of a few objects wastes
// little, one of thousands allocates a few dozen times.
const (
	setsPerBlock   = 32
	valuesPerBlock = 256
)

// fieldSet stands for graphql.NewFieldSet: a field set of its own kind,
// from blocks for an operation that runs inline (loaders.Inline).
func (o *objects) fieldSet(ctx context.Context, fields []graphql.CollectedField) *fieldSet {
	n := len(fields)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mode == 0 { // the first object of the operation
		o.mode = gqlgenSets
		if loaders.Inline(ctx) && !long(graphql.GetOperationContext(ctx)) {
			o.mode = blockSets
		}
	}
	if o.mode == gqlgenSets {
		return &fieldSet{Values: make([]graphql.Marshaler, n), fields: fields}
	}
	if len(o.sets) == 0 {
		o.sets = make([]fieldSet, setsPerBlock)
	}
	if len(o.values) < n {
		o.values = make([]graphql.Marshaler, max(valuesPerBlock, n))
	}
	s := &o.sets[0]
	s.Values, s.fields = o.values[:n:n], fields
	o.sets, o.values = o.sets[1:], o.values[n:]
	return s
}

// fieldSet is what the generated code of an object fills: its fields'
// values and the count of invalid ones (a null where the schema forbids
// one), in a third of the bytes of gqlgen's FieldSet, which an inline query
// does not need. A field resolved concurrently (an operation that does not
// run inline, or a deferred field) goes through gqlgen's, made on first
// need, which shares the values.
type fieldSet struct {
	Values   []graphql.Marshaler
	Invalids uint32
	fields   []graphql.CollectedField
	gq       *graphql.FieldSet
}

func (s *fieldSet) gqlgen() *graphql.FieldSet {
	if s.gq == nil {
		s.gq = graphql.NewFieldSet(s.fields)
		copy(s.gq.Values, s.Values)
		s.Values = s.gq.Values
	}
	return s.gq
}

func (s *fieldSet) ResolveConcurrently(oc *graphql.OperationContext, deferred *graphql.DeferredGroup, i int,
	recoverFromPanic, nonNull bool, resolve func(ctx context.Context) graphql.Marshaler) {
	s.gqlgen().ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
}

func (s *fieldSet) ResolveRootConcurrently(ctx context.Context, oc *graphql.OperationContext, i int,
	recoverFromPanic, nonNull bool, resolve func(ctx context.Context) graphql.Marshaler) {
	s.gqlgen().ResolveRootConcurrently(ctx, oc, i, recoverFromPanic, nonNull, resolve)
}

// Dispatch runs the fields resolved concurrently, if any, and counts their
// invalid values with the others.
func (s *fieldSet) Dispatch(ctx context.Context) {
	if s.gq != nil {
		s.gq.Dispatch(ctx)
		s.Invalids += atomic.LoadUint32(&s.gq.Invalids)
	}
}

// fieldContext returns fc in a block slot when the operation's field sets
// come from blocks (they do from its first object on), else on the heap.
func (o *objects) fieldContext(fc graphql.FieldContext) *graphql.FieldContext {
	o.mu.Lock()
	defer o.mu.Unlock()
	var p *graphql.FieldContext // a copy: fc itself must not escape (it would be allocated on every call)
	switch {
	case o.mode != blockSets:
		p = new(graphql.FieldContext)
	case len(o.fcs) > 0:
		p, o.fcs = &o.fcs[0], o.fcs[1:]
	default:
		o.fcs = make([]graphql.FieldContext, setsPerBlock)
		p, o.fcs = &o.fcs[0], o.fcs[1:]
	}
	*p = fc
	return p
}

// Where an operation's field sets come from.
const (
	gqlgenSets = 1 + iota
	blockSets
)

// long says whether oc's operation lives on (a subscription): its events
// are few objects each, and blocks would hold on to memory for as long as
// it lives.
func long(oc *graphql.OperationContext) bool {
	return oc == nil || oc.Operation == nil || oc.Operation.Operation == ast.Subscription
}

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

// inline says whether ctx's operation resolves inline (loaders.Inline).
func inline(ctx context.Context) bool { return loaders.Inline(ctx) }
