package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/store"
)

// TicketTokenPrefix starts every ticket access token, so it is never mistaken for a JWT.
const TicketTokenPrefix = "sst_"

// Authenticator verifies tokens and loads their viewer.
type Authenticator struct {
	db     bun.IDB
	secret []byte
	jwks   keyfunc.Keyfunc
}

// New returns an Authenticator. secret enables HS256 user tokens; jwksURL
// enables RS256 user tokens, with keys fetched, cached and refreshed (also on
// an unknown key id, so Clerk's key rotation needs no restart).
func New(ctx context.Context, db bun.IDB, secret, jwksURL string) (*Authenticator, error) {
	a := &Authenticator{db: db, secret: []byte(secret)}
	if jwksURL != "" {
		k, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
		if err != nil {
			return nil, fmt.Errorf("auth: jwks: %w", err)
		}
		a.jwks = k
	}
	return a, nil
}

var errUnauthenticated = apperr.New(apperr.Unauthent, "the token is invalid or expired")

// Authenticate returns the viewer of an Authorization value ("Bearer <token>",
// or the bare token). An empty value is the anonymous viewer.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (Viewer, error) {
	token := strings.TrimSpace(authorization)
	// "Bearer " with nothing after it is what many clients send without a token.
	if token == "" || strings.EqualFold(token, "Bearer") {
		return Viewer{}, nil
	}
	if scheme, rest, ok := strings.Cut(token, " "); ok {
		if !strings.EqualFold(scheme, "Bearer") {
			return Viewer{}, apperr.New(apperr.Unauthent, "use Authorization: Bearer <token>")
		}
		token = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(token, TicketTokenPrefix) {
		return a.ticketViewer(ctx, token)
	}
	return a.userViewer(ctx, token)
}

func (a *Authenticator) ticketViewer(ctx context.Context, token string) (Viewer, error) {
	t, err := store.TicketByTokenHash(ctx, a.db, HashTicketToken(token))
	if apperr.CodeOf(err) == apperr.NotFound {
		return Viewer{}, errUnauthenticated
	}
	if err != nil {
		return Viewer{}, err
	}
	return Viewer{TicketID: t.ID}, nil
}

func (a *Authenticator) userViewer(ctx context.Context, token string) (Viewer, error) {
	claims := jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(token, &claims, a.keyFor,
		jwt.WithValidMethods([]string{"HS256", "RS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second))
	if err != nil || claims.Subject == "" {
		return Viewer{}, errUnauthenticated
	}
	u, err := store.UserByClerkID(ctx, a.db, claims.Subject)
	if apperr.CodeOf(err) == apperr.NotFound {
		return Viewer{}, apperr.New(apperr.Unauthent, "no user for this token")
	}
	if err != nil {
		return Viewer{}, err
	}
	v := Viewer{User: u, Solver: u.Solver, ExpiresAt: claims.ExpiresAt.Time}
	return v, nil
}

// keyFor picks the verification key by algorithm: the shared secret for
// HS256, the JWKS for RS256; a method without a configured key fails.
func (a *Authenticator) keyFor(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case "HS256":
		if len(a.secret) == 0 {
			return nil, errors.New("HS256 tokens are not enabled")
		}
		return a.secret, nil
	case "RS256":
		if a.jwks == nil {
			return nil, errors.New("RS256 tokens are not enabled")
		}
		return a.jwks.Keyfunc(t)
	}
	return nil, errors.New("unexpected signing method")
}

// SignHS256 makes an HS256 user token for clerkID with secret.
func SignHS256(secret []byte, clerkID string, ttl time.Duration) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("auth: AUTH_JWT_SECRET is not set")
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Subject:   clerkID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// NewTicketToken returns a fresh guest token and the hash to store.
func NewTicketToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	token = TicketTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashTicketToken(token)
}

// HashTicketToken is what the database keeps of a ticket token. The token has
// 256 random bits, so a fast hash is enough: nothing to brute-force.
func HashTicketToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
