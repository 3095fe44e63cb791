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
)

// countingProxy forwards PostgreSQL connections and counts the statements
// clients send: every simple-protocol Query ('Q') and every extended-protocol
// Execute ('E'). Bun formats arguments into the SQL text, so pgx sends its
// statements as simple queries; BEGIN and COMMIT count, as they do in the
// server's own statement counter. pgx's "-- ping" of idle connections does not.
type countingProxy struct {
	ln         net.Listener
	target     string
	statements atomic.Int64
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]struct{}
}

func newCountingProxy(target string) (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *countingProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *countingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *countingProxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *countingProxy) serve() {
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

func (p *countingProxy) handle(client net.Conn) {
	srv, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, true)
	p.track(srv, true)
	defer func() {
		client.Close()
		srv.Close()
		p.track(client, false)
		p.track(srv, false)
	}()
	go func() {
		io.Copy(client, srv)
		client.Close()
		srv.Close()
	}()
	p.count(bufio.NewReaderSize(client, 64<<10), bufio.NewWriterSize(srv, 64<<10))
}

var pgPing = []byte("-- ping")

// count forwards the client's messages to w, counting statements.
func (p *countingProxy) count(r *bufio.Reader, w *bufio.Writer) error {
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
