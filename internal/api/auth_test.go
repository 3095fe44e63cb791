package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/seed"
)

// TestTokens: expired, malformed and wrongly signed tokens are UNAUTHENTICATED.
func TestTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	expired, _ := auth.SignHS256([]byte(secret), seed.Admin, -time.Minute)
	wrong, _ := auth.SignHS256([]byte("another-secret"), seed.Admin, time.Hour)
	for name, tok := range map[string]string{
		"Expired": expired, "WrongSecret": wrong, "Malformed": "abc.def.ghi",
		"UnknownTicketToken": auth.TicketTokenPrefix + "nope",
	} {
		t.Run(name, func(t *testing.T) {
			r := e.wantCode("UNAUTHENTICATED", tok, `{ me { id } }`, nil)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("status %d", r.Status)
			}
		})
	}
	t.Run("RoleFromDatabase", func(t *testing.T) {
		d := e.must(token(t, seed.Solver1), `{ me { role solver { status } } }`, nil)
		if str(d, "me", "role") != "SOLVER" || str(d, "me", "solver", "status") != "ACTIVE" {
			t.Fatalf("me: %v", d)
		}
	})
	t.Run("AnonymousMeIsNull", func(t *testing.T) {
		if d := e.must("", `{ me { id } }`, nil); d["me"] != nil {
			t.Fatalf("me: %v", d)
		}
	})
}

// TestJWKS: RS256 tokens verify against a JWKS endpoint (Clerk's setup),
// including a key that appears after start (rotation).
func TestJWKS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	var mu sync.Mutex
	keys := []map[string]string{jwk("k1", &k1.PublicKey)}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	defer jwks.Close()
	a, err := auth.New(context.Background(), e.db, desk.New(e.db), auth.Options{JWKSURL: jwks.URL})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(kid string, k *rsa.PrivateKey, exp time.Duration) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Subject: seed.Customer1, ExpiresAt: jwt.NewNumericDate(time.Now().Add(exp))})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	v, err := a.Authenticate(context.Background(), "Bearer "+sign("k1", k1, time.Hour))
	if err != nil || v.User == nil || v.User.ID != seed.UserCustomer1 {
		t.Fatalf("k1: %v %v", v, err)
	}
	if _, err := a.Authenticate(context.Background(), "Bearer "+sign("k1", k1, -time.Hour)); err == nil {
		t.Fatal("expired RS256 token accepted")
	}
	if _, err := a.Authenticate(context.Background(), "Bearer "+sign("k1", k2, time.Hour)); err == nil {
		t.Fatal("token signed by the wrong key accepted")
	}
	mu.Lock()
	keys = append(keys, jwk("k2", &k2.PublicKey)) // rotation: a new key id
	mu.Unlock()
	if _, err := a.Authenticate(context.Background(), "Bearer "+sign("k2", k2, time.Hour)); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	// HS256 is not enabled on this authenticator.
	if _, err := a.Authenticate(context.Background(), "Bearer "+token(t, seed.Admin)); err == nil {
		t.Fatal("HS256 accepted without a secret")
	}
}

func jwk(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
}
