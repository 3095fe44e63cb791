package auth

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/models"
)

// The cache's bounds: the least recently used entries go past CacheSize
// per kind, and every entry is read again after CacheTTL at the latest, in
// case an invalidation went missing after all (a row changed by hand
// without its event).
const (
	CacheSize = 10000
	CacheTTL  = time.Minute
)

// Cache keeps the viewers of recent tokens across requests on this replica,
// so that a request does not spend a statement reading who makes it: users
// (with their solver profile) by id, and the two mappings that never change
// once made, a Clerk id to its user's id and a guest token's hash to its
// ticket's id (users and tickets are never deleted; ids, Clerk ids and token
// hashes are never rewritten).
//
// A user's entry is dropped on every replica by the events.User event that
// every write to users and solvers publishes (internal/store), as soon as
// this replica's listener hears it, and at once by the replica that writes
// (see events.WithHook). Invalidations go missing while the listener is not
// connected, so the cache serves nothing then, and is emptied whenever the
// listener connects or disconnects (Listening). A read that was under way
// when an invalidation or a change of the listener arrived is not kept: its
// row may predate the change.
//
// Cached values are shared by concurrent requests: nothing may change them.
// A cached solver profile's Stats may be stale: the stats' writes publish no
// event, and every field that shows stats reads the solver through the
// loaders, never from the viewer.
type Cache struct {
	mu      sync.Mutex
	on      bool                                        // the listener is connected: invalidations arrive
	gen     uint64                                      // counts invalidations and changes of the listener
	users   *simplelru.LRU[string, entry[*models.User]] // by user id
	userIDs *simplelru.LRU[string, entry[string]]       // user id by Clerk id
	tickets *simplelru.LRU[string, entry[string]]       // ticket id by token hash
	ttl     time.Duration
	now     func() time.Time
}

// entry is a cached value and the time it stops being served.
type entry[V any] struct {
	v       V
	expires time.Time
}

// NewCache returns an empty cache of at most size entries of each kind,
// each kept for at most ttl. It serves nothing until Listening(true).
func NewCache(size int, ttl time.Duration) *Cache {
	return &Cache{
		users:   mustLRU[entry[*models.User]](size),
		userIDs: mustLRU[entry[string]](size),
		tickets: mustLRU[entry[string]](size),
		ttl:     ttl,
		now:     time.Now,
	}
}

func mustLRU[V any](size int) *simplelru.LRU[string, V] {
	l, err := simplelru.NewLRU[string, V](size, nil)
	if err != nil { // only for a size below 1
		panic(err)
	}
	return l
}

// Listening is told by the listener (live.Hub.Watch) when it connects (on)
// and when it loses its connection or stops (off). Either way the cache
// empties: whatever it held may have missed an invalidation.
func (c *Cache) Listening(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = on
	c.gen++
	c.users.Purge()
	c.userIDs.Purge()
	c.tickets.Purge()
}

// Heard drops the user a User event names.
func (c *Cache) Heard(e events.Event) {
	if e.Kind != events.User {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++ // also when absent: a read of the row may be under way
	c.users.Remove(e.ID)
}

// user returns the cached user with clerkID, and the generation to pass to
// keepUser after reading the user from the database on a miss.
func (c *Cache) user(clerkID string) (u *models.User, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return nil, c.gen, false
	}
	id, ok := get(c, c.userIDs, clerkID)
	if ok {
		u, ok = get(c, c.users, id)
	}
	return u, c.gen, ok
}

// keepUser caches u, read for clerkID since user returned gen, unless the
// cache changed meanwhile.
func (c *Cache) keepUser(clerkID string, u *models.User, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on || gen != c.gen {
		return
	}
	expires := c.now().Add(c.ttl)
	c.userIDs.Add(clerkID, entry[string]{u.ID, expires})
	c.users.Add(u.ID, entry[*models.User]{u, expires})
}

// ticket returns the id of the ticket whose guest token has hash, and the
// generation to pass to keepTicket on a miss.
func (c *Cache) ticket(hash []byte) (id string, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return "", c.gen, false
	}
	id, ok = get(c, c.tickets, string(hash))
	return id, c.gen, ok
}

// keepTicket caches the ticket id of a token hash, as keepUser does.
func (c *Cache) keepTicket(hash []byte, id string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on || gen != c.gen {
		return
	}
	c.tickets.Add(string(hash), entry[string]{id, c.now().Add(c.ttl)})
}

// get returns k's value unless it expired (then it is dropped); c.mu is held.
func get[V any](c *Cache, l *simplelru.LRU[string, entry[V]], k string) (V, bool) {
	e, ok := l.Get(k)
	if ok && c.now().Before(e.expires) {
		return e.v, true
	}
	if ok {
		l.Remove(k)
	}
	var zero V
	return zero, false
}
