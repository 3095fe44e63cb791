package graph

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/savvysolve/api/loaders"
)

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
