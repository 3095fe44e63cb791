package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestDevelopmentOrigins: outside production, pages on http://localhost:*
// and http://127.0.0.1:* may call the API and open websockets with no
// setting; in production only the server's own origin and ALLOWED_ORIGINS
// may. Look-alikes never pass.
func TestDevelopmentOrigins(t *testing.T) {
	t.Parallel()
	local := []string{"http://localhost:5173", "http://127.0.0.1:3000", "http://localhost"}
	never := []string{
		"https://evil.example", "http://localhost.evil.example:5173", "http://127.0.0.1.evil.example",
		"http://evil.example/http://localhost:5173", "http://user@localhost:5173", "http://localhost:5173/path",
		"http://192.168.1.10:5173", "null", "http://localhost:99999",
	}
	corsAllowed := func(e *env, origin string) bool {
		t.Helper()
		w := e.send(req{method: http.MethodOptions, header: http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type"},
		}})
		return w.Header().Get("Access-Control-Allow-Origin") == origin
	}
	// wsAllowed reports whether a page from origin may open a websocket.
	wsAllowed := func(srv *httptest.Server, origin string) bool {
		t.Helper()
		_, resp, err := dial(t, srv, "graphql-transport-ws", http.Header{"Origin": {origin}}, nil)
		if err != nil && (resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Fatalf("%s: dial: %v", origin, err)
		}
		return err == nil
	}
	for _, mode := range []struct {
		name       string
		production bool
	}{{"Development", false}, {"Production", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOpts(t, opts{production: mode.production})
			srv := e.live()
			for _, o := range local {
				if got := corsAllowed(e, o); got == mode.production {
					t.Errorf("CORS from %s: allowed %v", o, got)
				}
				if got := wsAllowed(srv, o); got == mode.production {
					t.Errorf("websocket from %s: allowed %v", o, got)
				}
			}
			for _, o := range never {
				if corsAllowed(e, o) {
					t.Errorf("CORS from %s allowed", o)
				}
			}
			for _, o := range never[:3] {
				if wsAllowed(srv, o) {
					t.Errorf("websocket from %s allowed", o)
				}
			}
			// ALLOWED_ORIGINS hold in both modes.
			if !corsAllowed(e, testOrigin) || !wsAllowed(srv, testOrigin) {
				t.Errorf("%s refused", testOrigin)
			}
		})
	}
}
