package graph

// The generated code marshals every list of objects with a goroutine per
// element and resolves every resolver field of an object after the first on
// a goroutine of its own, so that dataloader batches can gather the loads of
// siblings. A query needs none of that: its root fields read every level
// ahead (loaders.Ahead), and the resolvers below only find rows in caches.
// For such an operation (loaders.Inline) the functions here, which
// graph/codegen puts in place of gqlgen's, do the work on the calling
// goroutine; for the others (mutations, subscription events) they hand it
// to gqlgen unchanged. objects.go and scalars.go hold the generator's other
// replacements: how objects are built and written, and scalars written.

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

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

// inline says whether ctx's operation resolves inline (loaders.Inline).
func inline(ctx context.Context) bool { return loaders.Inline(ctx) }
