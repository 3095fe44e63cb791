package auth

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/events"
)

// Middleware puts the request's viewer into its context. A token that does
// not verify answers 401 with a GraphQL error (UNAUTHENTICATED), so a client
// never silently runs as anonymous with a broken token. The request's own
// changes to users reach the cache as soon as they are published (see
// events.WithHook), so its client's next request on this replica sees them.
func (a *Authenticator) Middleware(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"))
			if err != nil {
				e := apperr.From(err)
				if e == nil {
					log.Error("authenticate", "err", err)
					e = apperr.New(apperr.Internal, "internal server error")
				}
				status := http.StatusUnauthorized
				switch e.Code {
				case apperr.Internal:
					status = http.StatusInternalServerError
				case apperr.Unavailable: // the database is down: retry shortly
					status = http.StatusServiceUnavailable
					w.Header().Set("Retry-After", "2")
				}
				WriteError(w, status, e)
				return
			}
			ctx := r.Context()
			if v != (Viewer{}) { // anonymous needs no value: a websocket keeps its context for its life
				ctx = WithViewer(ctx, v)
			}
			ctx = events.WithHook(ctx, a.cache.Heard)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// WriteError answers a request with a GraphQL error body outside gqlgen.
func WriteError(w http.ResponseWriter, status int, e *apperr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": map[string]any{"code": e.Code}}},
	})
}
