package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// TicketTokenPrefix starts every ticket access token, so it is never mistaken for a JWT.
const TicketTokenPrefix = "sst_"

// Options say which user tokens verify.
type Options struct {
	// Secret (AUTH_JWT_SECRET) enables HS256 user tokens signed with it.
	Secret string
	// JWKSURL (AUTH_JWKS_URL) enables RS256 user tokens (Clerk's), with keys
	// fetched, cached and refreshed (also on an unknown key id, so Clerk's key
	// rotation needs no restart).
	JWKSURL string
	// Issuer (AUTH_ISSUER), when set, must be the token's iss: Clerk's
	// Frontend API URL, such as https://clerk.example.com.
	Issuer string
	// AuthorizedParties (AUTH_AUTHORIZED_PARTIES), when set, are the origins
	// a token's azp may name (the page the token was made for). As in Clerk's
	// guide, a token without azp is not refused for it.
	AuthorizedParties []string
}

// Identity is who a verified user token says its holder is.
type Identity struct {
	ClerkID string // the token's sub
	Email   string // the token's email claim, when the Clerk JWT template adds one
}

// Users finds the user of a verified token, and creates it on its first
// sign-in (the domain's rule: see desk.SignIn).
type Users interface {
	SignIn(ctx context.Context, id Identity) (*models.User, error)
}

// Authenticator verifies tokens and loads their viewer.
type Authenticator struct {
	db      bun.IDB
	users   Users
	secret  []byte
	jwks    keyfunc.Keyfunc
	parser  *jwt.Parser
	parties []string
	cache   *Cache
	tokens  *verified
}

// New returns an Authenticator: ticket tokens are looked up in db, user
// tokens verified as o says and their users found through users.
func New(ctx context.Context, db bun.IDB, users Users, o Options) (*Authenticator, error) {
	a := &Authenticator{db: db, users: users, secret: []byte(o.Secret), parties: o.AuthorizedParties,
		cache: NewCache(CacheSize, CacheTTL)}
	if o.JWKSURL != "" {
		k, err := keyfunc.NewDefaultCtx(ctx, []string{o.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("auth: jwks: %w", err)
		}
		a.jwks = k
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"HS256", "RS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5 * time.Second),
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(strings.TrimSuffix(o.Issuer, "/")))
	}
	a.parser = jwt.NewParser(opts...)
	a.tokens = newVerified(CacheSize, opts...)
	return a, nil
}

// Cache is where the viewers of recent tokens are kept. It serves nothing
// until a listener that tells it of changes is connected: pass it to
// live.Hub.Watch.
func (a *Authenticator) Cache() *Cache { return a.cache }

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
	hash := HashTicketToken(token)
	id, gen, ok := a.cache.ticket(hash)
	if ok {
		return Viewer{TicketID: id}, nil
	}
	t, err := store.TicketByTokenHash(ctx, a.db, hash)
	if apperr.CodeOf(err) == apperr.NotFound {
		return Viewer{}, errUnauthenticated
	}
	if err != nil {
		return Viewer{}, err
	}
	a.cache.keepTicket(hash, t.ID, gen)
	return Viewer{TicketID: t.ID}, nil
}

// claims are what a user token says: Clerk's session token, or a token of a
// Clerk JWT template that adds the user's email.
type claims struct {
	jwt.RegisteredClaims
	AuthorizedParty string `json:"azp,omitempty"`
	Email           string `json:"email,omitempty"`
}

var (
	errIssuer = apperr.New(apperr.Unauthent, "the token was not issued by this server's Clerk instance (iss)")
	errParty  = apperr.New(apperr.Unauthent, "the token was made for a page this server does not accept (azp)")
)

func (a *Authenticator) userViewer(ctx context.Context, token string) (Viewer, error) {
	c, ok := a.tokens.get(token)
	var err error
	if !ok {
		if _, err = a.parser.ParseWithClaims(token, &c, a.keyFor); err == nil {
			a.tokens.add(token, c)
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return Viewer{}, errIssuer
	case err != nil || c.Subject == "":
		return Viewer{}, errUnauthenticated
	case c.AuthorizedParty != "" && len(a.parties) > 0 && !slices.Contains(a.parties, c.AuthorizedParty):
		return Viewer{}, errParty
	}
	u, err := a.signIn(ctx, Identity{ClerkID: c.Subject, Email: c.Email})
	if err != nil {
		return Viewer{}, err
	}
	return Viewer{User: u, Solver: u.Solver, ExpiresAt: c.ExpiresAt.Time}, nil
}

// signIn returns the user of id from the cache, or else from Users. Refusals
// (a deleted user, a bad subject) are not cached.
func (a *Authenticator) signIn(ctx context.Context, id Identity) (*models.User, error) {
	u, gen, ok := a.cache.user(id.ClerkID)
	if ok {
		return u, nil
	}
	u, err := a.users.SignIn(ctx, id)
	if err != nil {
		return nil, err
	}
	a.cache.keepUser(id.ClerkID, u, gen)
	return u, nil
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
