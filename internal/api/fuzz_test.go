package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/seed"
)

// knownCodes are the codes a response may carry (the API contract's, and
// gqlgen's APQ miss).
var knownCodes = map[string]bool{
	"BAD_USER_INPUT": true, "UNAUTHENTICATED": true, "FORBIDDEN": true, "NOT_FOUND": true, "CONFLICT": true,
	"RATE_LIMITED": true, "COMPLEXITY_LIMIT_EXCEEDED": true, "INTERNAL_SERVER_ERROR": true,
	"GRAPHQL_PARSE_FAILED": true, "GRAPHQL_VALIDATION_FAILED": true, "PERSISTED_QUERY_NOT_FOUND": true,
}

// leaks are texts an internal error must not carry: driver, SQL and panic
// details (other errors may quote the query, which may say anything).
var leaks = []string{"SQLSTATE", "pgx", "pgconn", "sql:", "panic", "runtime error", "goroutine "}

// slowRequest is too long for any request on an idle database.
const slowRequest = 5 * time.Second

// FuzzHandler sends arbitrary GraphQL requests to the real handler on a real
// database (one per fuzz target, shared by every input): POST bodies built
// from a query and raw variables, raw POST bodies, GET parameters and
// persisted-query hashes, as anonymous, guest, customer, solver and admin.
// Every response must be JSON whose errors carry a known code and no driver
// or panic text. With FUZZ_STRICT=1, INTERNAL_SERVER_ERROR fails too (it
// should come only from outages, never from input).
func FuzzHandler(f *testing.F) {
	url := dbtest.NewURL(f, false)
	db, h, _ := buildServer(f, url, opts{stmtTimeout: 5 * time.Second})
	if err := seed.Run(context.Background(), db); err != nil {
		f.Fatal(err)
	}
	guest := fuzzGuest(f, h)
	toks := []string{"", guest, fuzzToken(f, seed.Customer1), fuzzToken(f, seed.Solver1), fuzzToken(f, seed.Admin), "Bearer sst_nope"}
	strict := os.Getenv("FUZZ_STRICT") == "1"

	vars := `{"id": "` + seed.TicketCompleted + `", "n": 5, "in": {"customerInfo": {"name": "Pat", "email": "pat@example.com"}, "description": "Wi-Fi drops", "deviceType": "NETWORK"}}`
	for _, q := range []string{
		dashboard,
		nested,
		createTicket,
		deep(12),
		deep(13),
		`{ me { id name role solver { id stats { averageRating } ratings(first: 3) { totalCount edges { node { rating comment } } } } } }`,
		`query($id: ID!) { ticket(id: $id) { id status customerInfo { name email } sessions { id pricing { totalCents } messages { edges { cursor node { body } } pageInfo { hasNextPage endCursor } } rating { rating } } smsLogs { body } } }`,
		`query($n: Int) { tickets(first: $n, filter: {status: [COMPLETED, PENDING], urgency: [HIGH], search: "print"}) { totalCount pageInfo { endCursor } } }`,
		`query { tickets(first: 2, after: "bm9wZQ") { totalCount } }`,
		`query($n: Int) { solvers(status: ACTIVE, first: $n) { edges { node { id user { email } } } } }`,
		`mutation($id: ID!) { claimTicket(ticketId: $id) { id status } }`,
		`mutation($id: ID!) { cancelTicket(ticketId: $id, reason: "dup") { status } refundTicket(ticketId: $id) { status } }`,
		`mutation($id: ID!) { startSession(ticketId: $id, tier: PREMIUM) { id } sendMessage(sessionId: $id, body: "hi") { id } endSession(sessionId: $id) { id } }`,
		`mutation($id: ID!) { rateSession(sessionId: $id, rating: 5, comment: "great") { id } updateSolverStatus(solverId: $id, status: SUSPENDED) { id } }`,
		`subscription($id: ID!) { ticketUpdated(ticketId: $id) { status } }`,
		`{ __schema { types { name fields { name } } } }`,
		`{ tickts }`,
		`{ ...F ...F } fragment F on Query { me { id } }`,
		`query A { me { id } } query B { __typename }`,
		"{ " + aliases(600) + "}",
		`{ tickets(first: 101) { totalCount } }`,
		"{",
	} {
		for _, mode := range []uint8{0, 2 << 2, 4<<2 | 2} {
			f.Add(mode, q, vars, []byte(nil))
		}
	}
	for _, body := range []string{
		`{"query": "{ __typename }"}`,
		`{"query": "{ me { id } }", "variables": {"x": "sk_live_secret"`,
		`[{"query": "{ __typename }"}]`,
		`{"query": "query Q { __typename }", "operationName": "Nope"}`,
		`{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}`,
		`{"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 2}}}`,
		`{"query": "mutation($in: CreateTicketInput!) { createTicket(input: $in) { accessToken } }", "variables": {"in": {"customerInfo": {"name": ""}, "description": "", "deviceType": "LAPTOP"}}}`,
		`{"query": "query($n: Int) { tickets(first: $n) { totalCount } }", "variables": {"n": 1e40}}`,
		"\x00\xff",
	} {
		f.Add(uint8(1), "", "", []byte(body))
	}
	// NUL characters (U+0000), which PostgreSQL text cannot hold, in every
	// kind of string input: variables, literals, names, search terms.
	nul := `{"id": "` + seed.TicketCompleted + `", "in": {"customerInfo": {"name": "P\u0000t", "email": "pat@example.com"}, "description": "a\u0000b", "deviceType": "NETWORK"}}`
	for _, q := range []string{
		createTicket,
		`mutation($id: ID!) { sendMessage(sessionId: $id, body: "hi\u0000") { id } }`,
		`{ tickets(filter: {search: "pr\u0000int"}) { totalCount } }`,
		`mutation($id: ID!) { cancelTicket(ticketId: $id, reason: "\u0000") { status } }`,
	} {
		for _, mode := range []uint8{0, 2 << 2, 4<<2 | 2} {
			f.Add(mode, q, nul, []byte(nil))
		}
	}
	f.Add(uint8(3), `{ me { id } }`, "0000000000000000000000000000000000000000000000000000000000000000", []byte(nil))

	f.Fuzz(func(t *testing.T, mode uint8, query, variables string, body []byte) {
		hr := fuzzRequest(mode, query, variables, body)
		if tok := toks[int(mode>>2)%len(toks)]; tok != "" {
			if !strings.HasPrefix(tok, "Bearer ") {
				tok = "Bearer " + tok
			}
			hr.Header.Set("Authorization", tok)
		}
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, hr)
		if d := time.Since(start); d > slowRequest {
			t.Fatalf("%s %s took %v: %s", hr.Method, hr.URL, d, w.Body.String())
		}
		var resp struct {
			Data   json.RawMessage `json:"data"`
			Errors []gqlError      `json:"errors"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%s %s: status %d, not JSON (%v): %q", hr.Method, hr.URL, w.Code, err, w.Body.String())
		}
		if len(resp.Errors) == 0 && (len(resp.Data) == 0 || string(resp.Data) == "null") {
			t.Fatalf("status %d: neither data nor errors: %s", w.Code, w.Body.String())
		}
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if !knownCodes[code] {
				t.Fatalf("status %d: unknown code %q in %s", w.Code, code, w.Body.String())
			}
			if strict && code == "INTERNAL_SERVER_ERROR" {
				t.Fatalf("internal error from input: %s", w.Body.String())
			}
			if strings.HasPrefix(e.Message, "json request body") {
				t.Fatalf("gqlgen's message (it quotes the body): %s", e.Message)
			}
			for _, l := range leaks {
				if code == "INTERNAL_SERVER_ERROR" && strings.Contains(e.Message, l) {
					t.Fatalf("message leaks %q: %s", l, e.Message)
				}
			}
		}
		if strict && w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}

// fuzzRequest builds a request from a fuzz input; mode's low bits pick the shape.
func fuzzRequest(mode uint8, query, variables string, body []byte) *http.Request {
	method, target := http.MethodPost, "/graphql"
	switch mode & 3 {
	case 0: // a JSON request, with the variables as raw JSON (valid or not)
		q, _ := json.Marshal(query)
		if variables == "" {
			variables = "null"
		}
		body = []byte(`{"query": ` + string(q) + `, "variables": ` + variables + `}`)
	case 1: // the body as is
	case 2: // GET parameters
		method = http.MethodGet
		v := url.Values{"query": {query}}
		if variables != "" {
			v.Set("variables", variables)
		}
		target += "?" + v.Encode()
		body = nil
	case 3: // a persisted query: variables is the hash
		m := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": variables}}}
		if query != "" {
			m["query"] = query
		}
		body, _ = json.Marshal(m)
	}
	hr := httptest.NewRequest(method, target, bytes.NewReader(body))
	if method == http.MethodPost {
		hr.Header.Set("Content-Type", "application/json")
	}
	return hr
}

func fuzzToken(f *testing.F, clerkID string) string {
	tok, err := auth.SignHS256([]byte(secret), clerkID, 24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	return tok
}

// fuzzGuest opens a ticket through h and returns its guest token.
func fuzzGuest(f *testing.F, h http.Handler) string {
	w := serve(h, req{gql: createTicket, vars: ticketInput})
	var r struct {
		Data struct {
			CreateTicket struct{ AccessToken string } `json:"createTicket"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || r.Data.CreateTicket.AccessToken == "" {
		f.Fatalf("guest token: %v %s", err, w.Body.String())
	}
	return r.Data.CreateTicket.AccessToken
}
