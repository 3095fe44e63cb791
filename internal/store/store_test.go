package store

import "testing"

// TestValidID: the canonical 8-4-4-4-12 form only (the database's output),
// whatever PostgreSQL's uuid input would also accept.
func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"0b7c3f5e-2a4d-4c1e-9f7a-1d2e3f4a5b6c":          true,
		"0B7C3F5E-2A4D-4C1E-9F7A-1D2E3F4A5B6C":          true,
		"":                                              false,
		"0b7c3f5e2a4d4c1e9f7a1d2e3f4a5b6c":              false, // no dashes
		"{0b7c3f5e-2a4d-4c1e-9f7a-1d2e3f4a5b6c}":        false,
		"0b7c3f5e-2a4d-4c1e-9f7a-1d2e3f4a5b6":           false, // short
		"0b7c3f5e-2a4d-4c1e-9f7a-1d2e3f4a5b6cd":         false, // long
		"0b7c3f5e-2a4d-4c1e-9f7a1-d2e3f4a5b6c":          false, // dash moved
		"0b7c3f5g-2a4d-4c1e-9f7a-1d2e3f4a5b6c":          false, // not hex
		"urn:uuid:0b7c3f5e-2a4d-4c1e-9f7a-1d2e3f4a5b6c": false,
		"0b7c3f5e-2a4d-4c1e-9f7a-1d2e3f4a5b6\x00":       false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}
