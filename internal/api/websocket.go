package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/wsconn"
)

// originAllowed lets pages from the allowed origins (see allowedOrigin)
// open a socket (same-origin pages, the Playground included, are always
// allowed by the adapter).
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
// closes it with 4401 when it expires.
func (d Deps) initSocket(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	authz := p.Authorization()
	if h, ok := p["headers"].(map[string]any); authz == "" && ok {
		authz = transport.InitPayload(h).Authorization()
	}
	// Without a token in the payload, the upgrade request's own header counts.
	v := auth.ViewerFrom(ctx)
	if authz != "" {
		var err error
		if v, err = d.Auth.Authenticate(ctx, authz); err != nil {
			return refuse(ctx, err)
		}
	}
	if !v.ExpiresAt.IsZero() {
		t := time.AfterFunc(time.Until(v.ExpiresAt), func() {
			wsconn.CloseConn(ctx, wsconn.CodeUnauthorized, "token expired")
		})
		context.AfterFunc(ctx, func() { t.Stop() })
	}
	return auth.WithViewer(ctx, v), nil, nil
}

// refuse ends a websocket whose token does not verify: close code 4401 with a reason.
func refuse(ctx context.Context, err error) (context.Context, *transport.InitPayload, error) {
	{
		reason := "invalid token"
		if e := apperr.From(err); e != nil && e.Code == apperr.Unauthent {
			reason = e.Message
		}
		ctx = transport.WithWebsocketCloseCode(ctx, wsconn.CodeUnauthorized)
		return transport.AppendCloseReason(ctx, reason), nil, apperr.New(apperr.Unauthent, "%s", reason)
	}
}
