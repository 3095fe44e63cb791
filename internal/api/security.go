package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/clientip"
	"github.com/savvysolve/api/internal/wsconn"
)

type ctxKey int

const (
	methodKey ctxKey = iota
	replyKey
)

// clientKey is the key of the context's client for rate limiting: its IPv4
// address, or its IPv6 /64 (one subscriber's usual allocation).
func clientKey(ctx context.Context) string {
	ip := clientip.From(ctx)
	switch {
	case !ip.IsValid():
		return "unknown"
	case ip.Is6():
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}

// cors answers preflights from the allowed origins (the websocket allowlist:
// ALLOWED_ORIGINS, and local development servers outside production) and
// marks their responses readable. In production an empty list allows no
// cross-origin page.
func (d Deps) cors() *cors.Cors {
	return cors.New(cors.Options{
		AllowOriginFunc: d.allowedOrigin,
		AllowedMethods:  []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:  []string{"Authorization", "Content-Type", "Last-Event-ID"}, // Last-Event-ID: SSE resume
		ExposedHeaders:  []string{"Retry-After"},
		MaxAge:          600,
	})
}

// plainHTTP guards GraphQL over plain HTTP (websocket upgrades never come
// here): POST bodies must be application/json (a browser preflights those, so
// a foreign page cannot post them: no CSRF through forms or text/plain), at
// most MaxBodyBytes (413, nothing read past the limit); other methods are
// refused (httpTransport then reads the parameters). The request gets its deadline, and the
// extensions a way to set the response's status and headers.
func (d Deps) plainHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline := time.Now().Add(d.Limits.RequestTimeout)
		switch r.Method {
		case http.MethodPost:
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, apperr.New(apperr.BadUserInput,
					"POST a JSON GraphQL request with Content-Type: application/json"))
				return
			}
			body, ok := d.readBody(w, r, deadline)
			if !ok {
				return
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		case http.MethodGet, http.MethodOptions, http.MethodHead:
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, apperr.New(apperr.BadUserInput, "use GET or POST"))
			return
		}
		ctx, cancel := context.WithDeadline(r.Context(), deadline)
		defer cancel()
		turn := d.admit(ctx, w)
		if turn == nil {
			return
		}
		defer done(ctx, turn)
		ctx = context.WithValue(ctx, turnKey{}, true)
		rw := &replyWriter{ResponseWriter: w}
		ctx = context.WithValue(ctx, replyKey, rw)
		ctx = context.WithValue(ctx, methodKey, r.Method)
		if r.Header.Get("Upgrade") != "" {
			// Not a websocket (see New): without this header gqlgen would
			// hand the request to its websocket transport.
			r = r.Clone(ctx)
			r.Header.Del("Upgrade")
		} else {
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(rw, r)
	})
}

// eventStream guards GraphQL over SSE (graphql-sse's distinct connections):
// the websockets' origin rule (a page from an origin other than the
// server's own and ALLOWED_ORIGINS is refused with 403), then, as for plain
// HTTP, JSON bodies of at most MaxBodyBytes read by the deadline. The stream
// itself has no deadline; queries and mutations get theirs, and their turn,
// in line.
func (d Deps) eventStream(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && !wsconn.SameOrigin(origin, r) && !d.originAllowed(origin, r) {
			writeError(w, http.StatusForbidden, apperr.New(apperr.Forbidden, "pages from this origin may not open event streams"))
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, apperr.New(apperr.BadUserInput,
				"POST a JSON GraphQL request with Content-Type: application/json"))
			return
		}
		body, ok := d.readBody(w, r, time.Now().Add(d.Limits.RequestTimeout))
		if !ok {
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// readBody reads a POST body of at most MaxBodyBytes, by the request's
// deadline; a longer one answers 413 and closes the connection.
func (d Deps) readBody(w http.ResponseWriter, r *http.Request, deadline time.Time) ([]byte, bool) {
	limit := d.Limits.MaxBodyBytes
	tooLarge := func() ([]byte, bool) {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, apperr.New(apperr.BadUserInput,
			"the request body is larger than %d bytes", limit))
		return nil, false
	}
	if r.ContentLength > limit {
		return tooLarge()
	}
	// A slow client must not hold the handler past the deadline (not
	// supported by every ResponseWriter, such as httptest's: then no deadline).
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(deadline) == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case err != nil:
		writeError(w, http.StatusBadRequest, apperr.New(apperr.BadUserInput, "the request body could not be read"))
		return nil, false
	}
	return body, true
}

// admit waits for a turn to run (MAX_IN_FLIGHT, see turns): a request that
// runs beside too many others only makes all of them slower, so past the
// limit it waits in line, and overload costs waiting time, not collapse.
// Without a turn before the deadline it answers 503 and nil; otherwise the
// caller gives the turn back with done.
func (d Deps) admit(ctx context.Context, w http.ResponseWriter) adaptivelimiter.Permit {
	turn := d.turns.take(ctx)
	if turn == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, apperr.New(apperr.Unavailable, "the server is busy; try again"))
	}
	return turn
}

func writeError(w http.ResponseWriter, status int, e *apperr.Error) { auth.WriteError(w, status, e) }

// replyWriter lets an extension that refuses an operation choose the HTTP
// status (gqlgen picks 200 or 422 by the error's kind) before gqlgen writes.
type replyWriter struct {
	http.ResponseWriter
	status int // 0: gqlgen's
	wrote  bool
}

func (w *replyWriter) WriteHeader(code int) {
	if !w.wrote && w.status != 0 {
		code = w.status
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *replyWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *replyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// setReply sets the status (and headers, as name, value pairs) of the
// response of ctx's request; on websockets (no HTTP response) it does nothing.
func setReply(ctx context.Context, status int, headers ...string) {
	if w, ok := ctx.Value(replyKey).(*replyWriter); ok && !w.wrote {
		w.status = status
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
	}
}

func methodFrom(ctx context.Context) string {
	m, _ := ctx.Value(methodKey).(string)
	return m
}

// presenter is presentError with what plain HTTP adds: deadlines (the request's or the database's
// statement_timeout) answered without driver text.
func (d Deps) presenter() graphql.ErrorPresenterFunc {
	base := presentError(d.Log)
	return func(ctx context.Context, err error) *gqlerror.Error {
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Err == nil { // gqlgen's own, the transport's or the extensions'
			return base(ctx, err)
		}
		// Past the request's deadline, an internal error is the deadline's
		// doing, whatever the layer that met it made of it. (The store
		// answers a statement_timeout it sees itself.)
		if c := apperr.CodeOf(err); (c == apperr.Internal || c == apperr.Unavailable) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			d.Log.WarnContext(ctx, "the request took too long", "err", err)
			err = apperr.Deadline
		}
		return base(ctx, err)
	}
}
