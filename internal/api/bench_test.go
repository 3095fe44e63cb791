package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/savvysolve/api/internal/seed"
)

// BenchmarkHistory: the benchmark's chat history read (bench, history) of 50
// completed tickets with a session of 10 messages each, through the real
// handler and database. Its allocations per request are the stable measure
// of the server's work (ns/op includes the database, on this machine):
//
//	go test -run '^$' -bench History -benchmem ./internal/api
func BenchmarkHistory(b *testing.B) {
	e := newEnv(b)
	e.manyTickets(50)
	_, err := e.db.ExecContext(context.Background(), `INSERT INTO session_messages (session_id, seq, sender, author_id, body)
		SELECT s.id, g, 'customer', ?, 'Still dropping: every few minutes.' FROM sessions s, generate_series(4, 10) g`, seed.UserCustomer1)
	if err != nil {
		b.Fatal(err)
	}
	admin := token(b, seed.Admin)
	vars := map[string]any{"first": 50}
	const history = `query History($first: Int!) { tickets(first: $first, filter: {status: [COMPLETED]}) {
		edges { node { id status createdAt
			solver { id user { name } }
			sessions { id startedAt endedAt
				messages(first: 10) { edges { node { id body createdAt author { name } } } }
				rating { id rating } } } } } }`
	e.must(admin, history, vars)
	body, _ := json.Marshal(map[string]any{"query": history, "variables": vars})
	w := &discard{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin)
		e.h.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.n < 10000 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
		w.n = 0
	}
}

// discard is a ResponseWriter that keeps only the status and the size.
type discard struct {
	header http.Header
	status int
	n      int
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) WriteHeader(status int)      { d.status = status }
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
