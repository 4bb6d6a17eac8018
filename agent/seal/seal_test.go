package seal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSealRoundTripAndKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "agent.key")
	s, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi, err)
	}
	secret := []byte("password=hunter2")
	sealed, err := s.Seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed payload contains the plaintext")
	}
	again, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Open(sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "other.key"))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("another key opened the payload")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open(sealed); err == nil {
		t.Fatal("a tampered payload opened")
	}
}
