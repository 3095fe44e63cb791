// Package webhooks receives the signed webhooks of Clerk (users), Telnyx
// (calls and texts) and Stripe (payments). A delivery is verified, stored in webhook_events and
// given its job in one transaction, and only then acknowledged: a 2xx means
// the delivery is durable, and its job (package jobs) applies it later, with
// retries. Unsigned, wrongly signed or stale deliveries answer 401 and leave
// nothing behind; a delivery stored before answers 200 and adds no job.
package webhooks

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Tolerance is how old (or how far ahead) a signature's timestamp may be.
// Svix's library enforces the same five minutes for Clerk.
const Tolerance = 5 * time.Minute

// MaxBody bounds the size of a delivery.
const MaxBody = 1 << 20

// Enqueuer adds, inside the delivery's own transaction, the job that applies
// a stored event. *jobs.Runner is one.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx pgx.Tx, source, eventID string) error
}

// Secrets verify the senders (configuration: CLERK_WEBHOOK_SECRET, TELNYX_PUBLIC_KEY).
type Secrets struct {
	// ClerkSecret is CLERK_WEBHOOK_SECRET (whsec_...); empty: /webhooks/clerk answers 503.
	ClerkSecret string
	// TelnyxPublicKey is TELNYX_PUBLIC_KEY, the base64 Ed25519 public key Telnyx
	// shows; empty: /webhooks/telnyx answers 503.
	TelnyxPublicKey string
	// StripeSecret is STRIPE_WEBHOOK_SECRET (whsec_...), the signing secret of
	// the Stripe webhook endpoint; empty: /webhooks/stripe answers 503.
	StripeSecret string
}

// Config is what the webhook endpoints need.
type Config struct {
	Secrets
	// Pool runs the transaction that stores a delivery and inserts its job.
	Pool *pgxpool.Pool
	Jobs Enqueuer
	Log  *slog.Logger
}

type handler struct {
	pool   *pgxpool.Pool
	jobs   Enqueuer
	log    *slog.Logger
	clerk  *svix.Webhook     // nil: not configured
	telnyx ed25519.PublicKey // nil: not configured
	stripe string            // "": not configured

	versionOnce sync.Once // one warning about a Stripe API version mismatch
}

// New returns the handler of POST /webhooks/clerk, /webhooks/telnyx and
// /webhooks/stripe (mount it at /webhooks/). A malformed secret or key is an error: better a
// server that does not start than one that refuses every delivery.
func New(c Config) (http.Handler, error) {
	h := &handler{pool: c.Pool, jobs: c.Jobs, log: c.Log}
	if h.log == nil {
		h.log = slog.Default()
	}
	if c.ClerkSecret != "" {
		if !strings.HasPrefix(c.ClerkSecret, "whsec_") {
			return nil, errors.New("webhooks: CLERK_WEBHOOK_SECRET must be Clerk's signing secret, whsec_...")
		}
		wh, err := svix.NewWebhook(c.ClerkSecret)
		if err != nil {
			return nil, fmt.Errorf("webhooks: CLERK_WEBHOOK_SECRET: %w", err)
		}
		h.clerk = wh
	}
	if c.TelnyxPublicKey != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.TelnyxPublicKey))
		if err != nil || len(key) != ed25519.PublicKeySize {
			return nil, errors.New("webhooks: TELNYX_PUBLIC_KEY must be the base64 of a 32-byte Ed25519 public key, as Telnyx shows it")
		}
		h.telnyx = key
	}
	if c.StripeSecret != "" {
		if !strings.HasPrefix(c.StripeSecret, "whsec_") {
			return nil, errors.New("webhooks: STRIPE_WEBHOOK_SECRET must be the endpoint's signing secret, whsec_...")
		}
		h.stripe = c.StripeSecret
	}
	if (h.clerk != nil || h.telnyx != nil || h.stripe != "") && (c.Pool == nil || c.Jobs == nil) {
		return nil, errors.New("webhooks: a pool and a job queue are needed")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/clerk", h.serveClerk)
	mux.HandleFunc("POST /webhooks/telnyx", h.serveTelnyx)
	mux.HandleFunc("POST /webhooks/stripe", h.serveStripe)
	return mux, nil
}

func (h *handler) serveClerk(w http.ResponseWriter, r *http.Request) {
	if h.clerk == nil {
		http.Error(w, "clerk webhooks are not configured", http.StatusServiceUnavailable)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	// Svix's own verifier: HMAC over id.timestamp.body, and a timestamp at
	// most five minutes off.
	if err := h.clerk.Verify(body, r.Header); err != nil {
		h.refuse(w, r, "clerk", err.Error())
		return
	}
	id := r.Header.Get("svix-id")
	if id == "" {
		id = r.Header.Get("webhook-id")
	}
	ev, err := ParseClerk(body)
	if err != nil {
		h.log.Warn("webhook: signed but unreadable", "source", "clerk", "delivery", id, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d := store.WebhookDelivery{
		Source: models.SourceClerk, DeliveryID: id, EventType: ev.Type,
		OccurredAt: ev.OccurredAt(), Payload: body, Processed: !ClerkHandles(ev.Type),
	}
	if ev.Data.ID != "" {
		d.SubjectID = &ev.Data.ID
	}
	h.store(w, r, d)
}

func (h *handler) serveTelnyx(w http.ResponseWriter, r *http.Request) {
	if h.telnyx == nil {
		http.Error(w, "telnyx webhooks are not configured", http.StatusServiceUnavailable)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if err := verifyTelnyx(h.telnyx, r.Header, body, time.Now()); err != nil {
		h.refuse(w, r, "telnyx", err.Error())
		return
	}
	ev, err := ParseTelnyx(body)
	if err != nil {
		h.log.Warn("webhook: signed but unreadable", "source", "telnyx", "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d := store.WebhookDelivery{
		Source: models.SourceTelnyx, DeliveryID: ev.Data.ID, EventType: ev.Data.EventType,
		OccurredAt: ev.When(), Payload: body, Processed: !TelnyxHandles(ev.Data.EventType),
	}
	if s := ev.Subject(); s != "" {
		d.SubjectID = &s
	}
	h.store(w, r, d)
}

// verifyTelnyx checks Telnyx's Ed25519 signature, which signs
// "<telnyx-timestamp>|<body>", and that the timestamp is recent.
func verifyTelnyx(key ed25519.PublicKey, hd http.Header, body []byte, now time.Time) error {
	sig, ts := hd.Get("telnyx-signature-ed25519"), hd.Get("telnyx-timestamp")
	if sig == "" || ts == "" {
		return errors.New("missing telnyx-signature-ed25519 or telnyx-timestamp")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("telnyx-timestamp is not a Unix time")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return fmt.Errorf("timestamp %s off by %s", ts, d.Round(time.Second))
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return errors.New("telnyx-signature-ed25519 is not a base64 Ed25519 signature")
	}
	msg := make([]byte, 0, len(ts)+1+len(body))
	msg = append(append(append(msg, ts...), '|'), body...)
	if !ed25519.Verify(key, msg, raw) {
		return errors.New("signature does not match")
	}
	return nil
}

// store keeps the delivery and its job in one transaction and acknowledges it
// once committed. A delivery already stored (a retry, a replay) is
// acknowledged again, without a second job.
func (h *handler) store(w http.ResponseWriter, r *http.Request, d store.WebhookDelivery) {
	if field := nulField(d.Payload); field != "" {
		// PostgreSQL's jsonb cannot hold U+0000: storing it would fail on
		// every retry. Refuse it plainly instead (the sender shows the 400).
		h.log.Warn("webhook refused: NUL character", "source", d.Source, "delivery", d.DeliveryID, "field", field)
		auth.WriteError(w, http.StatusBadRequest, apperr.Invalid(field, "%s contains a NUL character (U+0000), which text cannot hold", field))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	id, inserted, err := h.insert(ctx, d)
	if err != nil {
		// Not acknowledged: the sender retries.
		h.log.Error("webhook: could not store the delivery", "source", d.Source, "delivery", d.DeliveryID, "type", d.EventType, "err", err)
		http.Error(w, "could not store the delivery, retry later", http.StatusInternalServerError)
		return
	}
	if inserted {
		h.log.Info("webhook stored", "source", d.Source, "delivery", d.DeliveryID, "type", d.EventType, "event", id, "job", !d.Processed)
	} else {
		h.log.Info("webhook already stored", "source", d.Source, "delivery", d.DeliveryID, "type", d.EventType)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"stored": true, "duplicate": !inserted})
}

func (h *handler) insert(ctx context.Context, d store.WebhookDelivery) (id string, inserted bool, err error) {
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		return "", false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	id, inserted, err = store.InsertWebhookEvent(ctx, tx, d)
	if err != nil {
		return "", false, err
	}
	if inserted && !d.Processed {
		if err := h.jobs.EnqueueTx(ctx, tx, d.Source, id); err != nil {
			return "", false, err
		}
	}
	return id, inserted, tx.Commit(ctx)
}

func (h *handler) refuse(w http.ResponseWriter, r *http.Request, source, why string) {
	h.log.Warn("webhook refused: bad signature", "source", source, "why", why, "remote", r.RemoteAddr)
	http.Error(w, "invalid signature", http.StatusUnauthorized)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "could not read the body", http.StatusBadRequest)
		}
		return nil, false
	}
	return body, true
}

// nulField names the first string (or key) of a JSON payload that holds a
// NUL character, as a dotted path; "" when none does.
func nulField(payload []byte) string {
	if !bytes.Contains(payload, []byte(`\u0000`)) {
		return "" // the only way JSON text can carry a NUL
	}
	var v any
	if json.Unmarshal(payload, &v) != nil {
		return ""
	}
	return nulIn("", v)
}

func nulIn(path string, v any) string {
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return cmp.Or(path, ".")
		}
	case []any:
		for i, e := range v {
			if f := nulIn(fmt.Sprintf("%s[%d]", path, i), e); f != "" {
				return f
			}
		}
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		for _, k := range keys {
			p := strings.TrimPrefix(path+"."+k, ".")
			if strings.IndexByte(k, 0) >= 0 {
				return p
			}
			if f := nulIn(p, v[k]); f != "" {
				return f
			}
		}
	}
	return ""
}
