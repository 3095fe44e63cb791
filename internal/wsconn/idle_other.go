//go:build !linux

package wsconn

// readable cannot peek here: idle does not wait, and the read loop waits
// in gorilla's read path (the only cost is a larger idle stack).
func readable(uintptr) bool { return true }
