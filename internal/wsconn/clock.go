package wsconn

import (
	"container/heap"
	"sync"
	"time"
)

// clock runs the sockets' timed work (pings and the pong check, closing at
// a token's expiry) from one heap under one runtime timer. A runtime timer
// per socket, or two (pings, expiry), costs some hundreds of bytes with its
// closure, for each of tens of thousands of idle sockets; here a socket costs
// a slot in the heap. Due sockets run their work on goroutines of their own,
// as time.AfterFunc would: a ping may wait for a slow peer's write.
type clock struct {
	mu    sync.Mutex
	socks dueHeap
	timer *time.Timer
	at    int64 // when timer fires, in Unix nanoseconds (0: not armed)
}

// sockets is the clock of every socket.
var sockets clock

// set makes s due at due (Unix nanoseconds); 0 removes it.
func (c *clock) set(s *socket, due int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case due == 0 && s.slot >= 0:
		heap.Remove(&c.socks, s.slot)
		return
	case due == 0:
		return
	case s.slot >= 0:
		s.due = due
		heap.Fix(&c.socks, s.slot)
	default:
		s.due = due
		heap.Push(&c.socks, s)
	}
	c.arm()
}

// arm (c.mu held) makes the timer fire by the earliest due socket.
func (c *clock) arm() {
	if len(c.socks) == 0 {
		return
	}
	next := c.socks[0].due
	if c.at != 0 && c.at <= next {
		return
	}
	c.at = next
	d := time.Duration(next - time.Now().UnixNano())
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.fire)
	} else {
		c.timer.Reset(d)
	}
}

// fire starts the work of the sockets that are due.
func (c *clock) fire() {
	now := time.Now().UnixNano()
	var due []*socket
	c.mu.Lock()
	for len(c.socks) > 0 && c.socks[0].due <= now {
		due = append(due, heap.Pop(&c.socks).(*socket))
	}
	c.at = 0
	c.arm()
	c.mu.Unlock()
	for _, s := range due {
		go s.tick()
	}
}

// dueHeap orders sockets by due time; each knows its slot.
type dueHeap []*socket

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].slot, h[j].slot = i, j
}
func (h *dueHeap) Push(x any) {
	s := x.(*socket)
	s.slot = len(*h)
	*h = append(*h, s)
}
func (h *dueHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.slot = -1
	if cap(*h) > 1024 && len(*h) < cap(*h)/4 { // many sockets have gone: do not keep their room
		*h = append(dueHeap(nil), *h...)
	}
	return s
}
