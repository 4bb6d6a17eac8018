// Package keys issues and checks the agent's API keys: a key is shown once
// when created, only its SHA-256 is stored, and a presented key is compared
// with the stored hash in constant time. Each key has a scope: read (status,
// logs, lists) or run (also submit and cancel).
package keys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/agent/store"
	"github.com/jackc/pgx/v5"
)

// Scopes.
const (
	ScopeRead = "read"
	ScopeRun  = "run"
)

// prefix starts every key, so that a leaked one is recognisable.
const prefix = "drk_"

// Key is a stored API key (never its secret).
type Key struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Allows reports whether a key of this scope may do what needs.
func (k *Key) Allows(needs string) bool {
	return needs == ScopeRead || k.Scope == ScopeRun
}

// ErrInvalid is returned for a missing, malformed, unknown or revoked key.
var ErrInvalid = errors.New("invalid or revoked API key")

// Keys reads and writes the api_keys table.
type Keys struct{ st *store.Store }

// New returns the key registry of st.
func New(st *store.Store) *Keys { return &Keys{st: st} }

// Create issues a key and returns its secret form (shown once) and record.
func (k *Keys) Create(ctx context.Context, name, scope string) (string, *Key, error) {
	if scope != ScopeRead && scope != ScopeRun {
		return "", nil, fmt.Errorf("scope %q: want read or run", scope)
	}
	idb := make([]byte, 6)
	secret := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return "", nil, fmt.Errorf("generate API key: %w", err)
	}
	if _, err := rand.Read(secret); err != nil {
		return "", nil, fmt.Errorf("generate API key: %w", err)
	}
	id := hex.EncodeToString(idb)
	plain := prefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret)
	h := sha256.Sum256([]byte(plain))
	var rec Key
	err := k.st.Pool.QueryRow(ctx, "INSERT INTO "+k.st.T("api_keys")+" (id, name, scope, hash) VALUES ($1, $2, $3, $4) RETURNING id, name, scope, created_at",
		id, name, scope, h[:]).Scan(&rec.ID, &rec.Name, &rec.Scope, &rec.CreatedAt)
	if err != nil {
		return "", nil, fmt.Errorf("store API key: %w", err)
	}
	return plain, &rec, nil
}

// List returns every key, revoked ones included.
func (k *Keys) List(ctx context.Context) ([]*Key, error) {
	rows, err := k.st.Pool.Query(ctx, "SELECT id, name, scope, created_at, revoked_at FROM "+k.st.T("api_keys")+" ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	defer rows.Close()
	var out []*Key
	for rows.Next() {
		var r Key
		if err := rows.Scan(&r.ID, &r.Name, &r.Scope, &r.CreatedAt, &r.RevokedAt); err != nil {
			return nil, fmt.Errorf("list API keys: %w", err)
		}
		out = append(out, &r)
	}
	return out, rows.Err()
}

// Revoke revokes the key with id; requests with it fail from then on.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	tag, err := k.st.Pool.Exec(ctx, "UPDATE "+k.st.T("api_keys")+" SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("no API key with id %s: 'agent keys list' shows them", id)
	}
	return nil
}

// Authenticate returns the live key whose secret is presented.
func (k *Keys) Authenticate(ctx context.Context, presented string) (*Key, error) {
	rest, ok := strings.CutPrefix(presented, prefix)
	if !ok {
		return nil, ErrInvalid
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || id == "" {
		return nil, ErrInvalid
	}
	var rec Key
	var hash []byte
	err := k.st.Pool.QueryRow(ctx, "SELECT id, name, scope, created_at, revoked_at, hash FROM "+k.st.T("api_keys")+" WHERE id = $1", id).
		Scan(&rec.ID, &rec.Name, &rec.Scope, &rec.CreatedAt, &rec.RevokedAt, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("check API key: %w", err)
	}
	h := sha256.Sum256([]byte(presented))
	if subtle.ConstantTimeCompare(h[:], hash) != 1 || rec.RevokedAt != nil {
		return nil, ErrInvalid
	}
	return &rec, nil
}
