package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/auth"
	wt "github.com/savvysolve/api/internal/webhooks/webhooktest"
	"github.com/savvysolve/api/internal/wsconn"
)

// signed returns an HS256 token with claims (plus an hour's exp when it has none).
func signed(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// userRows counts the users with clerkID, and those of them marked deleted.
func (e *env) userRows(clerkID string) (all, deleted int) {
	e.t.Helper()
	err := e.db.NewRaw("SELECT count(*), count(deleted_at) FROM users WHERE clerk_id = ?", clerkID).
		Scan(context.Background(), &all, &deleted)
	if err != nil {
		e.t.Fatal(err)
	}
	return all, deleted
}

func (e *env) emailOf(clerkID string) string {
	e.t.Helper()
	var email string
	if err := e.db.NewRaw("SELECT email FROM users WHERE clerk_id = ?", clerkID).Scan(context.Background(), &email); err != nil {
		e.t.Fatal(err)
	}
	return email
}

const me = `{ me { id email name role solver { id } } }`

// TestFirstSignIn: a valid token for a user the database does not know yet
// works on its first request, also when many first requests come at once:
// one customer is created, with the token's email claim or a placeholder.
func TestFirstSignIn(t *testing.T) {
	t.Parallel()
	e := newEnvOpts(t, opts{limits: api.Limits{MaxInFlight: 64}})

	// Rounds of 20 first requests at once, each round for a new user, all
	// admitted together (MaxInFlight), so that they race between finding no
	// user and creating it.
	for round := range 5 {
		sub := fmt.Sprintf("user_first_%d", round)
		tok := signed(t, jwt.MapClaims{"sub": sub, "email": sub + "@example.com"})
		const n = 20
		ids := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := e.do(tok, me, nil)
				if len(r.Errors) > 0 {
					t.Errorf("%s, request %d: %d %+v", sub, i, r.Status, r.Errors)
					return
				}
				ids[i] = str(r.Data, "me", "id")
				if role := str(r.Data, "me", "role"); role != "CUSTOMER" {
					t.Errorf("%s, request %d: role %s", sub, i, role)
				}
			}()
		}
		close(start)
		wg.Wait()
		for i, id := range ids {
			if id != ids[0] {
				t.Fatalf("%s: request %d saw user %q, request 0 %q", sub, i, id, ids[0])
			}
		}
		if all, _ := e.userRows(sub); all != 1 {
			t.Fatalf("%d users for one clerk id after %d concurrent first requests", all, n)
		}
		if got := e.emailOf(sub); got != sub+"@example.com" {
			t.Errorf("email %q, want the token's claim", got)
		}
	}
	// A new user can do what customers do at once.
	d := e.must(signed(t, jwt.MapClaims{"sub": "user_first_0"}), createTicket, map[string]any{"in": map[string]any{
		"customerInfo": map[string]any{"name": "First", "email": "first@example.com"},
		"description":  "new here", "deviceType": "PHONE", "urgency": "LOW",
	}})
	if str(d, "createTicket", "ticket", "status") != "PENDING" {
		t.Fatalf("createTicket: %v", d)
	}

	// Without a usable email claim: a placeholder.
	for sub, email := range map[string]any{"user_noemail": nil, "user_bademail": "not an address", "user_longemail": strings.Repeat("a", 300) + "@example.com"} {
		claims := jwt.MapClaims{"sub": sub}
		if email != nil {
			claims["email"] = email
		}
		d := e.must(signed(t, claims), me, nil)
		if got, want := e.emailOf(sub), "unknown+"+sub+"@invalid"; got != want {
			t.Errorf("%s: email %q, want the placeholder %q", sub, got, want)
		}
		if got := get(d, "me", "email"); got != nil { // a placeholder is no address to show
			t.Errorf("%s: me.email = %v, want null", sub, got)
		}
	}
	// A subject that cannot be a user id.
	r := e.wantCode("UNAUTHENTICATED", signed(t, jwt.MapClaims{"sub": strings.Repeat("x", 300)}), me, nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("status %d", r.Status)
	}
}

// TestSignInThenWebhook: the row a first sign-in made is filled in and
// corrected by Clerk's user.created and user.updated when they arrive.
func TestSignInThenWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := wt.New(t, wt.Options{Workers: 2, URL: e.url})
	tok := signed(t, jwt.MapClaims{"sub": "user_late_hook", "email": "token@example.com"})
	id := str(e.must(tok, me, nil), "me", "id")

	t0 := time.Now().Add(-time.Minute)
	deliver := func(msgID string, body []byte) {
		t.Helper()
		if status, resp := w.Clerk(t, msgID, body); status != http.StatusOK {
			t.Fatalf("delivery answered %d: %s", status, resp)
		}
		w.WaitProcessed(t)
	}
	deliver("msg_created", wt.ClerkUser(t, "user.created", "user_late_hook", "pat@example.com", "Pat", "Lee", "+15550100001", t0))
	d := e.must(tok, me, nil)
	if str(d, "me", "id") != id || str(d, "me", "email") != "pat@example.com" || str(d, "me", "name") != "Pat Lee" {
		t.Fatalf("after user.created: %v", d)
	}
	// An update without an address keeps the one the user has.
	deliver("msg_updated", wt.ClerkUser(t, "user.updated", "user_late_hook", "", "Patricia", "Lee", "", t0.Add(time.Second)))
	d = e.must(tok, me, nil)
	if str(d, "me", "email") != "pat@example.com" || str(d, "me", "name") != "Patricia Lee" {
		t.Fatalf("after user.updated: %v", d)
	}
	if all, _ := e.userRows("user_late_hook"); all != 1 {
		t.Fatalf("%d rows", all)
	}

	// A placeholder address is replaced.
	tok2 := signed(t, jwt.MapClaims{"sub": "user_placeholder"})
	e.must(tok2, me, nil)
	deliver("msg_created2", wt.ClerkUser(t, "user.created", "user_placeholder", "sam@example.com", "Sam", "", "", t0))
	if d := e.must(tok2, me, nil); str(d, "me", "email") != "sam@example.com" {
		t.Fatalf("placeholder not replaced: %v", d)
	}
}

// TestDeletedUser: a user Clerk deleted is refused with UNAUTHENTICATED and
// a clear message, over HTTP and websockets, and a token for them (still
// valid, or one for a user deleted before any request) never recreates them.
func TestDeletedUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := wt.New(t, wt.Options{Workers: 2, URL: e.url})
	deliver := func(msgID string, body []byte) {
		t.Helper()
		if status, resp := w.Clerk(t, msgID, body); status != http.StatusOK {
			t.Fatalf("delivery answered %d: %s", status, resp)
		}
		w.WaitProcessed(t)
	}
	refused := func(tok string) {
		t.Helper()
		r := e.wantCode("UNAUTHENTICATED", tok, me, nil)
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.Errors[0].Message, "deleted") {
			t.Fatalf("status %d, errors %+v", r.Status, r.Errors)
		}
	}

	// Deleted after signing in.
	{
		tok := signed(t, jwt.MapClaims{"sub": "user_gone", "email": "gone@example.com"})
		e.must(tok, me, nil)
		deliver("msg_gone", wt.ClerkUser(t, "user.deleted", "user_gone", "", "", "", "", time.Now()))
		refused(tok)
		refused(tok) // and again: nothing was recreated by the first refusal
		if all, deleted := e.userRows("user_gone"); all != 1 || deleted != 1 {
			t.Fatalf("%d rows, %d deleted; want the one row, marked deleted", all, deleted)
		}
		if got := e.emailOf("user_gone"); got != "deleted+user_gone@invalid" {
			t.Errorf("email %q", got)
		}
		// A later user.updated (Clerk retrying an old delivery) changes nothing.
		deliver("msg_gone_late", wt.ClerkUser(t, "user.updated", "user_gone", "back@example.com", "Back", "", "", time.Now().Add(-time.Hour)))
		refused(tok)

		srv := e.live()
		ws, _, err := dial(t, srv, "graphql-transport-ws", nil, map[string]any{"Authorization": "Bearer " + tok})
		if err != nil {
			t.Fatal(err)
		}
		if ce := ws.closed(); ce.Code != wsconn.CodeUnauthorized || !strings.Contains(ce.Text, "deleted") {
			t.Fatalf("websocket closed with %d %q", ce.Code, ce.Text)
		}
	}
	// Deleted before any request.
	{
		deliver("msg_never", wt.ClerkUser(t, "user.deleted", "user_never_seen", "", "", "", "", time.Now()))
		refused(signed(t, jwt.MapClaims{"sub": "user_never_seen", "email": "never@example.com"}))
		if all, deleted := e.userRows("user_never_seen"); all != 1 || deleted != 1 {
			t.Fatalf("%d rows, %d deleted; want only the deleted marker", all, deleted)
		}
	}
}

// TestIssuerAndAuthorizedParties: with AUTH_ISSUER and
// AUTH_AUTHORIZED_PARTIES set, a token from another issuer, or made for a
// page not listed, answers 401 UNAUTHENTICATED; a token without azp passes
// (as Clerk's guide says).
func TestIssuerAndAuthorizedParties(t *testing.T) {
	t.Parallel()
	const iss = "https://clerk.savvysolve.test"
	e := newEnvOpts(t, opts{auth: auth.Options{Issuer: iss + "/", AuthorizedParties: []string{"https://app.savvysolve.test", "http://localhost:5173"}}})
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		ok     bool
	}{
		{"IssuerAndParty", jwt.MapClaims{"iss": iss, "azp": "https://app.savvysolve.test"}, true},
		{"OtherListedParty", jwt.MapClaims{"iss": iss, "azp": "http://localhost:5173"}, true},
		{"NoAzp", jwt.MapClaims{"iss": iss}, true},
		{"WrongIssuer", jwt.MapClaims{"iss": "https://clerk.elsewhere.test", "azp": "https://app.savvysolve.test"}, false},
		{"NoIssuer", jwt.MapClaims{"azp": "https://app.savvysolve.test"}, false},
		{"WrongParty", jwt.MapClaims{"iss": iss, "azp": "https://evil.test"}, false},
	} {
		sub := "user_iss_" + tc.name
		tc.claims["sub"] = sub
		r := e.do(signed(t, tc.claims), me, nil)
		switch {
		case tc.ok && (len(r.Errors) > 0 || str(r.Data, "me", "id") == ""):
			t.Errorf("%s: refused: %d %+v", tc.name, r.Status, r.Errors)
		case !tc.ok && (r.code() != "UNAUTHENTICATED" || r.Status != http.StatusUnauthorized):
			t.Errorf("%s: want 401 UNAUTHENTICATED, got %d %+v", tc.name, r.Status, r.Errors)
		case !tc.ok:
			if all, _ := e.userRows(sub); all != 0 {
				t.Errorf("%s: a refused token created its user", tc.name)
			}
		}
	}
}
