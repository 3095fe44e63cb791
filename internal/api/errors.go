package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/internal/apperr"
)

// presentError is the one place errors become what clients read, as
// apperr.Classify says: a client error keeps its code, message and field;
// anything internal is logged in full and answered without SQL, driver or
// panic text. UNAVAILABLE answers 503 with Retry-After over HTTP.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		e, internal := apperr.Classify(err)
		if internal {
			log.ErrorContext(ctx, "unexpected error", "err", err, "path", gerr.Path.String())
		}
		if e.Code == apperr.Unavailable {
			setReply(ctx, http.StatusServiceUnavailable, "Retry-After", retryAfterUnavailable)
			log.WarnContext(ctx, "unavailable", "err", err, "path", gerr.Path.String())
		}
		gerr.Message = e.Message
		if gerr.Extensions == nil || internal || apperr.From(err) != nil {
			gerr.Extensions = map[string]any{}
		}
		gerr.Extensions["code"] = string(e.Code)
		if e.Field != "" {
			gerr.Extensions["field"] = e.Field
		}
		return gerr
	}
}

// retryAfterUnavailable is the Retry-After (seconds) of an UNAVAILABLE answer:
// a database restart or failover takes a few seconds.
const retryAfterUnavailable = "2"

// recoverPanic logs a resolver panic with its stack; the client sees INTERNAL_SERVER_ERROR.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return apperr.New(apperr.Internal, "internal server error")
	}
}
