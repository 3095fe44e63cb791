package wsconn

import (
	"bufio"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Why an idle socket holds no goroutine.
//
// A goroutine parked inside gorilla's NextReader (NextReader, advanceFrame,
// bufio, net, internal/poll) uses more than 2 KiB of stack, so every idle
// socket's read loop would hold a 4 KiB stack, and the GC counts its used
// part in its heap goal. The runtime never shrinks it back: it shrinks a
// stack only when less than a quarter of it, plus 800 bytes of guard, is in
// use.
//
// So an idle socket waits outside gorilla: on Linux in the shared poller (one
// epoll instance and one goroutine for every socket, see idle_linux.go),
// elsewhere in a wait for readability through syscall.RawConn (a few small
// frames, on a goroutine that starts with the smallest stack). When the
// client sends something, the socket's read loop runs on a fresh goroutine:
// it consumes the pongs that answer our pings (the only frames an idle
// client sends) itself, and the pings some clients send, so they never
// wake the deep path; a message goes
// through gorilla, and once it has been handled, which grew the stack, the
// loop continues on a fresh goroutine again (see readLoop).

// readBufferSize is the socket's read buffer: more than 256 bytes, so that
// gorilla adopts the reader we hand it (see hijacker) instead of making its
// own, and room for a whole control frame (at most 131 bytes from a client).
const readBufferSize = 288 // a malloc size class

// hijacker gives gorilla a buffered reader of our own over the hijacked
// connection, so that ready can see what is buffered and skip pongs.
type hijacker struct {
	http.ResponseWriter
	br *bufio.Reader
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 { // gorilla refuses a client that sent data early
		return c, brw, err
	}
	h.br = bufio.NewReaderSize(c, readBufferSize)
	return c, bufio.NewReadWriter(h.br, brw.Writer), nil
}

// ready returns true once a frame other than a pong or a ping is buffered,
// or the connection has failed (the read that follows reports it); false
// when the socket waits in the poller, which then runs its read loop again
// (woken true: something is there to read). It notes each pong it consumes,
// and answers each ping, as gorilla's handlers would: inside gorilla's read
// path, a control frame would leave the goroutine parked there for the next
// message.
func (s *socket) ready(woken bool) bool {
	for {
		n := s.br.Buffered()
		if n > 0 {
			switch kind, payload := skipControl(s.br); kind {
			case frameOther:
				return true
			case framePong:
				s.lastPong.Store(time.Now().UnixNano())
				continue
			case framePing: // some clients ping (OkHttp's pingInterval): answer as gorilla would
				s.c.WriteControl(websocket.PongMessage, payload, time.Now().Add(time.Second))
				continue
			}
			// framePartial: wait for the rest
		}
		if s.raw == nil {
			return true
		}
		if !woken && idlePoller.arm(s) {
			return false // the poller has it now: touch nothing more
		}
		woken = false
		if s.raw.Read(readable) != nil { // readable now, or wait here on a shallow stack
			return true
		}
		if _, err := s.br.Peek(n + 1); err != nil {
			return true
		}
	}
}

const (
	frameOther = iota
	framePong
	framePing
	framePartial
)

// skipControl consumes a whole, well-formed pong or ping frame at the head
// of br (only between messages, where gorilla holds no frame state) and
// reports framePong, or framePing with the ping's payload (unmasked);
// framePartial when br holds only part of a frame that may be one;
// frameOther for anything else, which gorilla reads and checks.
func skipControl(br *bufio.Reader) (int, []byte) {
	b, _ := br.Peek(br.Buffered())
	if len(b) < 2 {
		return framePartial, nil
	}
	// FIN, no RSV bits, opcode 10 (pong) or 9 (ping); masked (as a client
	// must), and a 7-bit payload length (a control frame's is at most 125).
	if (b[0] != 0x8A && b[0] != 0x89) || b[1]&0x80 == 0 || b[1]&0x7F > 125 {
		return frameOther, nil
	}
	n := int(b[1] & 0x7F)
	if len(b) < 6+n {
		return framePartial, nil
	}
	kind, payload := framePong, []byte(nil)
	if b[0] == 0x89 {
		kind, payload = framePing, make([]byte, n)
		for i := range payload {
			payload[i] = b[6+i] ^ b[2+i%4]
		}
	}
	br.Discard(6 + n)
	return kind, payload
}

// rawConn is the connection's syscall.RawConn, for idle (nil when it has
// none: idle then returns at once and the loop waits in gorilla).
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
