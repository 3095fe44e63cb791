package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/seed"
)

// req is an HTTP request to /graphql beyond what e.do sends.
type req struct {
	method  string // default POST
	query   string // URL query (GET)
	body    io.Reader
	ctype   string // default application/json for POST
	header  http.Header
	remote  string // the peer's address, default 192.0.2.1:1234
	tok     string
	gql     string // with vars: a JSON body built from them (POST) or URL parameters (GET)
	vars    map[string]any
	noCType bool
}

// send runs r on e's handler and returns the raw response.
func (e *env) send(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	return serve(e.h, r)
}

func serve(h http.Handler, r req) *httptest.ResponseRecorder {
	if r.method == "" {
		r.method = http.MethodPost
	}
	target := "/graphql"
	if r.gql != "" && r.method == http.MethodGet {
		q := url.Values{"query": {r.gql}}
		if r.vars != nil {
			q.Set("variables", string(mustJSON(r.vars)))
		}
		r.query = q.Encode()
	} else if r.gql != "" {
		r.body = bytes.NewReader(mustJSON(map[string]any{"query": r.gql, "variables": r.vars}))
	}
	if r.query != "" {
		target += "?" + r.query
	}
	hr := httptest.NewRequest(r.method, target, r.body)
	if r.body == nil {
		hr.ContentLength = 0
	}
	for k, vs := range r.header {
		hr.Header[k] = vs
	}
	if r.method == http.MethodPost && !r.noCType && hr.Header.Get("Content-Type") == "" {
		if r.ctype == "" {
			r.ctype = "application/json"
		}
		hr.Header.Set("Content-Type", r.ctype)
	}
	if r.tok != "" {
		hr.Header.Set("Authorization", "Bearer "+r.tok)
	}
	hr.RemoteAddr = "192.0.2.1:1234"
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	return w
}

// decode reads a GraphQL response; it fails unless the body is JSON.
func decode(t *testing.T, w *httptest.ResponseRecorder) result {
	t.Helper()
	var r result
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("status %d: response is not JSON (%v): %q", w.Code, err, w.Body.String())
	}
	r.Status = w.Code
	return r
}

// refused checks a response: status, code, and no data.
func refused(t *testing.T, w *httptest.ResponseRecorder, status int, code string) result {
	t.Helper()
	r := decode(t, w)
	if r.Status != status || r.code() != code || r.Data != nil {
		t.Fatalf("want %d %s without data, got %d %+v (data %v)", status, code, r.Status, r.Errors, r.Data)
	}
	return r
}

// ticketCount counts the tickets in e's database.
func (e *env) ticketCount() int {
	e.t.Helper()
	n, err := e.db.NewSelect().Table("tickets").Count(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return int(n)
}

var ticketInput = map[string]any{"in": map[string]any{
	"customerInfo": map[string]any{"name": "Pat", "email": "pat@example.com"}, "description": "The printer jams", "deviceType": "PRINTER",
}}

// dashboard is the benchmark's dashboard query: it must stay under the default limits.
const dashboard = `{ ticketQueue(first: 50) { edges { node { solver { user { name } }
	sessions { messages(first: 20) { edges { node { author { name } } } } rating { rating } } } } } }`

// TestComplexity: lists multiply their children by their page size, default
// page sizes included; the dashboard passes, heavier reads are refused before SQL.
func TestComplexity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := token(t, seed.Admin)
	t.Run("DashboardPasses", func(t *testing.T) {
		e.must(admin, dashboard, nil)
	})
	t.Run("NestedPagesRefused", func(t *testing.T) {
		for _, c := range []struct {
			name, query string
			vars        map[string]any
		}{
			{"Literals", `{ tickets(first: 100) { edges { node { sessions { messages(first: 100) { edges { node { author { name } } } } } } } } }`, nil},
			{"Variables", `query($a: Int, $b: Int) { tickets(first: $a) { edges { node { sessions { messages(first: $b) { edges { node { author { name } } } } } } } } }`,
				map[string]any{"a": 100, "b": 100}},
			{"Aliases", `{ a: ticketQueue(first: 50) { ...Q } b: ticketQueue(first: 50) { ...Q } c: ticketQueue(first: 50) { ...Q } d: ticketQueue(first: 50) { ...Q } }
				fragment Q on TicketConnection { edges { node { sessions { messages(first: 20) { edges { node { author { name } } } } } } } }`, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.stmts.Store(0)
				r := e.wantCode("COMPLEXITY_LIMIT_EXCEEDED", admin, c.query, c.vars)
				if r.Status != http.StatusUnprocessableEntity || r.Data != nil {
					t.Fatalf("status %d, data %v", r.Status, r.Data)
				}
				if n := e.stmts.Load(); n != 1 { // the token's user
					t.Fatalf("%d statements, want 1", n)
				}
			})
		}
	})
	t.Run("DefaultPageSizesCount", func(t *testing.T) {
		t.Parallel()
		e := newEnvOpts(t, opts{limits: api.Limits{MaxComplexity: 1000}})
		// tickets: 20 by default; sessions: 10; messages: 50 by default.
		e.must(admin, `{ tickets { edges { node { sessions { messages(first: 1) { edges { node { id } } } } } } } }`, nil)
		e.wantCode("COMPLEXITY_LIMIT_EXCEEDED", admin, `{ tickets(first: 1) { edges { node { sessions { messages { edges { node { id } } } } } } } }`, nil)
		e.wantCode("COMPLEXITY_LIMIT_EXCEEDED", admin, `{ tickets(first: 1) { edges { node { sessions { messages(first: null) { edges { node { id } } } } } } } }`, nil)
	})
}

// deep nests ticket { solver { user { solver ... } } } to depth levels.
func deep(levels int) string {
	q, closing := "ticket(id: $id) { ", "} "
	for i := 2; i < levels; i++ {
		if i%2 == 0 {
			q += "solver { "
		} else {
			q += "user { "
		}
		closing += "} "
	}
	return "query($id: ID!) { " + q + "id " + closing + "}"
}

// aliases selects n aliased __typename fields.
func aliases(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: __typename ", i)
	}
	return b.String()
}

// TestDepthAndFields: too deep or too wide operations are refused before any
// resolver runs; fields are counted after fragment expansion.
func TestDepthAndFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := token(t, seed.Admin)
	vars := map[string]any{"id": seed.TicketCompleted}
	e.must(admin, deep(12), vars)
	e.stmts.Store(0)
	r := e.wantCode("COMPLEXITY_LIMIT_EXCEEDED", admin, deep(13), vars)
	if !strings.Contains(r.Errors[0].Message, "13 levels") || e.stmts.Load() != 1 {
		t.Fatalf("%+v after %d statements", r.Errors, e.stmts.Load())
	}
	e.must(admin, "{ "+aliases(500)+"}", nil)
	// Past 20 tokens per allowed field, the parser stops reading.
	e.wantCode("GRAPHQL_PARSE_FAILED", admin, "{ "+aliases(4000)+"}", nil)
	e.wantCode("COMPLEXITY_LIMIT_EXCEEDED", admin, "{ "+aliases(501)+"}", nil)
	// 300 fields, spread twice: 600 after expansion.
	e.wantCode("COMPLEXITY_LIMIT_EXCEEDED", admin, "{ ...F ...F } fragment F on Query { "+aliases(300)+"}", nil)
	e.wantCode("COMPLEXITY_LIMIT_EXCEEDED", admin,
		`{ a: me { ...U } b: me { ...U } } fragment U on User { solver { user { ...V } } } fragment V on User { `+aliases(250)+` }`, nil)
	// Introspection nests past the depth limit by design: gqlparser bounds it.
	e.must("", "{ __schema { types { fields { type { "+strings.Repeat("ofType { ", 9)+"name "+strings.Repeat("} ", 9+5), nil)
	t.Run("Configured", func(t *testing.T) {
		t.Parallel()
		e := newEnvOpts(t, opts{limits: api.Limits{MaxDepth: 3, MaxFields: 10}})
		e.must(admin, `{ me { solver { id } } }`, nil)
		e.wantCode("COMPLEXITY_LIMIT_EXCEEDED", admin, `{ me { solver { user { id } } } }`, nil)
		e.must(admin, "{ "+aliases(10)+"}", nil)
		e.wantCode("COMPLEXITY_LIMIT_EXCEEDED", admin, "{ "+aliases(11)+"}", nil)
	})
}

// TestFirstCap: a page size outside 0..100, anywhere in the operation and
// however it is given, is BAD_USER_INPUT on "first" before any SQL.
func TestFirstCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := token(t, seed.Admin)
	cases := []struct {
		name, query string
		vars        map[string]any
	}{
		{"Above", `{ tickets(first: 101) { totalCount } }`, nil},
		{"Negative", `{ ticketQueue(first: -1) { totalCount } }`, nil},
		{"Variable", `query($n: Int) { solvers(first: $n) { totalCount } }`, map[string]any{"n": 1000}},
		{"VariableDefault", `query($n: Int = 500) { solvers(first: $n) { totalCount } }`, nil},
		{"Nested", `{ tickets(first: 5) { edges { node { sessions { messages(first: 500) { edges { node { id } } } } } } } }`, nil},
		{"Fragment", `{ solver(id: "` + seed.SolverActive + `") { ...R } } fragment R on Solver { ratings(first: 101) { totalCount } }`, nil},
		{"Huge", `query($n: Int) { tickets(first: $n) { totalCount } }`, map[string]any{"n": 2147483647}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.stmts.Store(0)
			r := e.wantCode("BAD_USER_INPUT", admin, c.query, c.vars)
			if r.Errors[0].Extensions["field"] != "first" || r.Data != nil {
				t.Fatalf("%+v, data %v", r.Errors, r.Data)
			}
			if n := e.stmts.Load(); n != 1 { // the token's user
				t.Fatalf("%d statements, want 1", n)
			}
		})
	}
	e.must(admin, `{ tickets(first: 0) { totalCount } ticketQueue(first: 100) { totalCount } }`, nil)
}

// TestBodyLimit: bodies past MAX_BODY_BYTES answer 413 without being read
// past the limit; undecodable bodies are never echoed back.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 4096
	e := newEnvOpts(t, opts{limits: api.Limits{MaxBodyBytes: limit}})
	t.Run("UnderTheLimit", func(t *testing.T) {
		body := `{"query": "{ __typename }"}`
		body += strings.Repeat(" ", limit-len(body))
		if r := decode(t, e.send(req{body: strings.NewReader(body)})); r.Status != 200 || len(r.Errors) > 0 {
			t.Fatalf("%d %+v", r.Status, r.Errors)
		}
	})
	t.Run("DeclaredLength", func(t *testing.T) {
		payload := `{"query": "{ __typename }"}` + strings.Repeat(" ", limit)
		body := &countingReader{r: strings.NewReader(payload)}
		hr := httptest.NewRequest(http.MethodPost, "/graphql", body)
		hr.ContentLength = int64(len(payload))
		hr.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, hr)
		refused(t, w, http.StatusRequestEntityTooLarge, "BAD_USER_INPUT")
		if body.n.Load() != 0 || w.Header().Get("Connection") != "close" {
			t.Fatalf("read %d bytes; Connection %q", body.n.Load(), w.Header().Get("Connection"))
		}
	})
	t.Run("Chunked", func(t *testing.T) {
		body := &countingReader{r: endless{}}
		hr := httptest.NewRequest(http.MethodPost, "/graphql", body)
		hr.ContentLength = -1 // unknown, as with chunked encoding
		hr.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, hr)
		refused(t, w, http.StatusRequestEntityTooLarge, "BAD_USER_INPUT")
		if n := body.n.Load(); n > limit+1 {
			t.Fatalf("read %d bytes past a limit of %d", n, limit)
		}
	})
	t.Run("UndecodableNotEchoed", func(t *testing.T) {
		const secretish = "sk_live_51HxSECRETxVALUE"
		for _, body := range []string{
			`{"query": "{ me { id } }", "variables": {"token": "` + secretish + `"`,
			`["` + secretish + `"]`,
			`{"query": ["` + secretish + `"]}`,
			secretish,
			"",
		} {
			w := e.send(req{body: strings.NewReader(body)})
			if strings.Contains(w.Body.String(), secretish) || strings.Contains(w.Body.String(), "body:") {
				t.Fatalf("body echoed: %s", w.Body.String())
			}
			refused(t, w, http.StatusBadRequest, "BAD_USER_INPUT")
		}
	})
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestCSRF: only application/json POSTs run (browsers preflight them); GET
// runs queries, never mutations; other methods are refused. A refused request
// runs nothing.
func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mutation := string(mustJSON(map[string]any{"query": createTicket, "variables": ticketInput}))
	before := e.ticketCount()
	for _, c := range []struct {
		name, ctype string
		header      http.Header
	}{
		{"TextPlain", "text/plain", nil},
		{"Form", "application/x-www-form-urlencoded", nil},
		{"Multipart", "multipart/form-data; boundary=x", nil},
		{"GraphQL", "application/graphql", nil},
		{"NoContentType", "", nil},
		{"TextPlainWithCustomHeader", "text/plain", http.Header{"X-Requested-With": {"XMLHttpRequest"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.stmts.Store(0)
			w := e.send(req{body: strings.NewReader(mutation), ctype: c.ctype, header: c.header, noCType: c.ctype == ""})
			refused(t, w, http.StatusUnsupportedMediaType, "BAD_USER_INPUT")
			if e.stmts.Load() != 0 {
				t.Fatalf("%d statements", e.stmts.Load())
			}
		})
	}
	t.Run("JSONWithCharset", func(t *testing.T) {
		r := decode(t, e.send(req{gql: `{ __typename }`, ctype: "application/json; charset=utf-8"}))
		if r.Status != 200 || len(r.Errors) > 0 {
			t.Fatalf("%d %+v", r.Status, r.Errors)
		}
	})
	t.Run("GraphQLResponseAccepted", func(t *testing.T) {
		w := e.send(req{gql: `{ __typename }`, header: http.Header{"Accept": {"application/graphql-response+json"}}})
		if r := decode(t, w); r.Status != 200 || len(r.Errors) > 0 || w.Header().Get("Content-Type") != "application/graphql-response+json" {
			t.Fatalf("%d %+v %v", r.Status, r.Errors, w.Header())
		}
	})
	t.Run("MutationOverGET", func(t *testing.T) {
		e.stmts.Store(0)
		w := e.send(req{method: http.MethodGet, gql: createTicket, vars: ticketInput})
		refused(t, w, http.StatusMethodNotAllowed, "BAD_USER_INPUT")
		if w.Header().Get("Allow") != "POST" || e.stmts.Load() != 0 {
			t.Fatalf("Allow %q, %d statements", w.Header().Get("Allow"), e.stmts.Load())
		}
		// Named among several operations.
		w = e.send(req{method: http.MethodGet, query: url.Values{
			"query":         {`query Q { __typename } mutation M { cancelTicket(ticketId: "x") { id } }`},
			"operationName": {"M"},
		}.Encode()})
		refused(t, w, http.StatusMethodNotAllowed, "BAD_USER_INPUT")
	})
	t.Run("SubscriptionOverHTTP", func(t *testing.T) {
		// gqlgen would hold the request until an event or the deadline.
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			start := time.Now()
			w := e.send(req{method: m, gql: `subscription { ticketQueue { kind } }`, tok: token(t, seed.Admin)})
			refused(t, w, http.StatusBadRequest, "BAD_USER_INPUT")
			if time.Since(start) > 2*time.Second {
				t.Fatalf("%s took %v", m, time.Since(start))
			}
		}
	})
	t.Run("QueryOverGET", func(t *testing.T) {
		r := decode(t, e.send(req{method: http.MethodGet, gql: `query($id: ID!) { ticket(id: $id) { status } }`,
			vars: map[string]any{"id": seed.TicketCompleted}, tok: token(t, seed.Admin)}))
		if r.Status != 200 || str(r.Data, "ticket", "status") != "COMPLETED" {
			t.Fatalf("%d %+v %v", r.Status, r.Errors, r.Data)
		}
	})
	t.Run("BadGETParameters", func(t *testing.T) {
		for _, q := range []string{"query=%7B__typename%7D&variables=%7Bnope", "query=%7B__typename%7D&extensions=[1]", "query=%zz"} {
			refused(t, e.send(req{method: http.MethodGet, query: q}), http.StatusBadRequest, "BAD_USER_INPUT")
		}
	})
	t.Run("OtherMethods", func(t *testing.T) {
		for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
			w := e.send(req{method: m, body: strings.NewReader(mutation)})
			refused(t, w, http.StatusMethodNotAllowed, "BAD_USER_INPUT")
		}
	})
	t.Run("UpgradeHeaderWithoutWebsocket", func(t *testing.T) {
		r := decode(t, e.send(req{gql: `{ __typename }`, header: http.Header{"Upgrade": {"h2c"}, "Connection": {"Upgrade"}}}))
		if r.Status != 200 || len(r.Errors) > 0 {
			t.Fatalf("%d %+v", r.Status, r.Errors)
		}
	})
	if n := e.ticketCount(); n != before {
		t.Fatalf("%d tickets created by refused requests", n-before)
	}
}

// TestCORS: preflights succeed for ALLOWED_ORIGINS only, with the headers a
// client needs; no credentials; an empty list allows no foreign origin.
func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	preflight := func(h http.Handler, origin, headers string) *httptest.ResponseRecorder {
		return serve(h, req{method: http.MethodOptions, header: http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {headers},
		}})
	}
	w := preflight(e.h, testOrigin, "authorization,content-type")
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != testOrigin ||
		w.Header().Get("Access-Control-Allow-Headers") != "authorization,content-type" ||
		w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("allowed origin: %d %v", w.Code, w.Header())
	}
	// An SSE client resuming sends Last-Event-ID.
	if w := preflight(e.h, testOrigin, "authorization,content-type,last-event-id"); w.Header().Get("Access-Control-Allow-Headers") != "authorization,content-type,last-event-id" {
		t.Fatalf("SSE resume: %d %v", w.Code, w.Header())
	}
	for _, c := range []struct{ origin, headers string }{
		{"https://evil.example", "content-type"},
		{testOrigin, "content-type,x-custom"},
		{"null", "content-type"},
	} {
		if w := preflight(e.h, c.origin, c.headers); w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s %s allowed: %v", c.origin, c.headers, w.Header())
		}
	}
	// Actual requests: readable by the allowed origin only.
	w = e.send(req{gql: `{ __typename }`, header: http.Header{"Origin": {testOrigin}}})
	if w.Header().Get("Access-Control-Allow-Origin") != testOrigin || w.Header().Get("Access-Control-Expose-Headers") != "Retry-After" {
		t.Fatalf("actual request: %v", w.Header())
	}
	if w := e.send(req{gql: `{ __typename }`, header: http.Header{"Origin": {"https://evil.example"}}}); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign actual request: %v", w.Header())
	}
	// OPTIONS without a preflight still answers.
	if w := e.send(req{method: http.MethodOptions}); w.Code != 200 || w.Header().Get("Allow") == "" {
		t.Fatalf("plain OPTIONS: %d %v", w.Code, w.Header())
	}
	t.Run("EmptyAllowlist", func(t *testing.T) {
		t.Parallel()
		none := newEnvOpts(t, opts{origins: []string{}})
		if w := preflight(none.h, "https://evil.example", "content-type"); w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("empty allowlist allowed: %v", w.Header())
		}
	})
}

// introspection is graphql-js's getIntrospectionQuery with every option, as GraphiQL sends it.
const introspection = `query IntrospectionQuery {
  __schema {
    description queryType { name kind } mutationType { name kind } subscriptionType { name kind }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL isOneOf
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }`

// TestProductionMode: no introspection and no "did you mean" in production;
// both in development.
func TestProductionMode(t *testing.T) {
	t.Parallel()
	dev := newEnv(t)
	prod := newEnvOpts(t, opts{production: true})
	const schema, typ, typo = `{ __schema { queryType { name } } }`, `{ __type(name: "Ticket") { fields { name } } }`, `{ tickts { totalCount } }`
	if d := dev.must("", schema, nil); str(d, "__schema", "queryType", "name") != "Query" {
		t.Fatalf("dev introspection: %v", d)
	}
	dev.must("", typ, nil)
	dev.must("", introspection, nil) // the Playground's, within the default limits
	if r := dev.wantCode("GRAPHQL_VALIDATION_FAILED", "", typo, nil); !strings.Contains(r.Errors[0].Message, "Did you mean") {
		t.Fatalf("dev suggestion missing: %+v", r.Errors)
	}
	for _, q := range []string{schema, typ, `{ ...F } fragment F on Query { __schema { types { name } } }`} {
		prod.stmts.Store(0)
		r := prod.wantCode("GRAPHQL_VALIDATION_FAILED", token(t, seed.Admin), q, nil)
		if r.Data != nil || !strings.Contains(r.Errors[0].Message, "introspection is disabled") {
			t.Fatalf("prod introspection: %+v %v", r.Errors, r.Data)
		}
	}
	if r := prod.wantCode("GRAPHQL_VALIDATION_FAILED", "", typo, nil); strings.Contains(r.Errors[0].Message, "Did you mean") {
		t.Fatalf("prod suggestion: %+v", r.Errors)
	}
	if d := prod.must("", `{ __typename }`, nil); d["__typename"] != "Query" {
		t.Fatalf("__typename: %v", d)
	}
}

// TestAPQ: a query registered with its hash runs from the hash alone (POST and GET).
func TestAPQ(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := token(t, seed.Admin)
	const q = `query APQ($id: ID!) { ticket(id: $id) { status } }`
	sum := sha256.Sum256([]byte(q))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	vars := map[string]any{"id": seed.TicketCompleted}
	post := func(body map[string]any) result {
		return decode(t, e.send(req{body: bytes.NewReader(mustJSON(body)), tok: admin}))
	}
	if r := post(map[string]any{"extensions": ext, "variables": vars}); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %+v", r.Errors)
	}
	if r := post(map[string]any{"query": q, "extensions": ext, "variables": vars}); str(r.Data, "ticket", "status") != "COMPLETED" {
		t.Fatalf("register: %+v %v", r.Errors, r.Data)
	}
	if r := post(map[string]any{"extensions": ext, "variables": vars}); str(r.Data, "ticket", "status") != "COMPLETED" {
		t.Fatalf("hash only: %+v %v", r.Errors, r.Data)
	}
	w := e.send(req{method: http.MethodGet, tok: admin, query: url.Values{
		"extensions": {string(mustJSON(ext))}, "variables": {string(mustJSON(vars))},
	}.Encode()})
	if r := decode(t, w); str(r.Data, "ticket", "status") != "COMPLETED" {
		t.Fatalf("GET hash only: %+v %v", r.Errors, r.Data)
	}
	wrong := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	if r := post(map[string]any{"query": q, "extensions": wrong, "variables": vars}); r.code() != "BAD_USER_INPUT" || r.Data != nil {
		t.Fatalf("mismatched hash: %+v %v", r.Errors, r.Data)
	}
}

// TestRateLimit: mutations are limited per client IP without a user token and
// per user with one; aliases count; refusals carry Retry-After; queries are not limited.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnvOpts(t, opts{limits: api.Limits{RateAnon: 2, RateUser: 3}})
	create := func(remote, tok string, header http.Header) *httptest.ResponseRecorder {
		return e.send(req{gql: createTicket, vars: ticketInput, remote: remote, tok: tok, header: header})
	}
	ok := func(w *httptest.ResponseRecorder) {
		t.Helper()
		if r := decode(t, w); len(r.Errors) > 0 || r.Status != 200 {
			t.Fatalf("%d %+v", r.Status, r.Errors)
		}
	}
	limited := func(w *httptest.ResponseRecorder) {
		t.Helper()
		r := refused(t, w, http.StatusTooManyRequests, "RATE_LIMITED")
		secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || secs < 1 || secs > 60 || r.Errors[0].Extensions["retryAfter"] != float64(secs) {
			t.Fatalf("Retry-After %q, extensions %v", w.Header().Get("Retry-After"), r.Errors[0].Extensions)
		}
	}
	t.Run("AnonymousPerIP", func(t *testing.T) {
		ok(create("198.51.100.1:1000", "", nil))
		ok(create("198.51.100.1:2000", "", nil))
		before := e.ticketCount()
		limited(create("198.51.100.1:3000", "", nil))
		// A header the client sends itself changes nothing.
		limited(create("198.51.100.1:3000", "", http.Header{"X-Forwarded-For": {"203.0.113.5"}}))
		// Neither does a ticket token: createTicket without a user counts per IP.
		_, guest := e.newTicket("") // from 192.0.2.1
		limited(create("198.51.100.1:3000", guest, nil))
		if n := e.ticketCount(); n != before+1 {
			t.Fatalf("%d tickets created past the limit", n-before-1)
		}
		ok(create("198.51.100.2:1000", "", nil))
		// Queries are not limited.
		for range 5 {
			ok(e.send(req{gql: `{ __typename }`, remote: "198.51.100.1:3000"}))
		}
		// A signed-in user is counted as a user, not by IP.
		ok(create("198.51.100.1:3000", token(t, seed.Customer1), nil))
	})
	t.Run("AliasesCount", func(t *testing.T) {
		two := `mutation($in: CreateTicketInput!) { a: createTicket(input: $in) { accessToken } b: createTicket(input: $in) { accessToken } }`
		three := `mutation($in: CreateTicketInput!) { ...M b: createTicket(input: $in) { accessToken } c: createTicket(input: $in) { accessToken } }
			fragment M on Mutation { a: createTicket(input: $in) { accessToken } }`
		before := e.ticketCount()
		limited(e.send(req{gql: three, vars: ticketInput, remote: "198.51.100.3:1"}))
		ok(e.send(req{gql: two, vars: ticketInput, remote: "198.51.100.3:1"}))
		limited(create("198.51.100.3:1", "", nil))
		if n := e.ticketCount(); n != before+2 {
			t.Fatalf("%d tickets, want 2", n-before)
		}
	})
	t.Run("PerUser", func(t *testing.T) {
		cancel := `mutation { cancelTicket(ticketId: "` + seed.TicketCompleted + `") { id } }`
		c2, c3 := token(t, seed.Customer2), token(t, seed.Customer3)
		for i := range 3 {
			// Whatever the IP, and whether or not the mutation succeeds.
			r := decode(t, e.send(req{gql: cancel, tok: c2, remote: fmt.Sprintf("198.51.100.%d:1", 10+i)}))
			if r.code() == "" || r.code() == "RATE_LIMITED" {
				t.Fatalf("%+v", r.Errors)
			}
		}
		limited(e.send(req{gql: cancel, tok: c2, remote: "198.51.100.20:1"}))
		if r := decode(t, e.send(req{gql: cancel, tok: c3})); r.code() == "" || r.code() == "RATE_LIMITED" {
			t.Fatalf("another user: %+v", r.Errors)
		}
	})
	t.Run("OverWebsockets", func(t *testing.T) {
		t.Parallel()
		e := newEnvOpts(t, opts{limits: api.Limits{RateUser: 2}})
		w := connect(t, e.live(), "graphql-transport-ws", token(t, seed.Customer1))
		cancel := `mutation { cancelTicket(ticketId: "` + seed.TicketCompleted + `") { id } }`
		for i, want := range []string{"", "", "RATE_LIMITED"} {
			id := strconv.Itoa(i)
			w.subscribe(id, cancel, nil)
			if got := w.errorCode(id); (want == "" && got == "RATE_LIMITED") || (want != "" && got != want) {
				t.Fatalf("mutation %d: %s", i, got)
			}
		}
	})
	t.Run("TrustedProxies", func(t *testing.T) {
		t.Parallel()
		e := newEnvOpts(t, opts{limits: api.Limits{RateAnon: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}})
		via := func(peer, xff string) *httptest.ResponseRecorder {
			return e.send(req{gql: createTicket, vars: ticketInput, remote: peer, header: http.Header{"X-Forwarded-For": {xff}}})
		}
		ok(via("10.0.0.1:1", "198.51.100.7, 10.0.0.2"))
		ok(via("10.0.0.1:1", "198.51.100.8"))
		limited(via("10.0.0.3:1", "198.51.100.7"))
		// A client cannot prepend its way out: the rightmost untrusted hop counts.
		limited(via("10.0.0.1:1", "203.0.113.1, 198.51.100.7, 10.9.9.9"))
		// Two X-Forwarded-For headers are one list.
		hr := req{gql: createTicket, vars: ticketInput, remote: "10.0.0.1:1", header: http.Header{"X-Forwarded-For": {"203.0.113.2", "198.51.100.7"}}}
		limited(e.send(hr))
		// Only the proxy's own address when the header is missing.
		ok(via("10.0.0.4:1", ""))
		limited(via("10.0.0.4:1", ""))
		// IPv6 clients share their /64.
		ok(via("[2001:db8:1:2::1]:1", ""))
		limited(via("[2001:db8:1:2::ffff]:1", ""))
		ok(via("[2001:db8:1:3::1]:1", ""))
	})
}

// lockTickets holds an exclusive lock on the tickets table until the test ends.
func (e *env) lockTickets() {
	e.t.Helper()
	ctx := context.Background()
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.ExecContext(ctx, "LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"); err != nil {
		e.t.Fatal(err)
	}
}

// TestTimeouts: a statement past DB_STATEMENT_TIMEOUT and a request past
// REQUEST_TIMEOUT answer a clean error; websockets have no deadline.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	admin := token(t, seed.Admin)
	clean := func(t *testing.T, r result, msg string) {
		t.Helper()
		if r.code() != "INTERNAL_SERVER_ERROR" || r.Errors[0].Message != msg {
			t.Fatalf("want INTERNAL_SERVER_ERROR %q, got %+v", msg, r.Errors)
		}
	}
	t.Run("Statement", func(t *testing.T) {
		t.Parallel()
		e := newEnvOpts(t, opts{stmtTimeout: 200 * time.Millisecond})
		e.lockTickets()
		start := time.Now()
		clean(t, e.do(admin, `{ tickets { totalCount } }`, nil), "the database took too long")
		clean(t, e.do("", createTicket, ticketInput), "the database took too long")
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("Request", func(t *testing.T) {
		t.Parallel()
		e := newEnvOpts(t, opts{limits: api.Limits{RequestTimeout: 300 * time.Millisecond}})
		e.lockTickets()
		start := time.Now()
		clean(t, e.do(admin, `{ tickets { totalCount } }`, nil), "the request took too long")
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("WebsocketsHaveNone", func(t *testing.T) {
		t.Parallel()
		e := newEnvOpts(t, opts{limits: api.Limits{RequestTimeout: 100 * time.Millisecond}})
		srv := e.live()
		w := connect(t, srv, "graphql-transport-ws", admin)
		w.subscribe("1", `subscription { ticketQueue { kind ticket { id } } }`, nil)
		time.Sleep(400 * time.Millisecond)
		id, _ := e.newTicket("")
		d := w.data("1")
		if str(d, "ticketQueue", "kind") != "ADDED" || str(d, "ticketQueue", "ticket", "id") != id {
			t.Fatalf("event %v", d)
		}
	})
}

// TestRequestsWaitTheirTurn: past MaxInFlight, a request waits in line for
// the ones running to finish instead of running beside them, then gets its
// answer.
func TestRequestsWaitTheirTurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnvOpts(t, opts{limits: api.Limits{MaxInFlight: 1}})
	id, _ := e.newTicket("")
	solver, admin := token(t, seed.Solver1), token(t, seed.Admin)
	// Hold the ticket's row: claiming it blocks, and keeps the one turn.
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM tickets WHERE id = ? FOR UPDATE", id); err != nil {
		t.Fatal(err)
	}
	claimed := make(chan result, 1)
	go func() { claimed <- e.do(solver, claim, map[string]any{"id": id}) }()
	for waiting := 0; waiting == 0; time.Sleep(10 * time.Millisecond) {
		if err := e.db.NewRaw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").
			Scan(ctx, &waiting); err != nil {
			t.Fatal(err)
		}
	}
	read := make(chan result, 1)
	go func() {
		read <- e.do(admin, `query($id: ID!) { ticket(id: $id) { status } }`, map[string]any{"id": id})
	}()
	select {
	case r := <-read:
		t.Fatalf("the read ran beside the blocked claim: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if r := <-claimed; r.code() != "" {
		t.Fatalf("claim: %+v", r)
	}
	// It ran after the claim: it sees the ticket claimed.
	if r := <-read; r.code() != "" || str(r.Data, "ticket", "status") != "CLAIMED" {
		t.Fatalf("read: %+v", r)
	}
}

// TestSocketRequestsWaitTheirTurn: queries and mutations over a websocket or
// an SSE stream wait in the same line (MaxInFlight) as plain HTTP requests.
func TestSocketRequestsWaitTheirTurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnvOpts(t, opts{limits: api.Limits{MaxInFlight: 1}})
	srv := e.live()
	id, _ := e.newTicket("")
	solver, admin := token(t, seed.Solver1), token(t, seed.Admin)
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM tickets WHERE id = ? FOR UPDATE", id); err != nil {
		t.Fatal(err)
	}
	claimed := make(chan result, 1)
	go func() { claimed <- e.do(solver, claim, map[string]any{"id": id}) }() // holds the one turn
	for waiting := 0; waiting == 0; time.Sleep(10 * time.Millisecond) {
		if err := e.db.NewRaw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").
			Scan(ctx, &waiting); err != nil {
			t.Fatal(err)
		}
	}
	const read = `query($id: ID!) { ticket(id: $id) { status } }`
	w := connect(t, srv, "graphql-transport-ws", admin)
	w.subscribe("q", read, map[string]any{"id": id})
	s, _ := openSSE(t, srv, read, map[string]any{"id": id}, map[string]string{"Authorization": "Bearer " + admin})
	select {
	case m := <-w.msgs:
		t.Fatalf("the socket's query ran beside the blocked claim: %s %s", m.Type, m.Payload)
	case ev := <-s.events:
		t.Fatalf("the stream's query ran beside the blocked claim: %s %s", ev.Event, ev.Data)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if r := <-claimed; r.code() != "" {
		t.Fatalf("claim: %+v", r)
	}
	// They ran after the claim: they see the ticket claimed.
	if d := w.data("q"); str(d, "ticket", "status") != "CLAIMED" {
		t.Fatalf("socket: %v", d)
	}
	if _, d := s.data(); str(d, "ticket", "status") != "CLAIMED" {
		t.Fatalf("stream: %v", d)
	}
}
