package observe

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/savvysolve/api/internal/clientip"
)

// quietPaths are logged at debug level: probes and scrapes would drown the rest.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// maxPathLen bounds the path logged (a 404 path is the client's to choose).
const maxPathLen = 200

// HTTP returns a middleware that gives each request an id (X-Request-Id, kept
// from the request when it is a plain token, else generated; see RequestID)
// and logs it when it ends: method, path (never the query string, where GET
// requests carry GraphQL variables), status, duration, bytes and client IP
// (clientip's: the same address the rate limiter counts);
// no header but the request id. It counts responses by status in m (nil: no metrics).
//
// Websocket upgrades keep working through it: the ResponseWriter it passes on
// implements http.Hijacker and http.Flusher by delegating to the one it wraps
// (and Unwrap, for http.ResponseController). A hijacked (upgraded) request is
// logged with status 101 and hijacked=true when its handler returns, that is
// when the websocket closes: its duration is the socket's life.
func HTTP(log *slog.Logger, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := r.Header.Get("X-Request-Id")
			if !validRequestID(id) {
				id = newRequestID()
			}
			w.Header().Set("X-Request-Id", id)
			rw := &responseWriter{ResponseWriter: w}
			returned := false
			defer func() {
				status := rw.status
				if !returned {
					// A panic (net/http logs it, with its stack, and drops the connection).
					status = http.StatusInternalServerError
				}
				finishHTTP(log, m, r, id, rw, status, time.Since(start))
			}()
			next.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
			returned = true
		})
	}
}

func finishHTTP(log *slog.Logger, m *Metrics, r *http.Request, id string, rw *responseWriter, status int, elapsed time.Duration) {
	switch {
	case rw.hijacked:
		status = http.StatusSwitchingProtocols
	case status == 0:
		status = http.StatusOK // nothing written: net/http answers 200
	}
	m.httpRequest(status)
	if log == nil {
		return
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelWarn
	case quietPaths[r.URL.Path]:
		level = slog.LevelDebug
	}
	if !log.Enabled(r.Context(), level) {
		return
	}
	ip := ""
	if a := clientip.Of(r); a.IsValid() {
		ip = a.String()
	}
	path := r.URL.Path
	if len(path) > maxPathLen {
		path = path[:maxPathLen]
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Float64("duration_ms", milliseconds(elapsed)),
		slog.Int64("bytes", rw.bytes),
		slog.String("client_ip", ip),
		slog.String("request_id", id),
	}
	if rw.hijacked {
		attrs = append(attrs, slog.Bool("hijacked", true)) // a websocket, here
	}
	log.LogAttrs(r.Context(), level, "http request", attrs...)
}

type requestIDKey struct{}

// RequestID returns the id HTTP gave the request of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts up to 64 letters, digits, '-', '_' and '.': an id a
// proxy set may be kept, anything else could inject into logs.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random hex digits: unique enough to correlate log
// lines, and not a secret.
func newRequestID() string {
	var b [8]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

// responseWriter records the status and size of a response. It implements
// http.Flusher and http.Hijacker by delegating through http.ResponseController,
// so websocket upgrades and streaming responses work through it; when the
// wrapped writer lacks one of them, the call fails (Hijack with an error) as
// it would have without the wrapper.
type responseWriter struct {
	http.ResponseWriter
	status   int // the final status written, 0 until then
	bytes    int64
	hijacked bool
}

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
	_ io.ReaderFrom = (*responseWriter)(nil)
)

func (w *responseWriter) WriteHeader(code int) {
	// 1xx other than 101 are informational (103 Early Hints): a final status follows.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the wrapped writer's io.ReaderFrom (sendfile) in use.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the wrapped writer's other methods
// (deadlines, full duplex).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
