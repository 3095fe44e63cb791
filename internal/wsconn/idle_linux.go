package wsconn

import "syscall"

// readable reports whether a read of fd would not block: data, the end of
// the stream or an error. syscall.RawConn.Read parks the goroutine until the
// descriptor is readable while it returns false.
func readable(fd uintptr) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n > 0 || err != syscall.EAGAIN
}
