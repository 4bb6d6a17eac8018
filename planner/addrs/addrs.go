// Package addrs defines the stable addresses of replication resources, as
// they appear in plans, state and logs:
//
//	replication.main.database["myapp"]
//	replication.main.table["myapp.public.users"]
//	replication.main.globals
//
// Addresses are values: they print with String, parse with Parse and sort
// with Less.
package addrs

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the type of a replication resource.
type Kind string

// Resource kinds, in the order a snapshot creates them.
const (
	Database     Kind = "database"
	Globals      Kind = "globals"
	Schema       Kind = "schema"
	Table        Kind = "table"
	PostData     Kind = "post_data"
	Sequences    Kind = "sequences"
	Publication  Kind = "publication"
	Slot         Kind = "slot"
	Subscription Kind = "subscription"
	Xmin         Kind = "xmin"
	// DDLCapture is the capture of DDL statements of one source database
	// (policy.capture_ddl): an event trigger and its log table on the
	// source, the log table and the trigger that replays it on the target.
	DDLCapture Kind = "ddl_capture"
	// Cutover records the progress of a cutover of one database: it is
	// written by the cutover command, never planned.
	Cutover Kind = "cutover"
)

// kindOrder ranks kinds for sorting; it follows the creation order.
var kindOrder = map[Kind]int{
	Database: 0, Globals: 1, Schema: 2, DDLCapture: 3, Publication: 4, Slot: 5, Table: 6, PostData: 7,
	Sequences: 8, Subscription: 9, Xmin: 10, Cutover: 11,
}

// keyless kinds have one instance per replication and no ["key"].
var keyless = map[Kind]bool{Globals: true}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { _, ok := kindOrder[k]; return ok }

// Addr addresses one resource of one replication block.
type Addr struct {
	Replication string
	Kind        Kind
	// Key is the database name, or "db.schema.table" for tables; empty for
	// keyless kinds such as globals.
	Key string
}

// New returns the address of a keyed resource.
func New(replication string, kind Kind, key string) Addr {
	return Addr{Replication: replication, Kind: kind, Key: key}
}

// String renders the address, e.g. replication.main.table["myapp.public.users"].
func (a Addr) String() string {
	s := "replication." + a.Replication + "." + string(a.Kind)
	if keyless[a.Kind] && a.Key == "" {
		return s
	}
	return s + "[" + strconv.Quote(a.Key) + "]"
}

// Less orders addresses by replication, kind (creation order), then key.
func (a Addr) Less(b Addr) bool {
	if a.Replication != b.Replication {
		return a.Replication < b.Replication
	}
	if a.Kind != b.Kind {
		return kindOrder[a.Kind] < kindOrder[b.Kind]
	}
	return a.Key < b.Key
}

// Parse reads an address in the form String writes. It accepts a prefix
// such as "replication.main" or "replication.main.table" as a pattern only
// through Match, not here.
func Parse(s string) (Addr, error) {
	rest, ok := strings.CutPrefix(s, "replication.")
	if !ok {
		return Addr{}, fmt.Errorf("address %q must start with \"replication.\", e.g. replication.main.table[\"myapp.public.users\"]", s)
	}
	name, rest, ok := strings.Cut(rest, ".")
	if !ok || name == "" {
		return Addr{}, fmt.Errorf("address %q: expected replication.NAME.KIND, e.g. replication.main.globals", s)
	}
	kind, key := rest, ""
	if i := strings.IndexByte(rest, '['); i >= 0 {
		if !strings.HasSuffix(rest, "]") {
			return Addr{}, fmt.Errorf("address %q: the key must end with ]", s)
		}
		kind = rest[:i]
		k, err := strconv.Unquote(rest[i+1 : len(rest)-1])
		if err != nil {
			return Addr{}, fmt.Errorf("address %q: the key must be a double-quoted string, e.g. [\"myapp\"]", s)
		}
		key = k
	}
	a := Addr{Replication: name, Kind: Kind(kind), Key: key}
	if !a.Kind.Valid() {
		return Addr{}, fmt.Errorf("address %q: unknown kind %q (kinds: %s)", s, kind, strings.Join(kindNames(), ", "))
	}
	if key == "" && !keyless[a.Kind] {
		return Addr{}, fmt.Errorf("address %q: a %s needs a key, e.g. replication.%s.%s[\"myapp\"]", s, kind, name, kind)
	}
	if key != "" && keyless[a.Kind] {
		return Addr{}, fmt.Errorf("address %q: %s takes no key; write replication.%s.%s", s, kind, name, kind)
	}
	return a, nil
}

// Match reports whether a is selected by pattern, which is a full address
// or a prefix of one: "replication.main" selects every resource of main,
// "replication.main.table" every table of main.
func Match(pattern string, a Addr) bool {
	s := a.String()
	if s == pattern {
		return true
	}
	return strings.HasPrefix(s, pattern+".") || strings.HasPrefix(s, pattern+"[")
}

// kindNames lists the kinds in creation order.
func kindNames() []string {
	names := make([]string, len(kindOrder))
	for k, i := range kindOrder {
		names[i] = string(k)
	}
	return names
}
