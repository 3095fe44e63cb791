package wsconn

import (
	"sync"
	"syscall"
	"time"
)

// readable reports whether a read of fd would not block: data, the end of
// the stream or an error. syscall.RawConn.Read parks the goroutine until the
// descriptor is readable while it returns false.
func readable(fd uintptr) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n > 0 || err != syscall.EAGAIN
}

// poller waits for the readability of every idle socket with one epoll
// instance, on one goroutine (in a blocking system call), so that an idle
// socket holds no goroutine and no stack. A socket is armed for one event at
// a time (level-triggered, one-shot: data that arrived before it was armed
// fires at once); the event runs the socket's read loop on a new goroutine.
// The runtime's own poller watches the same descriptors for the reads and
// writes themselves; a second epoll instance on them is allowed.
type poller struct {
	once  sync.Once
	epfd  int // -1: no epoll here (the sockets wait on goroutines)
	mu    sync.Mutex
	socks map[uint64]*socket // by pollKey: the kernel holds keys, not pointers
	next  uint64
}

var idlePoller poller

// arm has the poller run s's read loop once s is readable, and reports
// whether it will; false leaves s to wait on its goroutine.
func (p *poller) arm(s *socket) bool {
	p.once.Do(p.start)
	if p.epfd < 0 {
		return false
	}
	// Under p.mu: the goroutine the event starts reads what this one wrote
	// (the socket's buffered reader), after it looks s up under p.mu.
	p.mu.Lock()
	defer p.mu.Unlock()
	op := syscall.EPOLL_CTL_MOD
	if s.pollKey == 0 {
		p.next++
		s.pollKey = p.next
		p.socks[s.pollKey] = s
		op = syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(s.pollKey)),
		Pad:    int32(uint32(s.pollKey >> 32)),
	}
	var err error
	if cerr := s.raw.Control(func(fd uintptr) { err = syscall.EpollCtl(p.epfd, op, int(fd), &ev) }); cerr != nil {
		err = cerr
	}
	if err != nil { // closed meanwhile: the goroutine's read reports it
		delete(p.socks, s.pollKey)
		s.pollKey = 0
		return false
	}
	return true
}

// forget drops a closed socket (closing its descriptor removed it from the
// epoll set).
func (p *poller) forget(s *socket) {
	p.mu.Lock()
	if s.pollKey != 0 {
		delete(p.socks, s.pollKey)
	}
	p.mu.Unlock()
}

func (p *poller) start() {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		p.epfd = -1
		return
	}
	p.epfd, p.socks = fd, map[uint64]*socket{}
	go p.run()
}

// run starts the read loop of each socket that became readable.
func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err != syscall.EINTR { // not expected: do not spin on it
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if s := p.socks[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]; s != nil {
				go s.readLoop(true)
			}
		}
		p.mu.Unlock()
	}
}
