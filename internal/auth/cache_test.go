package auth

import (
	"testing"
	"time"

	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/models"
)

// The cache's rules, on its own (the tests through GraphQL, with a real
// listener and real writes, are in internal/api/viewer_test.go).

func testCache(size int) (*Cache, *time.Time) {
	c := NewCache(size, time.Minute)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	return c, &now
}

// fill caches a user read for clerkID as a request would: lookup, then keep.
func fill(c *Cache, clerkID, userID string) {
	_, gen, _ := c.user(clerkID)
	c.keepUser(clerkID, &models.User{ID: userID, ClerkID: clerkID}, gen)
}

func cached(c *Cache, clerkID string) bool {
	_, _, ok := c.user(clerkID)
	return ok
}

func TestCacheServesOnlyWhileListening(t *testing.T) {
	c, _ := testCache(10)
	fill(c, "c1", "u1")
	if cached(c, "c1") {
		t.Fatal("served before the listener connected")
	}
	c.Listening(true)
	fill(c, "c1", "u1")
	if !cached(c, "c1") {
		t.Fatal("not served while listening")
	}
	c.Listening(false)
	if cached(c, "c1") {
		t.Fatal("served after the listener lost its connection")
	}
	c.Listening(true)
	if cached(c, "c1") {
		t.Fatal("an entry from before the lost connection survived it")
	}
}

func TestCacheInvalidation(t *testing.T) {
	c, _ := testCache(10)
	c.Listening(true)
	fill(c, "c1", "u1")
	fill(c, "c2", "u2")
	c.Heard(events.Event{Kind: events.Ticket, ID: "u1"}) // another kind: nothing
	if !cached(c, "c1") {
		t.Fatal("dropped by a ticket event")
	}
	c.Heard(events.Event{Kind: events.User, ID: "u1"})
	if cached(c, "c1") || !cached(c, "c2") {
		t.Fatal("a user event must drop that user, and only that user")
	}
}

// A read that began before an invalidation (or a reconnect) may hold the
// row as it was before the change: it is not kept.
func TestCacheKeepsNoReadOlderThanAChange(t *testing.T) {
	for name, change := range map[string]func(c *Cache){
		"user event":   func(c *Cache) { c.Heard(events.Event{Kind: events.User, ID: "u9"}) },
		"reconnection": func(c *Cache) { c.Listening(false); c.Listening(true) },
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := testCache(10)
			c.Listening(true)
			_, gen, _ := c.user("c1")
			change(c)
			c.keepUser("c1", &models.User{ID: "u1"}, gen)
			if cached(c, "c1") {
				t.Fatal("kept a read that began before the change")
			}
			_, gen, _ = c.ticket([]byte("h"))
			change(c)
			c.keepTicket([]byte("h"), "t1", gen)
			if _, _, ok := c.ticket([]byte("h")); ok {
				t.Fatal("kept a ticket read that began before the change")
			}
		})
	}
}

func TestCacheBounds(t *testing.T) {
	c, now := testCache(2)
	c.Listening(true)
	fill(c, "c1", "u1")
	fill(c, "c2", "u2")
	fill(c, "c3", "u3") // past the size: the least recently used goes
	if cached(c, "c1") || !cached(c, "c2") || !cached(c, "c3") {
		t.Fatal("size bound")
	}
	_, gen, _ := c.ticket([]byte("h"))
	c.keepTicket([]byte("h"), "t1", gen)
	*now = now.Add(time.Minute - time.Nanosecond)
	if id, _, ok := c.ticket([]byte("h")); !ok || id != "t1" || !cached(c, "c2") {
		t.Fatal("expired early")
	}
	*now = now.Add(time.Nanosecond)
	if _, _, ok := c.ticket([]byte("h")); ok || cached(c, "c2") {
		t.Fatal("served past the TTL")
	}
}
