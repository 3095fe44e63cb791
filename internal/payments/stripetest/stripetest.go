// Package stripetest is a fake Stripe API for tests, served by the test on
// 127.0.0.1 (httptest): the server's real Stripe client talks to it through
// STRIPE_API_BASE, so no test reaches the network. It speaks the parts of
// Stripe's API the server uses (customers, PaymentIntents, their
// cancellation, refunds) the way Stripe does: form-encoded requests, the
// secret key as a bearer token, idempotency keys that replay the first
// answer, and JSON objects and errors. It records every request, and can be
// told to fail (an outage) with 500s. It also signs webhook deliveries with
// stripe-go's own test signer.
package stripetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

// Key is the secret key the fake accepts.
const Key = "sk_test_savvysolve_fake"

// Request is one request the fake received.
type Request struct {
	Method, Path   string
	IdempotencyKey string
	Form           url.Values
	Status         int // what the fake answered
}

// Server is the fake Stripe API.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	requests []Request
	replies  map[string][]byte // idempotency key -> first successful answer
	failing  map[string]int    // path prefix -> 500s still to answer (-1: until told otherwise)
	seq      int
	intents  map[string]map[string]any
	before   map[string]func() // path prefix -> run once before answering the next such request
}

// New starts the fake; it stops when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{replies: map[string][]byte{}, failing: map[string]int{}, intents: map[string]map[string]any{}, before: map[string]func(){}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Fail makes the next n requests whose path starts with prefix (e.g.
// "/v1/payment_intents") answer 500; n < 0 until Recover.
func (s *Server) Fail(prefix string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing[prefix] = n
}

// Before runs f once, before the fake answers the next request whose path
// starts with prefix: the caller waits for its answer meanwhile (a test
// makes something happen at that exact moment).
func (s *Server) Before(prefix string, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before[prefix] = f
}

// Recover ends every failure.
func (s *Server) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.failing)
}

// Requests returns the requests received whose path starts with prefix.
func (s *Server) Requests(prefix string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// Succeeded returns the requests to prefix that the fake answered with 200.
func (s *Server) Succeeded(prefix string) []Request {
	var out []Request
	for _, r := range s.Requests(prefix) {
		if r.Status == http.StatusOK {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid_request_error", "", "unreadable form")
		return
	}
	req := Request{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: r.PostForm}
	s.mu.Lock()
	var hook func()
	for prefix, f := range s.before {
		if strings.HasPrefix(req.Path, prefix) {
			hook = f
			delete(s.before, prefix)
			break
		}
	}
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	status, body := s.answer(r, &req)
	req.Status = status
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) answer(r *http.Request, req *Request) (int, []byte) {
	if r.Header.Get("Authorization") != "Bearer "+Key {
		return errBody(http.StatusUnauthorized, "invalid_request_error", "", "Invalid API Key provided")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for prefix, n := range s.failing {
		if n != 0 && strings.HasPrefix(req.Path, prefix) {
			if n > 0 {
				s.failing[prefix] = n - 1
			}
			return errBody(http.StatusInternalServerError, "api_error", "", "fake outage")
		}
	}
	if r.Method != http.MethodPost {
		return errBody(http.StatusNotFound, "invalid_request_error", "", "unknown route")
	}
	if b, ok := s.replies[req.IdempotencyKey]; ok && req.IdempotencyKey != "" {
		return http.StatusOK, b // Stripe replays the first answer to a repeated key
	}
	var obj map[string]any
	f := req.Form
	switch p := req.Path; {
	case p == "/v1/customers":
		obj = map[string]any{"id": s.id("cus"), "object": "customer", "email": nilIfEmpty(f.Get("email")),
			"name": nilIfEmpty(f.Get("name")), "metadata": metadata(f)}
	case p == "/v1/payment_intents":
		amount, err := strconv.ParseInt(f.Get("amount"), 10, 64)
		if err != nil || amount < 50 || f.Get("currency") == "" {
			return errBody(http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer", "amount and currency are required; amount at least 50")
		}
		id := s.id("pi")
		obj = map[string]any{"id": id, "object": "payment_intent", "amount": amount, "currency": f.Get("currency"),
			"customer": nilIfEmpty(f.Get("customer")), "receipt_email": nilIfEmpty(f.Get("receipt_email")),
			"status": "requires_payment_method", "client_secret": id + "_secret_" + strconv.Itoa(s.seq),
			"metadata": metadata(f), "created": time.Now().Unix(), "livemode": false}
		s.intents[id] = obj
	case strings.HasPrefix(p, "/v1/payment_intents/") && strings.HasSuffix(p, "/cancel"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/v1/payment_intents/"), "/cancel")
		pi, ok := s.intents[id]
		if !ok {
			return errBody(http.StatusNotFound, "invalid_request_error", "resource_missing", "No such payment_intent: "+id)
		}
		if pi["status"] == "canceled" || pi["status"] == "succeeded" {
			return errBody(http.StatusBadRequest, "invalid_request_error", "payment_intent_unexpected_state",
				fmt.Sprintf("This PaymentIntent's status is %s", pi["status"]))
		}
		pi["status"] = "canceled"
		obj = pi
	case p == "/v1/refunds":
		id := f.Get("payment_intent")
		if _, ok := s.intents[id]; !ok {
			return errBody(http.StatusNotFound, "invalid_request_error", "resource_missing", "No such payment_intent: "+id)
		}
		obj = map[string]any{"id": s.id("re"), "object": "refund", "payment_intent": id, "status": "succeeded",
			"amount": s.intents[id]["amount"], "metadata": metadata(f)}
	default:
		return errBody(http.StatusNotFound, "invalid_request_error", "", "unknown route "+p)
	}
	b, _ := json.Marshal(obj)
	if req.IdempotencyKey != "" {
		s.replies[req.IdempotencyKey] = b
	}
	return http.StatusOK, b
}

// SetIntentStatus changes what the fake knows of an intent (as paying it would).
func (s *Server) SetIntentStatus(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pi, ok := s.intents[id]; ok {
		pi["status"] = status
	}
}

func (s *Server) id(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s_fake%04d", prefix, s.seq)
}

func metadata(f url.Values) map[string]string {
	m := map[string]string{}
	for k, v := range f {
		if strings.HasPrefix(k, "metadata[") && strings.HasSuffix(k, "]") && len(v) > 0 {
			m[strings.TrimSuffix(strings.TrimPrefix(k, "metadata["), "]")] = v[0]
		}
	}
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func errBody(status int, typ, code, msg string) (int, []byte) {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return status, b
}

func writeErr(w http.ResponseWriter, status int, typ, code, msg string) {
	st, b := errBody(status, typ, code, msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	w.Write(b)
}

// APIVersion is the API version of the events the helpers below build: the
// one this stripe-go release expects.
const APIVersion = "2025-08-27.basil"

// Event is a Stripe event payload of type typ about object, created at.
func Event(id, typ, apiVersion string, at time.Time, object map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": apiVersion, "created": at.Unix(),
		"livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": object},
	})
	return b
}

// IntentEvent is a payment_intent.* event about intent intentID of session sessionID.
func IntentEvent(id, typ, intentID, sessionID string, at time.Time) []byte {
	status := map[string]string{
		"payment_intent.succeeded": "succeeded", "payment_intent.processing": "processing",
		"payment_intent.payment_failed": "requires_payment_method",
	}[typ]
	pi := map[string]any{"id": intentID, "object": "payment_intent", "status": status, "amount": 1500, "currency": "usd",
		"metadata": map[string]string{"session_id": sessionID}}
	if typ == "payment_intent.payment_failed" {
		pi["last_payment_error"] = map[string]any{"type": "card_error", "code": "card_declined", "message": "Your card was declined."}
	}
	return Event(id, typ, APIVersion, at, pi)
}

// ChargeRefunded is a charge.refunded event about the charge of intent intentID.
func ChargeRefunded(id, intentID string, at time.Time, full bool, amountRefunded int) []byte {
	return Event(id, "charge.refunded", APIVersion, at, map[string]any{
		"id": "ch_" + intentID, "object": "charge", "payment_intent": intentID, "refunded": full,
		"amount_refunded": amountRefunded, "paid": true, "status": "succeeded",
	})
}

// Sign returns the Stripe-Signature header of payload, as Stripe signs it at at,
// with stripe-go's own test signer.
func Sign(secret string, payload []byte, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}
