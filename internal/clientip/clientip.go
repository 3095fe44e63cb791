// Package clientip resolves the address of a request's client once, where
// the request enters the server, and keeps it in the request's context: the
// access log, the rate limiter and anything else that asks read the same
// answer. The address is the peer's or, when the peer is a trusted proxy
// (TRUSTED_PROXIES), the rightmost address of X-Forwarded-For that is not a
// trusted proxy. A client that talks to the server directly cannot choose its
// address with a header.
package clientip

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

type key struct{}

// Middleware resolves each request's client address (trusting the
// X-Forwarded-For of the peers in trusted) and puts it into the context.
func Middleware(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := Resolve(r, trusted)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, ip)))
		})
	}
}

// From returns the address Middleware resolved for ctx's request; the zero
// Addr when the request did not pass it.
func From(ctx context.Context) netip.Addr {
	ip, _ := ctx.Value(key{}).(netip.Addr)
	return ip
}

// Of returns r's client address: the one Middleware resolved, else the
// peer's (no proxy is trusted without the middleware's list).
func Of(r *http.Request) netip.Addr {
	if ip := From(r.Context()); ip.IsValid() {
		return ip
	}
	return Resolve(r, nil)
}

// Resolve works out r's client address with trusted as the trusted proxies.
func Resolve(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ip := parseAddr(r.RemoteAddr)
	if !trustedAddr(ip, trusted) {
		return ip
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := parseAddr(strings.TrimSpace(hops[i]))
		if !hop.IsValid() {
			break // a garbled chain: trust nothing left of it
		}
		if !trustedAddr(hop, trusted) {
			return hop
		}
		ip = hop
	}
	return ip
}

// parseAddr reads "addr", "addr:port" or "[addr]:port"; IPv4-mapped IPv6
// addresses become IPv4. It returns the zero Addr for anything else.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(strings.Trim(s, "[]"))
	return a.Unmap()
}

func trustedAddr(a netip.Addr, trusted []netip.Prefix) bool {
	return a.IsValid() && slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
}
