package wsconn

import (
	"bufio"
	"bytes"
	"testing"
)

// TestSkipControl: only whole, masked pong and ping frames are consumed;
// anything else is left to gorilla.
func TestSkipControl(t *testing.T) {
	pong := []byte{0x8A, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}
	text := []byte{0x81, 0x81, 0, 0, 0, 0, 'x'}
	for _, tc := range []struct {
		name string
		in   []byte
		want []int // results in turn
		left int   // bytes left buffered
	}{
		{"pong then text", append(append([]byte{}, pong...), text...), []int{framePong, frameOther}, len(text)},
		{"two pongs", append(append([]byte{}, pong...), pong...), []int{framePong, framePong, framePartial}, 0},
		{"half a pong", pong[:5], []int{framePartial}, 5},
		{"unmasked pong", []byte{0x8A, 0x00}, []int{frameOther}, 2},
		{"ping", []byte{0x89, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}, []int{framePing, framePartial}, 0},
		{"close", []byte{0x88, 0x80, 0, 0, 0, 0}, []int{frameOther}, 6},
		{"one byte", pong[:1], []int{framePartial}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(bytes.NewReader(tc.in), readBufferSize)
			br.Peek(len(tc.in))
			for i, want := range tc.want {
				got, payload := skipControl(br)
				if got != want {
					t.Fatalf("call %d: got %d, want %d", i, got, want)
				}
				if got == framePing && string(payload) != "hi" {
					t.Fatalf("ping payload %q, want %q", payload, "hi")
				}
			}
			if br.Buffered() != tc.left {
				t.Fatalf("%d bytes left, want %d", br.Buffered(), tc.left)
			}
		})
	}
}
