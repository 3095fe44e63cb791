package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/wsconn"
)

// originAllowed lets pages from the allowed origins (see allowedOrigin)
// open a socket or an event stream (same-origin pages, the Playground
// included, always may).
func (d Deps) originAllowed(origin string, _ *http.Request) bool {
	return d.allowedOrigin(origin)
}

// allowedOrigin reports whether a page from origin may call the API (CORS)
// and open websockets: ALLOWED_ORIGINS, and outside production also any page
// served from http://localhost or http://127.0.0.1 on any port, so that a
// Vite or Next development server works with no setting.
func (d Deps) allowedOrigin(origin string) bool {
	return slices.Contains(d.AllowedOrigins, origin) || (!d.Production && localOrigin(origin))
}

// localOrigin reports whether origin is http://localhost[:port] or
// http://127.0.0.1[:port], exactly: a browser's Origin has no path, user or
// query, and localhost.example.com is not localhost.
func localOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	h := u.Hostname()
	return h == "localhost" || h == "127.0.0.1"
}

// initSocket authenticates a websocket from its connection_init payload
// ("Authorization", "authorization" or {"headers": {"Authorization": ...}}).
// A bad token closes the socket with 4401 and a reason; an expiring token
// closes it with 4403 when it expires (clients reconnect with a fresh one).
// The payload's "resume" ({"<sessionId>": "<last message id seen>"}) is where
// the socket's chat subscriptions without `after` start.
func (d Deps) initSocket(ctx context.Context, p map[string]any) (context.Context, error) {
	authz := authorization(p)
	if h, ok := p["headers"].(map[string]any); authz == "" && ok {
		authz = authorization(h)
	}
	// Without a token in the payload, the upgrade request's own header counts.
	v := auth.ViewerFrom(ctx)
	if authz != "" {
		var err error
		if v, err = d.Auth.Authenticate(ctx, authz); err != nil {
			reason := "invalid token"
			if e := apperr.From(err); e != nil && e.Code == apperr.Unauthent {
				reason = e.Message
			}
			return ctx, &wsconn.Refusal{Code: wsconn.CodeUnauthorized, Reason: reason}
		}
	}
	if raw, ok := p["resume"]; ok && raw != nil {
		points, ok := resumePoints(raw)
		if !ok {
			return ctx, &wsconn.Refusal{Code: wsconn.CodeBadRequest,
				Reason: `resume must map session ids to message ids: {"<sessionId>": "<messageId>"}`}
		}
		ctx = live.WithResume(ctx, points)
	}
	expireWith(ctx, v)
	return auth.WithViewer(ctx, v), nil
}

// initStream prepares an SSE stream: its Last-Event-ID (the last chat
// message the client saw) is where a chat subscription without `after`
// starts, and the stream ends when the token expires (the client reconnects
// with a fresh one and that id). The token itself was checked by the auth
// middleware, like any HTTP request's.
func (d Deps) initStream(ctx context.Context, r *http.Request) (context.Context, error) {
	ctx = live.WithLastEventID(ctx, r.Header.Get("Last-Event-ID"))
	expireWith(ctx, auth.ViewerFrom(ctx))
	return ctx, nil
}

// expireWith closes ctx's connection with 4403 when v's token expires.
func expireWith(ctx context.Context, v auth.Viewer) {
	if v.ExpiresAt.IsZero() {
		return
	}
	wsconn.CloseAt(ctx, v.ExpiresAt, wsconn.CodeForbidden, "token expired")
}

// authorization reads the token of an init payload (or its "headers").
func authorization(p map[string]any) string {
	for _, k := range []string{"Authorization", "authorization"} {
		if s, ok := p[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// resumePoints reads a "resume" object of session ids to message ids.
func resumePoints(raw any) (map[string]string, bool) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, false
	}
	points := make(map[string]string, len(m))
	for sid, v := range m {
		id, ok := v.(string)
		if !ok {
			return nil, false
		}
		points[sid] = id
	}
	return points, true
}
