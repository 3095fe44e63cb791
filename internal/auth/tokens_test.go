package auth

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/models"
)

// users signs in whoever a token names (the domain's rule is tested with a
// real database in internal/api; here only the token matters).
type users struct{ calls int }

func (u *users) SignIn(_ context.Context, id Identity) (*models.User, error) {
	u.calls++
	return &models.User{ID: "u-" + id.ClerkID, ClerkID: id.ClerkID}, nil
}

// TestVerifiedTokens: a token is verified once and then read from the cache
// of verified tokens, whose times are checked on every use: an expired one
// is refused even though it is kept, and a token with a bad signature is
// never kept.
func TestVerifiedTokens(t *testing.T) {
	ctx := context.Background()
	a, err := New(ctx, nil, &users{}, Options{Secret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := SignHS256([]byte("s3cret"), "user_1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		v, err := a.Authenticate(ctx, "Bearer "+tok)
		if err != nil || v.User == nil || v.User.ClerkID != "user_1" {
			t.Fatalf("request %d: %v %+v", i, err, v)
		}
	}
	if _, ok := a.tokens.get(tok); !ok {
		t.Error("a verified token is not kept")
	}

	// An expired token, kept as verified (as it was within its minute), is refused.
	old := "kept.expired.token"
	c := claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "user_2",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Minute))}}
	a.tokens.add(old, c)
	if _, err := a.Authenticate(ctx, "Bearer "+old); apperr.CodeOf(err) != apperr.Unauthent {
		t.Errorf("an expired kept token: got %v, want UNAUTHENTICATED", err)
	}

	// A token with a bad signature is refused and never kept.
	bad, _ := SignHS256([]byte("another secret"), "user_3", time.Minute)
	for range 2 {
		if _, err := a.Authenticate(ctx, "Bearer "+bad); apperr.CodeOf(err) != apperr.Unauthent {
			t.Errorf("a forged token: got %v, want UNAUTHENTICATED", err)
		}
	}
	if _, ok := a.tokens.get(bad); ok {
		t.Error("a forged token was kept")
	}
}
