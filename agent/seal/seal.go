// Package seal encrypts what the agent keeps at rest (a job's configuration,
// arguments and submitted secret values) with AES-256-GCM under the agent's
// key file, so that the queue tables never hold them in clear.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of the AES-256 key in bytes.
const KeySize = 32

// Sealer encrypts and decrypts with one key.
type Sealer struct {
	aead cipher.AEAD
}

// LoadOrCreateKeyFile reads the hex-encoded key in path, creating the file
// (mode 0600, with a fresh random key) when it does not exist. Every agent
// that shares a queue must use the same key file.
func LoadOrCreateKeyFile(path string) (*Sealer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generate the agent key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create the directory of key file %s: %w", path, err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateKeyFile(path) // another agent created it first
		}
		if err != nil {
			return nil, fmt.Errorf("create key file %s: %w", path, err)
		}
		if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("write key file %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("write key file %s: %w", path, err)
		}
		return New(key)
	}
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("key file %s: want %d hex-encoded bytes (delete it to generate a new key, which makes queued jobs unreadable)", path, KeySize)
	}
	return New(key)
}

// New returns a Sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("agent key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("agent key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext; the result carries its random nonce.
func (s *Sealer) Seal(plaintext []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, nil), nil
}

// Open decrypts what Seal produced.
func (s *Sealer) Open(sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("open sealed job payload: too short")
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, errors.New("open sealed job payload: wrong agent key file (every agent of a queue needs the same --key-file) or corrupted data")
	}
	return out, nil
}
