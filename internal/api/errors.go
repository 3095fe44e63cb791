package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/internal/apperr"
)

// presentError is the one place errors become what clients read: an
// apperr.Error keeps its code, message and field; gqlgen's own parse and
// validation errors keep theirs; anything else is logged in full and answered
// as INTERNAL_SERVER_ERROR with no SQL, driver or panic text.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if e := apperr.From(err); e != nil {
			gerr.Message = e.Message
			gerr.Extensions = map[string]any{"code": string(e.Code)}
			if e.Field != "" {
				gerr.Extensions["field"] = e.Field
			}
			return gerr
		}
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Err == nil {
			// gqlgen's own errors: parse, validation and argument coercion.
			if _, ok := gerr.Extensions["code"]; !ok {
				gerr.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
			}
			return gerr
		}
		log.ErrorContext(ctx, "unexpected error", "err", err, "path", gerr.Path.String())
		gerr.Message = "internal server error"
		gerr.Extensions = map[string]any{"code": string(apperr.Internal)}
		return gerr
	}
}

// recoverPanic logs a resolver panic with its stack; the client sees INTERNAL_SERVER_ERROR.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return apperr.New(apperr.Internal, "internal server error")
	}
}
