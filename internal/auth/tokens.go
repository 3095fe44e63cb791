package auth

import (
	"sync"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// verified keeps the claims of user tokens whose signature checked out, so
// that the next request with the same token does not verify it again: a
// Clerk session token is sent with every request of its minute, and its
// signature (RSA for Clerk's, HMAC for HS256) and claims' JSON are most of
// what reading it costs. The claims' times are validated again on every use,
// so an expired token is refused as before. Failures are never kept.
type verified struct {
	mu        sync.Mutex
	claims    *simplelru.LRU[string, claims]
	validator *jwt.Validator
}

func newVerified(size int, opts ...jwt.ParserOption) *verified {
	return &verified{claims: mustLRU[claims](size), validator: jwt.NewValidator(opts...)}
}

// get returns the claims of token if it was verified before and its times
// (exp, nbf, iat, iss) still hold.
func (v *verified) get(token string) (claims, bool) {
	v.mu.Lock()
	c, ok := v.claims.Get(token)
	v.mu.Unlock()
	if !ok || v.validator.Validate(&c) != nil {
		return claims{}, false
	}
	return c, true
}

func (v *verified) add(token string, c claims) {
	v.mu.Lock()
	v.claims.Add(token, c)
	v.mu.Unlock()
}
