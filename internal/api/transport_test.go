package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/models"
)

// TestHTTPStatuses: GraphQL over HTTP by the specification. A request that is
// not a GraphQL request answers 400; a request error (the operation never
// ran) answers without a data entry, 200 under application/json and 400
// under application/graphql-response+json, except the refusals with their
// own status; an executed operation answers 200 with its data entry.
func TestHTTPStatuses(t *testing.T) {
	t.Parallel()
	e := newEnvOpts(t, opts{limits: api.Limits{MaxComplexity: 1000, RateUser: 1}})
	admin := token(t, seed.Admin)
	const (
		jsonMedia = "application/json"
		gqlMedia  = "application/graphql-response+json"
	)
	heavy := `{ tickets(first: 100) { edges { node { sessions { messages(first: 100) { edges { node { id } } } } } } } }`
	cases := []struct {
		name string
		r    req
		raw  string // the POST body, when not built from r.gql
		// status under application/json and application/graphql-response+json
		jsonStatus, gqlStatus int
		code                  string // of the first error; "" for none
		data                  bool   // the body has a data entry
	}{
		{"Executed", req{gql: `{ __typename }`}, "", 200, 200, "", true},
		{"FieldErrorKeepsData", req{gql: `{ ticket(id: "00000000-0000-0000-0000-000000000000") { id } }`, tok: admin}, "", 200, 200, "NOT_FOUND", true},
		{"ParseFailure", req{gql: `{`}, "", 200, 400, "GRAPHQL_PARSE_FAILED", false},
		{"ValidationFailure", req{gql: `{ nope }`}, "", 200, 400, "GRAPHQL_VALIDATION_FAILED", false},
		{"VariableCoercion", req{gql: `query($id: ID!) { ticket(id: $id) { id } }`, vars: map[string]any{"id": nil}}, "", 200, 400, "GRAPHQL_VALIDATION_FAILED", false},
		{"UnknownOperationName", req{}, `{"query": "query A { __typename }", "operationName": "B"}`, 200, 400, "GRAPHQL_VALIDATION_FAILED", false},
		{"UnknownPersistedQuery", req{}, `{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "` + strings.Repeat("a", 64) + `"}}}`, 200, 400, "PERSISTED_QUERY_NOT_FOUND", false},
		{"PageOutOfRange", req{gql: `{ tickets(first: 101) { totalCount } }`, tok: admin}, "", 200, 400, "BAD_USER_INPUT", false},
		{"TooComplex", req{gql: heavy, tok: admin}, "", 422, 400, "COMPLEXITY_LIMIT_EXCEEDED", false},
		{"SubscriptionOverHTTP", req{gql: `subscription { ticketQueue { kind } }`, tok: admin}, "", 400, 400, "BAD_USER_INPUT", false},
		{"MutationOverGET", req{method: http.MethodGet, gql: `mutation { __typename }`}, "", 405, 405, "BAD_USER_INPUT", false},
		{"NoBody", req{}, "", 400, 400, "BAD_USER_INPUT", false},
		{"BodyNotJSON", req{}, `{ "not a JSON`, 400, 400, "BAD_USER_INPUT", false},
		{"BodyNotObject", req{}, `["{ __typename }"]`, 400, 400, "BAD_USER_INPUT", false},
		{"TrailingData", req{}, `{"query": "{ __typename }"} {}`, 400, 400, "BAD_USER_INPUT", false},
		{"NoQuery", req{}, `{"qeury": "{ __typename }"}`, 400, 400, "BAD_USER_INPUT", false},
		{"NullQuery", req{}, `{"query": null}`, 400, 400, "BAD_USER_INPUT", false},
		{"QueryNotString", req{}, `{"query": {"obj": "ect"}}`, 400, 400, "BAD_USER_INPUT", false},
		{"OperationNameNotString", req{}, `{"query": "{ __typename }", "operationName": 0}`, 400, 400, "BAD_USER_INPUT", false},
		{"VariablesNotObject", req{}, `{"query": "{ __typename }", "variables": "{}"}`, 400, 400, "BAD_USER_INPUT", false},
		{"ExtensionsNotObject", req{}, `{"query": "{ __typename }", "extensions": ["a"]}`, 400, 400, "BAD_USER_INPUT", false},
		{"GETNoQuery", req{method: http.MethodGet, query: "operationName=A"}, "", 400, 400, "BAD_USER_INPUT", false},
		{"GETVariablesNotObject", req{method: http.MethodGet, query: url.Values{"query": {"{ __typename }"}, "variables": {"[1]"}}.Encode()}, "", 400, 400, "BAD_USER_INPUT", false},
		{"GETParseFailure", req{method: http.MethodGet, query: url.Values{"query": {"{"}}.Encode()}, "", 200, 400, "GRAPHQL_PARSE_FAILED", false},
	}
	for _, c := range cases {
		for _, media := range []string{jsonMedia, gqlMedia} {
			t.Run(c.name+"/"+media, func(t *testing.T) {
				r := c.r
				if c.raw != "" {
					r.body = strings.NewReader(c.raw)
				}
				r.header = http.Header{"Accept": {media}}
				w := e.send(r)
				want := c.jsonStatus
				if media == gqlMedia {
					want = c.gqlStatus
				}
				var body map[string]json.RawMessage
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
					t.Fatalf("%d: not JSON: %q", w.Code, w.Body.String())
				}
				_, hasData := body["data"]
				got := decode(t, w)
				if w.Code != want || got.code() != c.code || hasData != c.data {
					t.Fatalf("want %d %q data=%v, got %d %q data=%v: %s", want, c.code, c.data, w.Code, got.code(), hasData, w.Body.String())
				}
				if ct := w.Header().Get("Content-Type"); ct != media {
					t.Fatalf("Content-Type %q, want %q", ct, media)
				}
			})
		}
	}
	t.Run("RateLimitedKeeps429", func(t *testing.T) {
		for _, media := range []string{jsonMedia, gqlMedia} {
			// RateUser 1: the first mutation of the minute passes, the second is refused.
			tok, _, _ := e.newUser("rate_"+strings.ReplaceAll(media, "/", "_"), models.RoleCustomer, "")
			h := http.Header{"Accept": {media}}
			tid, _ := e.newTicket(tok)
			w := e.send(req{gql: `mutation($id: ID!) { cancelTicket(ticketId: $id) { id } }`, vars: map[string]any{"id": tid}, tok: tok, header: h})
			if w.Code != http.StatusTooManyRequests || strings.Contains(w.Body.String(), `"data"`) {
				t.Fatalf("%s: %d %s", media, w.Code, w.Body.String())
			}
		}
	})
}

// TestAcceptNegotiation: the response's media type is the Accept header's
// preferred supported type; anything else gets application/json.
func TestAcceptNegotiation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for accept, want := range map[string]string{
		"":                                  "application/json",
		"*/*":                               "application/json",
		"application/*":                     "application/json",
		"text/html":                         "application/json",
		"application/json":                  "application/json",
		"application/graphql-response+json": "application/graphql-response+json",
		"application/graphql-response+json, application/json;q=0.9": "application/graphql-response+json",
		"application/json, application/graphql-response+json":       "application/json",
		"application/json;q=0.5, application/graphql-response+json": "application/graphql-response+json",
		"text/html, application/graphql-response+json;q=0.1":        "application/graphql-response+json",
		"application/graphql-response+json;q=0, application/json":   "application/json",
	} {
		h := http.Header{}
		if accept != "" {
			h.Set("Accept", accept)
		}
		w := e.send(req{gql: `{ __typename }`, header: h})
		if ct := w.Header().Get("Content-Type"); w.Code != 200 || ct != want {
			t.Errorf("Accept %q: %d %q, want %q", accept, w.Code, ct, want)
		}
	}
}
