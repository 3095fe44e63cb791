//go:build !linux

package wsconn

// readable cannot peek here: ready does not wait in it, and a socket's read
// loop waits in its buffered reader (a deeper stack than on Linux).
func readable(uintptr) bool { return true }

// poller: none here; every socket waits on its read loop's goroutine.
type poller struct{}

var idlePoller poller

func (poller) arm(*socket) bool { return false }
func (poller) forget(*socket)   {}
