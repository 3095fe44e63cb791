package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proxy forwards PostgreSQL connections. With count, it counts the
// statements clients send: every simple-protocol Query ('Q') and every
// extended-protocol Execute ('E'). Bun formats arguments into the SQL text,
// so pgx sends its statements as simple queries; BEGIN and COMMIT count, as
// they do in the server's own statement counter. pgx's "-- ping" of idle
// connections does not. With a delay, every chunk in each direction arrives
// that much later: a database farther away than loopback.
type proxy struct {
	ln         net.Listener
	cfg        proxyConfig
	statements atomic.Int64
	// Chunks delivered through delay lines, and their total time from
	// arrival to delivery: the latency actually added.
	delayedChunks, delayedNS atomic.Int64

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

type proxyConfig struct {
	target string        // host:port of PostgreSQL
	count  bool          // count the statements clients send
	delay  time.Duration // one-way latency added to each direction
}

func newProxy(cfg proxyConfig) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, cfg: cfg, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// addedLatency is the mean time a chunk spent in a delay line so far.
func (p *proxy) addedLatency() time.Duration {
	n := p.delayedChunks.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(p.delayedNS.Load() / n)
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *proxy) handle(client net.Conn) {
	srv, err := net.Dial("tcp", p.cfg.target)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, true)
	p.track(srv, true)
	defer func() {
		p.track(client, false)
		p.track(srv, false)
	}()
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(client, srv, false) })
	p.pipe(srv, client, p.cfg.count)
	wg.Wait()
}

// pipe forwards what src sends to dst (counting statements when asked), then
// closes both connections, so the other direction ends too. With a delay,
// what is still on its way is delivered first.
func (p *proxy) pipe(dst, src net.Conn, count bool) {
	defer func() {
		src.Close()
		dst.Close()
	}()
	var w io.Writer = dst
	if p.cfg.delay > 0 {
		l := p.newDelayLine(dst)
		defer l.close()
		w = l
	}
	if count {
		p.count(bufio.NewReaderSize(src, 64<<10), bufio.NewWriterSize(w, 64<<10))
		return
	}
	io.Copy(w, src)
}

// delayLine writes each chunk it is given to w once the proxy's delay has
// passed since it arrived, in order. Write only queues, so the delay adds
// latency without limiting throughput, as a longer cable would: one goroutine
// per direction delivers the chunks at their times.
type delayLine struct {
	p     *proxy
	w     io.Writer
	queue chan timedChunk
	done  chan struct{} // closed when the delivering goroutine has ended
}

type timedChunk struct {
	arrived time.Time
	b       []byte
}

var errLineDown = errors.New("delay line: the destination failed")

func (p *proxy) newDelayLine(w io.Writer) *delayLine {
	l := &delayLine{p: p, w: w, queue: make(chan timedChunk, 1024), done: make(chan struct{})}
	go l.deliver()
	return l
}

func (l *delayLine) Write(b []byte) (int, error) {
	select {
	case l.queue <- timedChunk{arrived: time.Now(), b: bytes.Clone(b)}:
		return len(b), nil
	case <-l.done:
		return 0, errLineDown
	}
}

// close delivers what is queued and waits for it; no Write may follow.
func (l *delayLine) close() {
	close(l.queue)
	<-l.done
}

func (l *delayLine) deliver() {
	defer close(l.done)
	for c := range l.queue {
		sleepPrecisely(time.Until(c.arrived.Add(l.p.cfg.delay)))
		if _, err := l.w.Write(c.b); err != nil {
			return
		}
		l.p.delayedChunks.Add(1)
		l.p.delayedNS.Add(int64(time.Since(c.arrived)))
	}
}

// sleepPrecisely sleeps for d in the kernel. Go's timers wake an otherwise
// idle process on millisecond boundaries (a 300 µs time.Sleep takes about
// 1.1 ms), which would add up to a millisecond to a latency of one; a
// nanosleep overshoots by tens of microseconds. The goroutine holds its
// thread meanwhile, which the runtime allows for (a blocking system call).
func sleepPrecisely(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}

var pgPing = []byte("-- ping")

// count forwards the client's messages to w, counting statements.
func (p *proxy) count(r *bufio.Reader, w *bufio.Writer) error {
	// Startup phase: untyped messages (length, then payload). SSL and GSSAPI
	// requests are answered with one byte and followed by another startup
	// message; the benchmark connects with sslmode=disable.
startup:
	for {
		msg, err := readUntyped(r)
		if err != nil {
			return err
		}
		if _, err := w.Write(msg); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		switch binary.BigEndian.Uint32(msg[4:8]) {
		case 80877103, 80877104: // SSLRequest, GSSENCRequest
			continue
		case 80877102: // CancelRequest
			return nil
		}
		break startup
	}
	head := make([]byte, 5)
	for {
		if _, err := io.ReadFull(r, head); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(head[1:5])) - 4
		if n < 0 {
			return errors.New("bad message length")
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		switch head[0] {
		case 'Q':
			if !bytes.HasPrefix(body, pgPing) {
				p.statements.Add(1)
			}
		case 'E':
			p.statements.Add(1)
		}
		if _, err := w.Write(head); err != nil {
			return err
		}
		if _, err := w.Write(body); err != nil {
			return err
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

func readUntyped(r *bufio.Reader) ([]byte, error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(head))
	if n < 8 || n > 1<<20 {
		return nil, errors.New("bad startup message length")
	}
	msg := make([]byte, n)
	copy(msg, head)
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return nil, err
	}
	return msg, nil
}
